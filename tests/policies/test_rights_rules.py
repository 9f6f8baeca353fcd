"""Rights holders' rules as data: default deny, each effect, each condition, obligations, shadow."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from policies import Audience, Decision, Outcome, Priority
from policies.rights import (
    CharacterMatch,
    CharacterTerms,
    Rule,
    RuleSpec,
    UseFacts,
    apply,
    evaluate,
)

NOW = datetime(2026, 11, 22, tzinfo=UTC)


def _published(audience: Audience = Audience.EVERYONE, labels: list[str] | None = None) -> Decision:
    return Decision(
        outcome=Outcome.PUBLISH,
        audience=audience,
        reasons=[],
        creator_message=None,
        priority=None,
        labels=labels or [],
        policy="default",
        policy_version="default@2.0.0",
        policy_digest="x",
        trace=[],
    )


def _rule(spec: dict[str, Any], version: int = 1) -> Rule:
    return Rule(f"pip@{version}", version, RuleSpec.model_validate(spec))


def _terms(
    active: Rule | None = None, shadow: Rule | None = None, clips: frozenset[str] = frozenset()
) -> dict[str, CharacterTerms]:
    return {"pip": CharacterTerms("pip", "Pip Quillfeather", "Acme Studios", active, shadow, clips)}


def _facts(audience: Audience | None = Audience.EVERYONE, **kw: Any) -> UseFacts:
    return UseFacts(audience=audience, signals=kw.pop("signals", {}), at=kw.pop("at", NOW), **kw)


SEEN = [CharacterMatch("pip", 0.95, ("image_local_features",))]


def test_no_rule_is_default_deny_naming_the_character_and_owner() -> None:
    verdict = evaluate(SEEN, _terms(), _facts())
    decision = apply(_published(), verdict)
    assert decision.outcome is Outcome.REJECT and decision.reasons == ["rights.not_licensed"]
    assert "Pip Quillfeather" in (decision.creator_message or "") and "Acme Studios" in (
        decision.creator_message or ""
    )
    assert [h.rule_id for h in decision.trace] == ["rights:pip@default-deny"]


def test_explicit_deny_rejects_and_names_the_rule_version() -> None:
    decision = apply(_published(), evaluate(SEEN, _terms(_rule({"effect": "deny"}, 3)), _facts()))
    assert decision.outcome is Outcome.REJECT and decision.trace[-1].rule_id == "rights:pip@3"


def test_unregistered_or_weak_matches_change_nothing() -> None:
    base = _published()
    assert apply(base, evaluate([CharacterMatch("other", 0.99)], _terms(), _facts())) == base
    assert apply(base, evaluate([CharacterMatch("pip", 0.3)], _terms(), _facts())) == base


def test_allow_publishes_with_obligations_and_attribution_label() -> None:
    rule = _rule({"effect": "allow", "obligations": {"attribution": "Pip © Acme", "revenue_share": "acme-7"}})
    verdict = evaluate(SEEN, _terms(rule), _facts())
    decision = apply(_published(), verdict)
    assert decision.outcome is Outcome.PUBLISH and decision.audience is Audience.EVERYONE
    assert "rights.licensed" in decision.reasons and "rights.attribution" in decision.labels
    assert verdict.obligations == [
        {"character_id": "pip", "name": "Pip Quillfeather", "owner": "Acme Studios", "rule_id": "pip@1",
         "attribution": "Pip © Acme", "revenue_share": "acme-7"}
    ]  # fmt: skip


def test_track_publishes_and_says_so() -> None:
    decision = apply(_published(), evaluate(SEEN, _terms(_rule({"effect": "track"})), _facts()))
    assert decision.outcome is Outcome.PUBLISH and decision.reasons == ["rights.tracked"]


@pytest.mark.parametrize(
    ("conditions", "facts", "failed"),
    [
        ({"audiences": ["everyone", "13+"]}, _facts(Audience.ADULT), "audience"),
        ({"excluded_contexts": ["sexual"]}, _facts(signals={"text.sexual": 0.9}), "context"),
        ({"excluded_contexts": ["violence"]}, _facts(signals={"prompt.gore": 1.0}), "context"),
        ({"official_remixes_only": True}, _facts(remix_of="someone-elses-video"), "official_remix"),
        ({"official_remixes_only": True}, _facts(), "official_remix"),
        ({"territories": ["GB", "FR"]}, _facts(territory="US"), "territory"),
        ({"territories": ["GB"]}, _facts(territory=None), "territory"),
        ({"not_after": "2026-01-01T00:00:00Z"}, _facts(), "date_range"),
        ({"not_before": "2027-01-01T00:00:00Z"}, _facts(), "date_range"),
    ],
)
def test_each_failed_condition_rejects_naming_it(
    conditions: dict[str, Any], facts: UseFacts, failed: str
) -> None:
    rule = _rule({"effect": "allow_with_conditions", "conditions": conditions})
    decision = apply(_published(facts.audience or Audience.ADULT), evaluate(SEEN, _terms(rule), facts))
    assert decision.outcome is Outcome.REJECT
    assert decision.reasons == [f"rights.condition_failed.{failed}"]
    assert decision.trace[-1].description.endswith(f"(failed: {failed})")


def test_conditions_met_publish() -> None:
    rule = _rule({
        "effect": "allow_with_conditions",
        "conditions": {"audiences": ["everyone"], "excluded_contexts": ["sexual", "violence"],
                       "official_remixes_only": True, "territories": ["GB"],
                       "not_before": "2026-01-01T00:00:00Z", "not_after": "2027-01-01T00:00:00Z"},
        "obligations": {"attribution": "Pip © Acme"},
    })  # fmt: skip
    facts = _facts(remix_of="acme-official-1", territory="GB", signals={"text.sexual": 0.1})
    decision = apply(_published(), evaluate(SEEN, _terms(rule, clips=frozenset({"acme-official-1"})), facts))
    assert decision.outcome is Outcome.PUBLISH and decision.reasons == ["rights.licensed"]


def test_on_fail_hold_sends_to_review_instead() -> None:
    rule = _rule(
        {"effect": "allow_with_conditions", "conditions": {"audiences": ["everyone"], "on_fail": "hold"}}
    )
    decision = apply(_published(Audience.TEEN), evaluate(SEEN, _terms(rule), _facts(Audience.TEEN)))
    assert decision.outcome is Outcome.HOLD and decision.reasons == ["rights.condition_failed.audience"]
    assert decision.priority is Priority.NORMAL and decision.audience is None


def test_ambiguous_match_is_held_with_no_rule_but_published_when_allowed() -> None:
    weak = [CharacterMatch("pip", 0.6, ("prompt_name",))]
    held = apply(_published(), evaluate(weak, _terms(), _facts()))
    assert held.outcome is Outcome.HOLD and held.reasons == ["rights.ambiguous"]
    allowed = apply(_published(), evaluate(weak, _terms(_rule({"effect": "allow"})), _facts()))
    assert allowed.outcome is Outcome.PUBLISH


def test_rights_never_loosen_a_policy_rejection_and_keep_its_reasons() -> None:
    rejected = _published().model_copy(
        update={
            "outcome": Outcome.REJECT,
            "audience": None,
            "reasons": ["teen.sexual"],
            "creator_message": "No.",
        }
    )
    decision = apply(rejected, evaluate(SEEN, _terms(), _facts(None)))
    assert decision.outcome is Outcome.REJECT
    assert decision.reasons == ["teen.sexual", "rights.not_licensed"]
    assert (decision.creator_message or "").startswith("No. This video uses Pip")


def test_shadow_rule_is_evaluated_beside_the_active_one_but_never_acts() -> None:
    active, shadow = _rule({"effect": "allow"}, 1), _rule({"effect": "deny"}, 2)
    verdict = evaluate(SEEN, _terms(active, shadow), _facts())
    decision = apply(_published(), verdict)
    assert decision.outcome is Outcome.PUBLISH
    assert [(h.rule_id, h.mode, h.action) for h in decision.shadow] == [("rights:pip@2", "shadow", "reject")]


@pytest.mark.parametrize(
    "spec",
    [
        {"effect": "allow_with_conditions"},
        {"effect": "allow", "conditions": {"audiences": ["everyone"]}},
        {"effect": "deny", "obligations": {"attribution": "x"}},
        {"effect": "maybe"},
        {"effect": "allow_with_conditions", "conditions": {"territories": ["gb"]}},
        {"effect": "allow_with_conditions", "conditions": {"excluded_contexts": ["cute"]}},
        {
            "effect": "allow_with_conditions",
            "conditions": {"not_before": "2027-01-01T00:00:00Z", "not_after": "2026-01-01T00:00:00Z"},
        },
        {"effect": "allow", "obligations": {"revenue_share": "has spaces"}},
        {"effect": "allow", "surprise": 1},
    ],
)
def test_invalid_rules_are_refused(spec: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        RuleSpec.model_validate(spec)

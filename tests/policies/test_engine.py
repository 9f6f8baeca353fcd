"""The policy engine on the packaged default policy and on small inline policies."""

from __future__ import annotations

import pytest

from policies import Audience, Facts, Outcome, PolicyEngine, PolicyError, Priority, load_policy, parse_policy


@pytest.fixture(scope="module")
def engine() -> PolicyEngine:
    return PolicyEngine(load_policy())


def adult(**signals: float) -> Facts:
    return Facts({f"prompt.{k}": v for k, v in signals.items()}, {"creator.age_band": "adult"})


def teen(**signals: float) -> Facts:
    return Facts({f"prompt.{k}": v for k, v in signals.items()}, {"creator.age_band": "teen"})


def test_no_signals_publishes_to_everyone(engine: PolicyEngine) -> None:
    d = engine.decide(adult())
    assert (d.outcome, d.audience, d.trace) == (Outcome.PUBLISH, Audience.EVERYONE, [])
    assert d.policy_version == "feedguard-default@1.0.0"


def test_violence_is_rated_13_plus_with_the_rule_and_value_recorded(engine: PolicyEngine) -> None:
    d = engine.decide(adult(violence=0.6))
    assert (d.outcome, d.audience) == (Outcome.PUBLISH, Audience.TEEN)
    assert [h.rule_id for h in d.trace] == ["rate.violence"]
    assert d.trace[0].matched[0].name == "prompt.violence"
    assert d.trace[0].matched[0].actual == 0.6
    assert "mature.violence" in d.labels


def test_strictest_audience_wins(engine: PolicyEngine) -> None:
    d = engine.decide(adult(violence=0.6, gore=0.9))
    assert d.audience is Audience.ADULT


def test_sexual_content_with_a_minor_is_rejected_with_a_message(engine: PolicyEngine) -> None:
    d = engine.decide(adult(sexual=0.9, minor=0.9))
    assert d.outcome is Outcome.REJECT
    assert d.reasons == ["minor_safety.sexualization"]
    assert d.creator_message and "minor" in d.creator_message
    assert d.audience is None


def test_teen_creator_rules(engine: PolicyEngine) -> None:
    assert engine.decide(teen(sexual=0.9)).outcome is Outcome.REJECT
    held = engine.decide(teen(gore=0.9))  # 18+ rating by a teen: a person decides
    assert held.outcome is Outcome.HOLD
    assert held.reasons == ["teen_creator.adult_rating"]
    assert held.priority is Priority.HIGH
    # The same gore prompt by an adult is simply 18+.
    assert engine.decide(adult(gore=0.9)).audience is Audience.ADULT


def test_self_harm_is_held_urgently(engine: PolicyEngine) -> None:
    d = engine.decide(adult(self_harm=0.9))
    assert (d.outcome, d.priority) == (Outcome.HOLD, Priority.URGENT)


def test_reject_beats_hold(engine: PolicyEngine) -> None:
    d = engine.decide(adult(self_harm=0.9, dangerous=0.9))
    assert d.outcome is Outcome.REJECT
    assert d.reasons == ["dangerous_acts"]
    assert {h.rule_id for h in d.trace} == {"hold.self_harm", "reject.dangerous_instructions"}


def test_shadow_rule_is_recorded_but_does_not_act(engine: PolicyEngine) -> None:
    d = engine.decide(teen(sexual=0.4))
    assert d.outcome is Outcome.PUBLISH
    assert [h.rule_id for h in d.shadow] == ["shadow.weak_suggestive"]
    assert d.shadow[0].mode == "shadow"


POLICY = """\
policy: t
version: "1.0.0"
rules:
  - id: r1
    description: ok
    when: {signal: s, gte: 0.5}
    then: {action: hold, reasons: [x]}
"""


def test_not_and_any_conditions() -> None:
    text = POLICY.replace(
        "when: {signal: s, gte: 0.5}",
        "when: {all: [{any: [{signal: a, gte: 0.5}, {signal: b, gte: 0.5}]},"
        " {not: {fact: remix, eq: true}}]}",
    )
    e = PolicyEngine(parse_policy(text))
    assert e.decide(Facts({"b": 0.7}, {"remix": False})).outcome is Outcome.HOLD
    assert e.decide(Facts({"b": 0.7}, {"remix": True})).outcome is Outcome.PUBLISH
    assert e.decide(Facts({"a": 0.1}, {"remix": False})).outcome is Outcome.PUBLISH


@pytest.mark.parametrize(
    ("bad", "line", "fragment"),
    [
        ("    then: {action: hold, reasons: [x]}", 7, "then.action"),
        ("    when: {signal: s, gte: 0.5}", 6, "exactly one"),
        ('version: "1.0.0"', 2, "version"),
    ],
)
def test_invalid_policy_fails_at_load_with_its_line(bad: str, line: int, fragment: str) -> None:
    replacement = {
        "    then: {action: hold, reasons: [x]}": "    then: {action: hodl, reasons: [x]}",
        "    when: {signal: s, gte: 0.5}": "    when: {signal: s, gte: 0.5, lt: 0.9}",
        'version: "1.0.0"': "version: one",
    }[bad]
    with pytest.raises(PolicyError) as err:
        parse_policy(POLICY.replace(bad, replacement), "p.yaml")
    assert err.value.line == line, str(err.value)
    assert fragment in str(err.value)
    assert str(err.value).startswith(f"p.yaml:{line}:")


def test_yaml_syntax_error_names_the_line() -> None:
    with pytest.raises(PolicyError) as err:
        parse_policy(POLICY + "  - id: [unclosed\n", "p.yaml")
    assert err.value.line is not None and err.value.line >= 8


def test_unknown_fact_is_a_wiring_error() -> None:
    text = POLICY.replace("when: {signal: s, gte: 0.5}", "when: {fact: creator.shoe_size, gte: 40}")
    with pytest.raises(ValueError, match=r"creator\.shoe_size"):
        PolicyEngine(parse_policy(text))


def test_reject_needs_a_creator_message() -> None:
    with pytest.raises(PolicyError, match="message"):
        parse_policy(
            POLICY.replace("then: {action: hold, reasons: [x]}", "then: {action: reject, reasons: [x]}")
        )


def test_duplicate_rule_ids_are_refused() -> None:
    dup = POLICY + POLICY.split("rules:\n", 1)[1]
    with pytest.raises(PolicyError, match="duplicate rule id"):
        parse_policy(dup)

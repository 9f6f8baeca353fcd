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
    assert d.policy_version == "feedguard-default@3.3.0"


def test_violence_is_rated_13_plus_with_the_rule_and_value_recorded(engine: PolicyEngine) -> None:
    d = engine.decide(Facts({"prompt.violence": 0.6, "text.violence": 0.4}, {"creator.age_band": "adult"}))
    assert (d.outcome, d.audience) == (Outcome.PUBLISH, Audience.TEEN)
    assert [h.rule_id for h in d.trace] == ["rate.violence"]
    matched = [(m.name, m.actual) for m in d.trace[0].matched]
    assert matched == [("prompt.violence", 0.6), ("text.violence", 0.4)]
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


def self_harm(score: float = 0.9) -> Facts:
    return Facts({"prompt.self_harm": score, "text.self_harm": 0.9}, {"creator.age_band": "adult"})


def test_self_harm_is_held_urgently(engine: PolicyEngine) -> None:
    d = engine.decide(self_harm())
    assert (d.outcome, d.priority) == (Outcome.HOLD, Priority.URGENT)


def test_reject_beats_hold(engine: PolicyEngine) -> None:
    facts = self_harm()
    d = engine.decide(Facts({**facts.signals, "prompt.dangerous": 0.9}, facts.context))
    assert d.outcome is Outcome.REJECT
    assert d.reasons == ["dangerous_acts"]
    rules = {h.rule_id for h in d.trace}
    assert rules == {"rate.self_harm", "hold.self_harm", "reject.dangerous_instructions"}


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


def facts(age_band: str = "adult", **signals: float) -> Facts:
    """Signals by full name with dots written as double underscores: frames__sexual=0.9."""
    return Facts({k.replace("__", "."): v for k, v in signals.items()}, {"creator.age_band": age_band})


def test_possible_minor_with_any_sexual_score_is_held_urgently_never_published(engine: PolicyEngine) -> None:
    d = engine.decide(facts(frames__minor_likely=0.6, frames__sexual=0.35))
    assert (d.outcome, d.priority) == (Outcome.HOLD, Priority.URGENT)
    assert "minor_safety.possible_minor_sexual" in d.reasons
    # The same weak sexual score without a possible minor publishes to everyone.
    assert engine.decide(facts(frames__minor_likely=0.1, frames__sexual=0.35)).outcome is Outcome.PUBLISH


def test_possible_minor_in_adult_rated_content_is_held(engine: PolicyEngine) -> None:
    d = engine.decide(facts(frames__minor_likely=0.7, prompt__gore=0.9))
    assert d.outcome is Outcome.HOLD and "minor_safety.possible_minor_adult_content" in d.reasons


def test_the_classifier_alone_holds_but_never_rejects(engine: PolicyEngine) -> None:
    for signal, reason in [
        ("text__dangerous_acts", "dangerous_acts.review"),
        ("text__sexual_minors", "minor_safety.possible_sexualization"),
    ]:
        d = engine.decide(facts(**{signal: 0.99}))
        assert d.outcome is Outcome.HOLD and reason in d.reasons, d
    # With the precise regex screen agreeing, it is a rejection.
    assert engine.decide(facts(text__dangerous_acts=0.99, prompt__dangerous=0.9)).outcome is Outcome.REJECT


def test_frames_between_safe_and_nsfw_points_are_held_and_above_are_adult(engine: PolicyEngine) -> None:
    assert engine.decide(facts(frames__sexual=0.6)).reasons == ["sexual.uncertain_frames"]
    d = engine.decide(facts(frames__sexual=0.9))
    assert (d.outcome, d.audience) == (Outcome.PUBLISH, Audience.ADULT)
    assert engine.decide(facts("teen", frames__sexual=0.9)).outcome is Outcome.REJECT


def test_teen_with_classifier_sexual_score_goes_to_a_person(engine: PolicyEngine) -> None:
    d = engine.decide(facts("teen", text__sexual=0.6))
    assert d.outcome is Outcome.HOLD and d.reasons == ["teen_creator.adult_rating"]
    assert engine.decide(facts("adult", text__sexual=0.6)).audience is Audience.ADULT

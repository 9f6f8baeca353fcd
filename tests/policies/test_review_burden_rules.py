"""The default policy's review-burden rules (issue 17): moderate prompt-only evidence restricts or labels,
urgent holds need high confidence or corroboration, anything hinting at sexualised minors is held, and
each text threshold is the operating point its comment names."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from policies import Audience, Facts, Outcome, PolicyEngine, Priority, load_policy
from policies.loader import DEFAULT_POLICY

HEAD = "classifiers/models/prompt_head.json"


@pytest.fixture(scope="module")
def engine() -> PolicyEngine:
    return PolicyEngine(load_policy())


def decide(
    engine: PolicyEngine, **signals: float
) -> tuple[Outcome, Audience | None, Priority | None, list[str]]:
    facts = Facts({k.replace("__", "."): v for k, v in signals.items()}, {"creator.age_band": "adult"})
    d = engine.decide(facts)
    return d.outcome, d.audience, d.priority, d.labels


def test_moderate_prompt_only_self_harm_restricts_instead_of_an_urgent_review(engine: PolicyEngine) -> None:
    # above the classifier leaf (0.75 since 3.2.0), below anything that holds
    outcome, audience, _, labels = decide(engine, text__self_harm=0.8)
    assert (outcome, audience) == (Outcome.PUBLISH, Audience.ADULT)
    assert "resources.self_harm" in labels
    # the lexicon's second tier (methods told as acts) restricts the same way, with no review
    assert decide(engine, prompt__self_harm=0.6)[:2] == (Outcome.PUBLISH, Audience.ADULT)
    assert decide(engine, text__self_harm=0.7)[:2] == (Outcome.PUBLISH, Audience.EVERYONE)


def test_explicit_self_harm_phrases_are_held_urgently_the_classifier_alone_restricts(
    engine: PolicyEngine,
) -> None:
    outcome, _, priority, _ = decide(engine, text__self_harm=0.05, prompt__self_harm=0.9)
    assert (outcome, priority) == (Outcome.HOLD, Priority.URGENT)
    # the classifier alone, however sure, restricts: it held benign VAL prompts at P95
    assert decide(engine, text__self_harm=0.99)[:2] == (Outcome.PUBLISH, Audience.ADULT)


def test_prevention_talk_gets_resources_not_a_restriction(engine: PolicyEngine) -> None:
    outcome, audience, _, labels = decide(
        engine, prompt__self_harm=0.9, prompt__support=0.9, text__self_harm=0.2
    )
    assert (outcome, audience) == (Outcome.PUBLISH, Audience.EVERYONE)
    assert labels == ["resources.self_harm"]


def test_everyday_violent_words_need_the_classifier_to_agree(engine: PolicyEngine) -> None:
    assert decide(engine, prompt__violence=0.6, text__violence=0.1)[:2] == (
        Outcome.PUBLISH,
        Audience.EVERYONE,
    )
    assert decide(engine, prompt__violence=0.6, text__violence=0.4)[:2] == (Outcome.PUBLISH, Audience.TEEN)
    assert decide(engine, text__violence=0.8)[:2] == (Outcome.PUBLISH, Audience.TEEN)  # violent, below F95
    assert decide(engine, text__violence=0.95)[:2] == (Outcome.PUBLISH, Audience.ADULT)  # graphic
    assert decide(engine, prompt__gore=0.4)[:2] == (Outcome.PUBLISH, Audience.EVERYONE)  # "blood orange"
    assert decide(engine, prompt__gore=0.9)[:2] == (Outcome.PUBLISH, Audience.ADULT)


def test_kids_play_fighting_is_not_an_urgent_hold(engine: PolicyEngine) -> None:
    assert decide(engine, prompt__minor=0.9, prompt__violence=0.6, text__violence=0.2)[0] == Outcome.PUBLISH
    outcome, _, priority, _ = decide(engine, prompt__minor=0.9, prompt__gore=0.9)
    assert (outcome, priority) == (Outcome.HOLD, Priority.URGENT)


@pytest.mark.parametrize(
    "signals",
    [
        {"text__sexual_minors": 0.5},
        {"prompt__minor": 0.9, "text__sexual": 0.25},
        {"prompt__sexual": 0.6, "text__sexual_minors": 0.25},
        {"frames__minor_likely": 0.6, "frames__sexual": 0.35},
        # fail closed: a weak sexual word ("kissing", "explicit": weight 0.4) or a low classifier score next
        # to any minor word is held, although neither rates anything on its own
        {"prompt__minor": 0.9, "prompt__sexual": 0.4},
        {"prompt__minor": 0.7, "text__sexual": 0.12},
        {"text__sexual_minors": 0.25},
    ],
)
def test_any_sign_of_a_sexualised_minor_is_never_published(
    engine: PolicyEngine, signals: dict[str, float]
) -> None:
    outcome, _, priority, _ = decide(engine, **signals)
    assert outcome is not Outcome.PUBLISH
    assert outcome is Outcome.REJECT or priority is Priority.URGENT


def test_weak_sexual_words_alone_change_nothing(engine: PolicyEngine) -> None:
    assert decide(engine, prompt__sexual=0.4)[:2] == (Outcome.PUBLISH, Audience.EVERYONE)
    assert decide(engine, prompt__sexual=0.4, text__sexual=0.12)[:2] == (Outcome.PUBLISH, Audience.EVERYONE)


def test_the_lexicon_reads_weak_sexual_words_and_minors_in_other_languages() -> None:
    from classifiers import DetectorInput, PromptScreen, TextInput

    screen = PromptScreen(**load_policy().document.detectors["prompt_screen"])

    def scores(text: str) -> dict[str, float]:
        return {s.name: s.score for s in screen.detect(DetectorInput(text=TextInput(text)))}

    assert scores("two people kissing on a bench")["prompt.sexual"] == 0.4
    assert scores("criança brincando no parque")["prompt.minor"] == 0.9
    assert scores("a fillette at the beach")["prompt.minor"] == 0.9
    assert scores("a bowl of ramen")["prompt.sexual"] == 0.0


def test_dangerous_acts_label_when_moderate_and_hold_when_sure(engine: PolicyEngine) -> None:
    outcome, audience, _, labels = decide(engine, text__dangerous_acts=0.5)
    assert (outcome, audience, labels) == (Outcome.PUBLISH, Audience.EVERYONE, ["audit.dangerous_possible"])
    assert decide(engine, text__dangerous_acts=0.95)[:3] == (Outcome.HOLD, None, Priority.NORMAL)


def test_every_text_threshold_is_the_operating_point_its_comment_names() -> None:
    """A comment "# P90 (precision 0.90, recall ...)" must match the packaged head's measured CALIB point,
    "# F90 (...)" its out-of-fold point on the feed captions (benchmarks/feed_validation.py)."""
    head = json.loads(Path(HEAD).read_text(encoding="utf-8"))
    points = {
        "P": head["operating_points"]["points"],
        "F": head.get("feed_operating_points", {}).get("points", {}),
    }
    text = Path(f"policies/files/{DEFAULT_POLICY}").read_text(encoding="utf-8")
    leaves = re.findall(r"\{signal: text\.(\w+), gte: ([0-9.]+)\}\s*#\s*([PF])(\d\d)\b([^\n]*)", text)
    assert len(leaves) >= 10
    for category, threshold, kind, target, comment in leaves:
        point = points[kind][category][f"{kind.lower()}{target}"]
        assert float(threshold) == point["threshold"], (category, target)
        precision = re.search(r"precision ([0-9.]+)", comment)
        if precision:
            assert float(precision.group(1)) == pytest.approx(point["precision"], abs=0.006), (
                category,
                target,
            )
    unexplained = [
        line
        for line in text.splitlines()
        if re.search(r"signal: text\.\w+, gte:", line) and "#" not in line and "below P80" not in line
    ]
    assert unexplained == []


def test_the_classifier_alone_rates_violence_13_plus_only_above_its_3_3_0_leaf(engine: PolicyEngine) -> None:
    """3.3.0 raised the text.violence 13+ leaf from 0.74 to 0.80 (EVAL2 benign restrictions over budget)."""
    assert decide(engine, text__violence=0.78)[:2] == (Outcome.PUBLISH, Audience.EVERYONE)
    assert decide(engine, text__violence=0.82)[:2] == (Outcome.PUBLISH, Audience.TEEN)
    # the lexicon's named fights still rate 13+ alone
    assert decide(engine, prompt__violence=0.75)[:2] == (Outcome.PUBLISH, Audience.TEEN)

"""Prompts that say nothing (a file name, "clip number 15", a lone number or letter) carry no evidence of
harm, so the default policy must publish them to everyone, with real inference.

Reproduces a false alarm found by the two-worker test: "clip number 15" was held urgently as
``minor_safety.possible_sexualization`` (text.sexual 0.31, text.sexual_minors 0.23), "clip number 14"
scored text.self_harm 0.75 (18+), and "15" alone scored text.sexual_minors 0.85.
"""

from __future__ import annotations

import random

import pytest

from classifiers import DetectorInput, PromptScreen, TextInput
from classifiers.prompt_classifier import PromptClassifier
from policies import Audience, Facts, Outcome, PolicyEngine, load_policy

NOUNS = [
    "clip",
    "video",
    "take",
    "scene",
    "shot",
    "episode",
    "draft",
    "render",
    "part",
    "test",
    "reel",
    "cut",
]
SHAPES = [
    "{n} {i}",
    "{n} number {i}",
    "{n} #{i}",
    "{n}_{i:03d}",
    "{i}",
    "{n} {i} final",
    "my {n} {i}",
    "{n} v{i}",
]


def content_free(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    out = {s.format(n=rng.choice(NOUNS), i=rng.randrange(0, 100)) for s in SHAPES for _ in range(count)}
    out |= {f"IMG_{rng.randrange(1000, 9999)}", f"VID_{rng.randrange(10**7, 10**8)}.mp4"}
    out |= set("abcxyz") | {str(i) for i in range(10, 19)}
    return sorted(out)


@pytest.fixture(scope="module")
def judge() -> tuple[PromptClassifier, PromptScreen, PolicyEngine]:
    policy = load_policy()
    return (
        PromptClassifier(threads=2),
        PromptScreen(**policy.document.detectors["prompt_screen"]),
        PolicyEngine(policy),
    )


def test_content_free_prompts_are_published_to_everyone(
    judge: tuple[PromptClassifier, PromptScreen, PolicyEngine],
) -> None:
    clf, screen, engine = judge
    wrong = []
    for prompt in content_free(seed=17, count=6):
        data = DetectorInput(text=TextInput(prompt, None))
        signals = {s.name: s.score for s in [*clf.detect(data), *screen.detect(data)]}
        decision = engine.decide(Facts(signals, {"creator.age_band": "adult"}))
        if (decision.outcome, decision.audience) != (Outcome.PUBLISH, Audience.EVERYONE):
            high = {k: round(v, 2) for k, v in signals.items() if v >= 0.15}
            wrong.append(f"{prompt!r}: {decision.outcome.value} {decision.audience} {high}")
    assert not wrong, "\n".join(wrong)

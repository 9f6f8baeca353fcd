"""Review burden and catch rate: prompts -> real detectors -> real policy engine -> outcome.

Shared by ``benchmarks/eval_review_burden.py`` (the headline table) and ``scripts/train_prompt_classifier.py``
(threshold choice on VAL). A prompt is judged the way the platform would judge a video with that prompt
on a benign clip: prompt screen + prompt classifier signals, plus the frame signals ``feedguard scan``
measured on a benign clip, decided by ``PolicyEngine``.

Outcomes: **held** (any hold), **restricted** (published at 13+ or 18+), **rejected**. Catch rules per harm
category (what "caught" means):

* ``sexual`` (adult): kept from everyone = not published to ``everyone`` or ``13+``;
* ``sexual_minors``: never published (held or rejected);
* ``self_harm``, ``graphic_violence``: kept from everyone = not published to ``everyone``
  (``strict`` also requires adults-only or not published).

Intervals are 95% bootstrap intervals resampling whole seed groups (a seed's variants are not independent).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from policies import Facts, PolicyEngine

HARM = ("sexual", "sexual_minors", "self_harm", "graphic_violence")


@dataclass
class Verdict:
    outcome: str  # published | held | rejected
    audience: str | None
    priority: str | None
    rules: list[str] = field(default_factory=list)


def decide(engine: PolicyEngine, signals: dict[str, float], age_band: str = "adult") -> Verdict:
    d = engine.decide(
        Facts(
            signals, {"creator.age_band": age_band, "creator.id": "eval", "cameos.count": 0, "remix": False}
        )
    )
    return Verdict(
        d.outcome.value,
        d.audience.value if d.audience else None,
        d.priority.value if d.priority else None,
        [h.rule_id for h in d.trace],
    )


def caught(label: str, v: Verdict, strict: bool = False) -> bool:
    if label == "sexual_minors":
        return v.outcome != "published"
    if label == "sexual" or strict:
        return v.outcome != "published" or v.audience == "18+"
    return v.outcome != "published" or v.audience != "everyone"


def _grouped_ci(values: Sequence[float], groups: Sequence[str], n: int = 1000) -> tuple[float, float]:
    if not values:
        return (float("nan"), float("nan"))
    by: dict[str, list[float]] = {}
    for v, g in zip(values, groups, strict=True):
        by.setdefault(g, []).append(v)
    sums = np.array([sum(v) for v in by.values()])
    counts = np.array([len(v) for v in by.values()])
    rng = np.random.default_rng(0)
    idx = rng.integers(0, len(sums), (n, len(sums)))
    rates = sums[idx].sum(axis=1) / counts[idx].sum(axis=1)
    return float(np.percentile(rates, 2.5)), float(np.percentile(rates, 97.5))


def rate(flags: Sequence[bool], groups: Sequence[str]) -> dict[str, float]:
    vals = [1.0 if f else 0.0 for f in flags]
    lo, hi = _grouped_ci(vals, groups)
    return {"rate": float(np.mean(vals)) if vals else float("nan"), "lo": lo, "hi": hi, "n": len(vals)}


def summarise(rows: Sequence[dict[str, Any]], verdicts: Sequence[Verdict]) -> dict[str, Any]:
    """Headline metrics: per-1,000 burden on benign rows, catch rate per harm category."""
    benign = [(r, v) for r, v in zip(rows, verdicts, strict=True) if r["label"] == "benign"]
    groups = [r["group"] for r, _ in benign]
    out: dict[str, Any] = {
        "benign": {
            "n": len(benign),
            "seed_groups": len(set(groups)),
            "held": rate([v.outcome == "held" for _, v in benign], groups),
            "held_urgent": rate([v.outcome == "held" and v.priority == "urgent" for _, v in benign], groups),
            "restricted": rate(
                [v.outcome == "published" and v.audience != "everyone" for _, v in benign], groups
            ),
            "restricted_18": rate(
                [v.outcome == "published" and v.audience == "18+" for _, v in benign], groups
            ),
            "rejected": rate([v.outcome == "rejected" for _, v in benign], groups),
            "false_alarm_rules": dict(
                Counter(
                    rule for _, v in benign for rule in v.rules if not rule.startswith("label.")
                ).most_common(12)
            ),
        },
        "harm": {},
    }
    empty = [(r, v) for r, v in zip(rows, verdicts, strict=True) if r["label"] == "content_free"]
    if empty:  # file names and the like: nothing to see, so anything but "published to everyone" is wrong
        g = [r["group"] for r, _ in empty]
        out["content_free"] = {
            "n": len(empty),
            "not_published_to_everyone": rate(
                [not (v.outcome == "published" and v.audience == "everyone") for _, v in empty], g
            ),
        }
    for label in HARM:
        hits = [(r, v) for r, v in zip(rows, verdicts, strict=True) if r["label"] == label]
        g = [r["group"] for r, _ in hits]
        out["harm"][label] = {
            "caught": rate([caught(label, v) for _, v in hits], g),
            "strict": rate([caught(label, v, strict=True) for _, v in hits], g),
            "outcomes": dict(Counter(f"{v.outcome}:{v.audience or v.priority}" for _, v in hits)),
        }
    return out


def examples(
    rows: Sequence[dict[str, Any]],
    verdicts: Sequence[Verdict],
    want: Callable[[dict[str, Any], Verdict], bool],
    limit: int = 15,
) -> list[str]:
    return [
        f"{r['text']}  ->  {v.outcome} {v.audience or v.priority} ({', '.join(v.rules)})"
        for r, v in zip(rows, verdicts, strict=True)
        if want(r, v)
    ][:limit]

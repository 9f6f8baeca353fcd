"""``feedguard calibrate``: re-fit hold thresholds and signal calibration from moderators' labels.

Each label says what a moderator decided about an item a rule held (``safety/review/learning.py``). For every
enforced ``hold`` rule and each ``{signal: S, gte: T}`` leaf in it, the labels of items that rule held give
(score of S, harmful?) pairs, where *harmful* means the moderator rejected the video. With at least
``min_samples`` of them we report the rule's measured precision (with a Wilson 95% interval) and, when
it is below the target, the lowest threshold at or above ``T`` whose precision reaches the target. Labels
only exist for held items, so thresholds can only be **raised** from them (nothing is known below ``T``).
Per signal, Platt calibration (score -> P(harmful | held)) is re-fitted on all its labels.

Rules whose hold reasons are minor safety (``minor_safety.*``) are measured but **never loosened**: the
goal there is that nothing is published automatically, and a moderator approving many such holds is the
price of that, not a reason to hold fewer. Per hold-reason category (``self_harm``, ``hate``, ...) the
report also gives the pooled precision of all its labels with a Wilson interval.

The result is a **candidate** policy file (same text, thresholds edited in place, patch version bumped) and
a report; nothing is activated. Run it in shadow (``FEEDGUARD_SHADOW_POLICY_FILE``) and check it with
``feedguard policy replay --policy CANDIDATE`` before making it the policy.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from classifiers.calibration import fit_platt
from policies import LoadedPolicy
from policies.loader import parse_policy
from policies.model import AllOf, AnyOf, Condition, Not, SignalCondition

MIN_SAMPLES = 30
TARGET_PRECISION = 0.9
# Fail closed: holds for these reasons are never relaxed from labels (a person must look at every one).
PROTECTED_REASONS = ("minor_safety.",)


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval for k successes out of n."""
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def _gte_leaves(cond: Condition) -> list[SignalCondition]:
    if isinstance(cond, AllOf):
        return [leaf for c in cond.all for leaf in _gte_leaves(c)]
    if isinstance(cond, AnyOf):
        return [leaf for c in cond.any for leaf in _gte_leaves(c)]
    if isinstance(cond, Not):
        return []
    if isinstance(cond, SignalCondition) and cond.gte is not None:
        return [cond]
    return []


@dataclass
class RuleFit:
    rule_id: str
    signal: str
    threshold: float
    n: int
    harmful: int
    restricted: int
    benign: int
    precision: float
    interval: tuple[float, float]
    proposed: float | None = None  # new threshold, when one is proposed
    proposed_precision: float | None = None
    proposed_interval: tuple[float, float] | None = None
    held_after: int | None = None  # labelled items the proposed threshold still holds
    note: str = ""


@dataclass
class CalibrateReport:
    labels: int
    usable: int
    min_samples: int
    target_precision: float
    fits: list[RuleFit] = field(default_factory=list)
    categories: dict[str, dict[str, Any]] = field(default_factory=dict)
    calibration: dict[str, dict[str, Any]] = field(default_factory=dict)
    candidate_version: str | None = None

    @property
    def changes(self) -> list[RuleFit]:
        return [f for f in self.fits if f.proposed is not None]

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "changes": [asdict(f) for f in self.changes]}


def fit_rules(
    labels: Sequence[dict[str, Any]],
    policy: LoadedPolicy,
    min_samples: int = MIN_SAMPLES,
    target_precision: float = TARGET_PRECISION,
) -> CalibrateReport:
    usable = [lab for lab in labels if lab["verdict"] in ("benign", "restrict", "harmful")]
    report = CalibrateReport(len(labels), len(usable), min_samples, target_precision)
    for rule in policy.document.rules:
        if rule.then.action != "hold" or rule.mode == "shadow":
            continue
        protected = any(r.startswith(PROTECTED_REASONS) for r in rule.then.reasons)
        for leaf in _gte_leaves(rule.when):
            assert leaf.gte is not None
            t = float(leaf.gte)
            pairs = [
                (float(lab["signals"].get(leaf.signal, 0.0)), lab["verdict"])
                for lab in usable
                if rule.id in lab["rules"] and float(lab["signals"].get(leaf.signal, 0.0)) >= t
            ]
            if not pairs:
                continue
            k = sum(v == "harmful" for _, v in pairs)
            fit = RuleFit(
                rule.id,
                leaf.signal,
                t,
                len(pairs),
                k,
                sum(v == "restrict" for _, v in pairs),
                sum(v == "benign" for _, v in pairs),
                k / len(pairs),
                wilson(k, len(pairs)),
            )
            report.fits.append(fit)
            if len(pairs) < min_samples:
                fit.note = f"fewer than {min_samples} labels: no change"
                continue
            if protected:
                fit.note = "minor safety: measured, never loosened automatically"
                continue
            if fit.precision >= target_precision:
                fit.note = "meets the target precision: no change"
                continue
            for cut in sorted({s for s, _ in pairs}):
                kept = [v for s, v in pairs if s >= cut]
                hits = sum(v == "harmful" for v in kept)
                if hits and hits / len(kept) >= target_precision:
                    fit.proposed = round(max(cut, t + 0.01), 4)
                    fit.proposed_precision = hits / len(kept)
                    fit.proposed_interval = wilson(hits, len(kept))
                    fit.held_after = len(kept)
                    fit.note = "raise the threshold"
                    break
            else:
                fit.note = "no threshold reaches the target: consider restricting instead of holding"
    report.categories = fit_categories(usable, policy, min_samples)
    report.calibration = fit_calibration(usable, min_samples)
    return report


def fit_categories(
    labels: Iterable[dict[str, Any]], policy: LoadedPolicy, min_samples: int
) -> dict[str, dict[str, Any]]:
    """Pooled precision per hold-reason category (``self_harm.review`` -> ``self_harm``), each label once."""
    reasons = {r.id: r.then.reasons for r in policy.document.rules if r.then.action == "hold"}
    by: dict[str, list[str]] = {}
    for lab in labels:
        cats = {reason.split(".")[0] for rid in lab["rules"] for reason in reasons.get(rid, [])}
        for cat in cats:
            by.setdefault(cat, []).append(lab["verdict"])
    out: dict[str, dict[str, Any]] = {}
    for cat, verdicts in sorted(by.items()):
        k, n = sum(v == "harmful" for v in verdicts), len(verdicts)
        out[cat] = {
            "n": n,
            "harmful": k,
            "restrict": sum(v == "restrict" for v in verdicts),
            "benign": sum(v == "benign" for v in verdicts),
            "precision": k / n,
            "interval": wilson(k, n),
            "enough": n >= min_samples,
        }
    return out


def fit_calibration(labels: Iterable[dict[str, Any]], min_samples: int) -> dict[str, dict[str, Any]]:
    """Per signal, Platt scaling of its score to P(harmful | held) on every label that carries it."""
    by_signal: dict[str, list[tuple[float, int]]] = {}
    for lab in labels:
        for name, score in lab["signals"].items():
            if float(score) >= 0.05:
                by_signal.setdefault(name, []).append((float(score), int(lab["verdict"] == "harmful")))
    out: dict[str, dict[str, Any]] = {}
    for name, pairs in sorted(by_signal.items()):
        ys = [y for _, y in pairs]
        if len(pairs) < min_samples or not 0 < sum(ys) < len(ys):
            continue
        cal = fit_platt(
            [s for s, _ in pairs], ys, fitted_on=f"{len(pairs)} moderator labels (held items only)"
        )
        out[name] = {**cal.to_dict(), "n": len(pairs), "harmful_rate": sum(ys) / len(ys)}
    return out


def candidate_text(text: str, fits: Iterable[RuleFit]) -> str:
    """The policy text with proposed thresholds edited inside their rules and the patch version bumped."""
    for fit in fits:
        if fit.proposed is None:
            continue
        block = re.search(rf"(?ms)^  - id: {re.escape(fit.rule_id)}\n.*?(?=^  - id: |\Z)", text)
        if block is None:
            raise ValueError(f"rule {fit.rule_id} not found in the policy text")
        leaf = re.compile(rf"(signal: {re.escape(fit.signal)}, gte: )([0-9.]+)")
        new_block, n = leaf.subn(rf"\g<1>{fit.proposed:g}", block.group(0))
        if n == 0:
            raise ValueError(f"rule {fit.rule_id}: no '{{signal: {fit.signal}, gte: ...}}' leaf to edit")
        note = (
            f"  # calibrated: {fit.signal} >= {fit.proposed:g}, precision {fit.proposed_precision:.2f} "
            f"(95% CI {fit.proposed_interval[0]:.2f}-{fit.proposed_interval[1]:.2f}) on {fit.held_after} "  # type: ignore[index]
            f"moderator labels; was {fit.threshold:g} at {fit.precision:.2f}\n"
        )
        new_block = new_block.replace(f"  - id: {fit.rule_id}\n", f"{note}  - id: {fit.rule_id}\n", 1)
        text = text[: block.start()] + new_block + text[block.end() :]
    version = re.search(r'(?m)^version: "(\d+)\.(\d+)\.(\d+)"', text)
    if version is None:
        raise ValueError("policy text has no version line")
    major, minor, patch = (int(g) for g in version.groups())
    return text[: version.start()] + f'version: "{major}.{minor}.{patch + 1}"' + text[version.end() :]


def write_candidate(source_text: str, report: CalibrateReport, source: str) -> str:
    """Candidate text, validated as a policy (a broken edit raises here, never at a worker)."""
    text = candidate_text(source_text, report.fits)
    report.candidate_version = parse_policy(text, source).version
    return text

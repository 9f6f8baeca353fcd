"""Re-decide stored signals under another policy: what would change, and why (no re-decoding).

Only decisions whose signals are complete can be replayed: holds caused by a failed stage and
media rejections have no (or partial) signals and are counted as skipped, never guessed at.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from policies import Facts, LoadedPolicy, PolicyEngine, referenced_signals
from safety.store import Database, DecisionRow, Video


@dataclass
class ReplayReport:
    policy_version: str
    considered: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    changed: list[dict[str, Any]] = field(default_factory=list)
    transitions: Counter[str] = field(default_factory=Counter)
    rules_hit: Counter[str] = field(default_factory=Counter)
    missing_signals: Counter[str] = field(default_factory=Counter)

    def as_dict(self, show: int = 50) -> dict[str, Any]:
        return {
            "policy_version": self.policy_version,
            "considered": self.considered,
            "changed": len(self.changed),
            "unchanged": self.considered - len(self.changed),
            "transitions": dict(self.transitions),
            "skipped": dict(self.skipped),
            "rules_hit": dict(self.rules_hit.most_common()),
            "missing_signals": dict(self.missing_signals),
            "examples": self.changed[:show],
        }


def _context(row: DecisionRow, video: Video) -> dict[str, Any]:
    if row.context:
        return dict(row.context)
    # Decisions stored before contexts were kept: rebuild what the event itself says.
    return {
        "creator.id": video.creator_id,
        "creator.age_band": video.creator_age_band,
        "cameos.count": len(video.cameos or []),
        "remix": video.remix_of is not None,
    }


def replay(
    db: Database,
    policy: LoadedPolicy,
    since: datetime,
    until: datetime | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> ReplayReport:
    """Re-decide stored signals; ``on_progress(done, total)`` is called per decision (CLI bar)."""
    engine = PolicyEngine(policy)
    wanted = referenced_signals(policy)
    report = ReplayReport(policy.version)
    with db.session() as s:
        q = (
            select(DecisionRow, Video)
            .join(Video, Video.video_id == DecisionRow.video_id)
            .where(DecisionRow.created_at >= since)
        )
        if until is not None:
            q = q.where(DecisionRow.created_at < until)
        latest: dict[str, tuple[DecisionRow, Video]] = {}
        for row, video in s.execute(q.order_by(DecisionRow.created_at)):
            latest[row.video_id] = (row, video)
    for done, (row, video) in enumerate(latest.values(), 1):
        if on_progress is not None:
            on_progress(done, len(latest))
        if row.failed_stage:
            report.skipped["stage_failed"] += 1
            continue
        if any(str(h.get("rule_id", "")).startswith("builtin.") for h in row.trace):
            report.skipped["media_rejected"] += 1
            continue
        scores: dict[str, float] = {}
        for sig in row.signals:
            scores[sig["name"]] = max(scores.get(sig["name"], 0.0), float(sig["score"]))
        for name in wanted - scores.keys():
            report.missing_signals[name] += 1
        new = engine.decide(Facts(scores, _context(row, video)))
        report.considered += 1
        for hit in new.trace:
            report.rules_hit[hit.rule_id] += 1
        before = (row.outcome, row.audience)
        after = (new.outcome.value, new.audience.value if new.audience else None)
        if before != after:
            key = f"{_label(*before)} -> {_label(*after)}"
            report.transitions[key] += 1
            report.changed.append(
                {
                    "video_id": row.video_id,
                    "decision_id": row.id,
                    "from": _label(*before),
                    "to": _label(*after),
                    "rules": [h.rule_id for h in new.trace],
                    "reasons": new.reasons,
                    "was_policy": row.policy_version,
                }
            )
    return report


def _label(outcome: str, audience: str | None) -> str:
    return f"{outcome} {audience}" if audience else outcome

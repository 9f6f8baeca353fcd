"""Learning from moderators and looking after them: every decision on a held item becomes a label kept
next to the signals that caused the hold (``feedguard calibrate`` learns from these), and each decision on
a graphic or sexual item counts towards the moderator's daily exposure, which a cap can limit.

One entry point, :func:`on_decision`, called once by ``safety.review.actions.decide`` in the same
transaction as the action, so a label exists exactly when the action does.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from safety.review.models import ModeratorExposure, ModeratorLabel
from safety.store import DecisionRow, ReviewAction, ReviewItem
from safety.store.models import utcnow

# Reason codes and labels whose items show graphic or sexual material to whoever opens them.
SEXUAL_MARKERS = ("sexual", "nudity", "adult_content")
GRAPHIC_MARKERS = ("violence", "gore", "graphic", "self_harm")


def verdict_of(action: str, audience: str | None) -> str:
    """What a decision says about the content, for learning."""
    if action == "approve":
        return "benign" if audience == "everyone" else "restrict"
    if action == "reject":
        return "harmful"
    return "escalated"


def sensitive_kinds(codes: Iterable[str]) -> set[str]:
    """``sexual`` and/or ``graphic`` when reason codes or labels say the item shows such material."""
    kinds = set()
    for code in codes:
        if any(m in code for m in SEXUAL_MARKERS):
            kinds.add("sexual")
        if any(m in code for m in GRAPHIC_MARKERS):
            kinds.add("graphic")
    return kinds


def item_kinds(item: ReviewItem, decision: DecisionRow | None) -> set[str]:
    return sensitive_kinds([*(item.reasons or []), *((decision.labels or []) if decision else [])])


def max_signals(decision: DecisionRow | None) -> dict[str, float]:
    out: dict[str, float] = {}
    for sig in (decision.signals or []) if decision else []:
        out[sig["name"]] = max(out.get(sig["name"], 0.0), round(float(sig["score"]), 6))
    return out


def today() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d")


def exposure(session: Session, moderator_id: str, day: str | None = None) -> dict[str, int]:
    """Today's (or ``day``'s) counts per kind for one moderator."""
    rows = session.scalars(
        select(ModeratorExposure).where(
            ModeratorExposure.moderator_id == moderator_id, ModeratorExposure.day == (day or today())
        )
    )
    out = {"graphic": 0, "sexual": 0}
    for row in rows:
        out[row.kind] = row.count
    return out


def over_cap(session: Session, moderator_id: str, kinds: set[str], cap: int | None) -> bool:
    """True when the moderator already reached ``cap`` for any of the item's sensitive kinds today."""
    if not cap or not kinds:
        return False
    counts = exposure(session, moderator_id)
    return any(counts.get(k, 0) >= cap for k in kinds)


def _count(session: Session, moderator_id: str, kinds: set[str]) -> None:
    day = today()
    for kind in sorted(kinds):
        row = session.get(ModeratorExposure, (moderator_id, day, kind), with_for_update=True)
        if row is None:
            session.add(ModeratorExposure(moderator_id=moderator_id, day=day, kind=kind, count=1))
        else:
            row.count += 1
            row.updated_at = utcnow()
    session.flush()


def on_decision(
    session: Session, item: ReviewItem, action: ReviewAction, decision: DecisionRow | None
) -> None:
    """Store the label (held items only) and count the moderator's exposure (any item kind)."""
    kinds = item_kinds(item, decision)
    if kinds:
        _count(session, action.moderator_id, kinds)
    if item.kind != "hold":
        return
    rules = [h.get("rule_id") for h in (decision.trace or [])] if decision else []
    session.add(
        ModeratorLabel(
            id=action.id,
            item_id=item.id,
            video_id=item.video_id,
            decision_id=item.decision_id,
            policy_version=decision.policy_version if decision else None,
            moderator_id=action.moderator_id,
            action=action.action,
            verdict=verdict_of(action.action, action.audience),
            audience=action.audience,
            reasons=list(action.reasons or []),
            hold_reasons=list(item.reasons or []),
            rules=[r for r in rules if r],
            signals=max_signals(decision),
        )
    )


def labels_since(session: Session, since: datetime | None = None) -> list[dict[str, Any]]:
    """Labels as plain dicts (latest per item: an escalation followed by a decision counts once)."""
    q = select(ModeratorLabel).order_by(ModeratorLabel.created_at)
    if since is not None:
        q = q.where(ModeratorLabel.created_at >= since)
    latest: dict[str, dict[str, Any]] = {}
    for row in session.scalars(q):
        latest[row.item_id] = {
            "item_id": row.item_id,
            "video_id": row.video_id,
            "verdict": row.verdict,
            "rules": list(row.rules),
            "signals": dict(row.signals),
            "policy_version": row.policy_version,
            "moderator_id": row.moderator_id,
        }
    return list(latest.values())

"""The rights half of the reconciler: a change of a character's enforcing rule (activated, rolled
back, withdrawn) re-decides the published videos whose release relied on the previous one, from
the match and the facts recorded with it (nothing is decoded again).

Not allowed any more -> ``video.takedown/v1``; allowed with different obligations ->
``video.relabelled/v1``. Each (video, cause) is acted on at most once, and audited.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from policies import Audience, Outcome
from policies.rights import CharacterMatch, CharacterTerms, Rule, RuleSpec, UseFacts, evaluate
from safety.events import Obligation, VideoRelabelled, VideoTakedown
from safety.outbox import enqueue
from safety.registry.reconcile import not_checked
from safety.registry.versions import RIGHTS, head
from safety.rights.models import RightsAction, RightsCharacter, RightsMatch, RightsRule
from safety.store import DecisionRow, Organisation, Video
from safety.store.audit import audit
from safety.topics import FEED_RELABEL, FEED_TAKEDOWN


def rule_of(row: RightsRule) -> Rule:
    return Rule(rule_id=row.id, version=row.version, spec=RuleSpec.model_validate(row.spec))


def terms_for(session: Session, char: RightsCharacter, active: Rule | None) -> CharacterTerms:
    org = session.get(Organisation, char.organisation_id)
    return CharacterTerms(
        character_id=char.id,
        name=char.name,
        owner=org.name if org else char.organisation_id,
        active=active,
        official_clips=frozenset(str(v) for v in char.official_clips),
    )


def facts_of(match: RightsMatch) -> UseFacts:
    f = match.facts or {}
    at = f.get("at")
    return UseFacts(
        audience=Audience(f["audience"]) if f.get("audience") else None,
        signals={str(k): float(v) for k, v in (f.get("signals") or {}).items()},
        remix_of=f.get("remix_of"),
        territory=f.get("territory"),
        at=datetime.fromisoformat(at) if at else None,
    )


def _characters(parties: Sequence[str]) -> list[str]:
    return [p.split(":", 1)[1] for p in parties if p.startswith("character:")]


class RightsChecker:
    spec = RIGHTS

    def affected(self, session: Session, parties: Sequence[str], below: int) -> Iterable[str]:
        chars = _characters(parties)
        if not chars:
            return []
        return list(
            session.scalars(
                select(Video.video_id)
                .join(RightsMatch, RightsMatch.video_id == Video.video_id)
                .where(
                    RightsMatch.character_id.in_(chars),
                    RightsMatch.outcome == "published",
                    Video.state == "published",
                    not_checked(self.spec, below),
                )
                .distinct()
                .order_by(Video.video_id)
            )
        )

    def check(self, session: Session, video: Video, parties: Sequence[str], actor: str) -> bool:
        acted = False
        for cid in _characters(parties):
            char = session.get(RightsCharacter, cid)
            if char is not None and video.state == "published":
                acted |= _recheck(session, video, char, actor)
        return acted


def _recheck(session: Session, video: Video, char: RightsCharacter, actor: str) -> bool:
    """Re-decide the video's latest released match of ``char`` under the character's current rule."""
    match = session.scalar(
        select(RightsMatch)
        .where(
            RightsMatch.video_id == video.video_id,
            RightsMatch.character_id == char.id,
            RightsMatch.outcome == "published",
        )
        .order_by(RightsMatch.id.desc())
        .limit(1)
    )
    if match is None:
        return False
    active = session.scalar(
        select(RightsRule).where(RightsRule.character_id == char.id, RightsRule.status == "active")
    )
    rule = rule_of(active) if active is not None else None
    verdict = evaluate(
        [CharacterMatch(char.id, match.score, tuple(match.methods))],
        {char.id: terms_for(session, char, rule)},
        facts_of(match),
    )
    if not verdict.characters:
        return False
    # The cause names the rule version now enforcing (or the withdrawal at this registry version).
    cause = rule.rule_id if rule else f"{char.id}@withdrawn@{head(session, RIGHTS)}"
    new = verdict.characters[0]
    if new.outcome is Outcome.PUBLISH:
        now = verdict.obligations[0] if verdict.obligations else None
        before = match.obligations
        match.rule_id, match.effect, match.obligations = new.rule_id, new.effect, now
        if _duties(now) == _duties(before):
            return False
        return _act(session, video, char, cause, "relabel", actor, _relabel_event(session, video, char, now))
    reason = "rights.license_withdrawn" if rule is None else f"rights.{new.reasons[0].split('.', 1)[1]}"
    event = VideoTakedown(video_id=video.video_id, reasons=[reason], decision_id=None,
                          requested_at=datetime.now(UTC))  # fmt: skip
    if _act(session, video, char, cause, "takedown", actor, event):
        video.state = "taken_down"
        return True
    return False


def _duties(obligation: dict[str, Any] | None) -> tuple[Any, Any]:
    """What a viewer or the platform's ledger sees of an obligation (not which rule version set it)."""
    o = obligation or {}
    return o.get("attribution"), o.get("revenue_share")


def _relabel_event(
    session: Session, video: Video, char: RightsCharacter, obligation: dict[str, Any] | None
) -> VideoRelabelled:
    decision = session.scalar(
        select(DecisionRow)
        .where(DecisionRow.video_id == video.video_id)
        .order_by(DecisionRow.created_at.desc())
        .limit(1)
    )
    others = [o for o in (decision.obligations or [] if decision else []) if o.get("character_id") != char.id]
    obligations = [*others, *([obligation] if obligation else [])]
    if decision is not None:
        decision.obligations = obligations or None
    labels = set(decision.labels if decision else [])
    labels.discard("rights.attribution")
    if any(o.get("attribution") for o in obligations):
        labels.add("rights.attribution")
    return VideoRelabelled(
        video_id=video.video_id,
        labels=sorted(labels),
        obligations=[Obligation.model_validate(o) for o in obligations],
        reasons=["rights.terms_changed"],
        decision_id=str(uuid.uuid4()),
        requested_at=datetime.now(UTC),
    )


def _act(
    session: Session,
    video: Video,
    char: RightsCharacter,
    cause: str,
    kind: str,
    actor: str,
    event: VideoTakedown | VideoRelabelled,
) -> bool:
    done = session.scalar(
        select(RightsAction.id).where(RightsAction.video_id == video.video_id, RightsAction.rule_id == cause)
    )
    if done is not None:
        return False
    action_id = event.decision_id or str(uuid.uuid4())
    if isinstance(event, VideoTakedown):
        event = event.model_copy(update={"decision_id": action_id})
    session.add(RightsAction(id=action_id, video_id=video.video_id, character_id=char.id, rule_id=cause,
                             kind=kind, actor=actor))  # fmt: skip
    enqueue(session, FEED_TAKEDOWN if kind == "takedown" else FEED_RELABEL, video.video_id, event, action_id)
    audit(session, actor, f"rights.{kind}", "video", video.video_id, character_id=char.id, rule=cause,
          action_id=action_id, creator_id=video.creator_id)  # fmt: skip
    session.flush()
    return True

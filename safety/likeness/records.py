"""What a decision leaves behind (tracks and matches), and the one way a video comes down for
likeness (:func:`take_down`, used by ``safety.likeness.reconcile``).

All functions work in the caller's session, so the registry change, the takedown events (outbox)
and the audit entries commit together or not at all.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from safety.events import VideoTakedown
from safety.likeness.detector import LikenessResult
from safety.likeness.models import LikenessMatch, LikenessTakedown, VideoFaceTrack
from safety.likeness.vectors import EMBEDDING_MODEL, to_bytes
from safety.outbox import enqueue
from safety.store import Video
from safety.store.audit import audit
from safety.topics import FEED_TAKEDOWN

REVOKED = "likeness.consent_revoked"
PROTECTED = "likeness.protected"


def record_matches(
    session: Session,
    video_id: str,
    decision_id: str | None,
    result: LikenessResult,
    *,
    keep_tracks: bool = True,
) -> int:
    """Store the video's matches, and its face tracks unless ``keep_tracks`` is false (pass
    ``outcome != "rejected"``: a rejected video never reaches the feed, so its faces need no
    re-check). Call inside the decision's transaction, after the video row exists."""
    for m in result.matches:
        session.add(
            LikenessMatch(
                video_id=video_id,
                decision_id=decision_id,
                cameo_id=m.cameo_id,
                protected_id=m.protected_id,
                track=m.track,
                similarity=float(m.similarity),
                evidence=m.evidence,
            )
        )
    if keep_tracks:
        for t in result.tracks:
            session.add(
                VideoFaceTrack(
                    video_id=video_id,
                    decision_id=decision_id,
                    track=t.track,
                    vectors=to_bytes(t.vectors),
                    evidence=t.evidence,
                    embedding_model=EMBEDDING_MODEL,
                )
            )
    return len(result.matches)


def take_down(
    session: Session, video: Video, subject: str, reason: str, actor: str, details: dict[str, str]
) -> bool:
    """Once per (video, subject): outbox event, state, audit. False when already done or not live."""
    done = session.scalar(
        select(LikenessTakedown.id).where(
            LikenessTakedown.video_id == video.video_id, LikenessTakedown.subject == subject
        )
    )
    if done is not None or video.state != "published":
        return False
    takedown_id = str(uuid.uuid4())
    session.add(
        LikenessTakedown(id=takedown_id, video_id=video.video_id, subject=subject, reason=reason, actor=actor)
    )
    event = VideoTakedown(
        video_id=video.video_id, reasons=[reason], decision_id=takedown_id, requested_at=datetime.now(UTC)
    )
    enqueue(session, FEED_TAKEDOWN, video.video_id, event, takedown_id)
    video.state = "taken_down"
    audit(
        session, actor, "cameo.takedown", "video", video.video_id,
        reason=reason, takedown_id=takedown_id, creator_id=video.creator_id, **details,
    )  # fmt: skip
    session.flush()
    return True

"""What a decision leaves behind (tracks and matches) and what a withdrawal of consent does to the
feed: every published video that shows the person and is no longer covered comes down.

All functions work in the caller's session, so the registry change, the takedown events (outbox)
and the audit entries commit together or not at all.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import numpy as np
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from safety.events import VideoTakedown
from safety.likeness.consent import CameoTerms
from safety.likeness.detector import LikenessResult
from safety.likeness.models import (
    Cameo,
    LikenessMatch,
    LikenessTakedown,
    ProtectedEmbedding,
    ProtectedLikeness,
    VideoFaceTrack,
)
from safety.likeness.vectors import DEFAULT_THRESHOLDS, EMBEDDING_MODEL, MatchThresholds, from_bytes, to_bytes
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


def takedowns_for_revocation(
    session: Session,
    cameo_id: str,
    *,
    actor: str,
    reason: str = REVOKED,
    thresholds: MatchThresholds = DEFAULT_THRESHOLDS,
) -> list[str]:
    """Take down every published video showing the cameo's owner whose creator no longer has
    consent under the cameo's *current* terms (call after changing them). Returns the video ids.

    Matches near the threshold count too (a withdrawal of consent errs towards removal); the
    owner's own videos and still-approved creators are untouched; a video is never taken down
    twice for the same cameo.
    """
    cameo = session.get(Cameo, cameo_id)
    if cameo is None:
        return []
    terms = CameoTerms.of(cameo)
    linked = list(session.scalars(select(ProtectedLikeness.id).where(ProtectedLikeness.cameo_id == cameo_id)))
    shown = or_(LikenessMatch.cameo_id == cameo_id, LikenessMatch.protected_id.in_(linked))
    rows = session.execute(
        select(Video, LikenessMatch.similarity)
        .join(LikenessMatch, LikenessMatch.video_id == Video.video_id)
        .where(shown, Video.state == "published", Video.creator_id != cameo.owner_id)
        .order_by(Video.video_id)
    ).all()
    floor = thresholds.threshold - thresholds.margin
    videos = {v.video_id: v for v, sim in rows if sim >= floor and not terms.allows(v.creator_id)}
    return [
        v.video_id
        for v in videos.values()
        if _take_down(session, v, f"cameo:{cameo_id}", reason, actor, {"cameo_id": cameo_id})
    ]


def recheck_protected(
    session: Session,
    protected_id: str,
    *,
    actor: str,
    thresholds: MatchThresholds = DEFAULT_THRESHOLDS,
    batch: int = 500,
) -> list[str]:
    """Check a newly protected figure against the stored face tracks of published videos (no
    decoding), record the matches and take down what they do not consent to. Returns video ids."""
    person = session.get(ProtectedLikeness, protected_id)
    if person is None or person.status != "active":
        return []
    blobs = session.scalars(
        select(ProtectedEmbedding.vector).where(ProtectedEmbedding.protected_id == protected_id)
    )
    reference = np.vstack([from_bytes(b) for b in blobs])
    terms = None
    if person.cameo_id:
        cameo = session.get(Cameo, person.cameo_id)
        terms = CameoTerms.of(cameo) if cameo is not None and cameo.status != "deleted" else None
    taken = []
    for video, track in _published_tracks(session, batch):
        sim = float(np.max(from_bytes(track.vectors) @ reference.T))
        if sim < thresholds.threshold:
            continue
        session.add(
            LikenessMatch(
                video_id=video.video_id,
                decision_id=None,
                cameo_id=terms.id if terms else None,
                protected_id=protected_id,
                track=track.track,
                similarity=sim,
                evidence=track.evidence,
            )
        )
        if terms is not None and terms.allows(video.creator_id):
            continue
        if _take_down(
            session, video, f"protected:{protected_id}", PROTECTED, actor, {"protected_id": protected_id}
        ):
            taken.append(video.video_id)
    return taken


def _published_tracks(session: Session, batch: int) -> Iterator[tuple[Video, VideoFaceTrack]]:
    """Published videos' tracks in pages, so a large feed is never loaded at once."""
    last = 0
    while True:
        rows = session.execute(
            select(Video, VideoFaceTrack)
            .join(VideoFaceTrack, VideoFaceTrack.video_id == Video.video_id)
            .where(Video.state == "published", VideoFaceTrack.id > last)
            .order_by(VideoFaceTrack.id)
            .limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1][1].id


def _take_down(
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

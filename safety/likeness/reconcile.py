"""The likeness half of the reconciler: which published videos a change may forbid, and the
re-check of one video from its stored matches and face tracks (nothing is decoded again).

``cameo:<id>`` (consent revoked, narrowed, cameo deleted or re-enrolled): videos with a stored
match of the cameo (or of a protected figure linked to it) whose creator the *current* terms no
longer allow come down. ``protected:<id>`` (a newly protected figure): the stored face tracks of
published videos are compared with the figure's vectors; a match is recorded, and the video comes
down unless the figure's own cameo allows its creator. Matches near the threshold count (a
withdrawal of consent errs towards removal); the owner's own videos are never touched.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from safety.likeness.consent import CameoTerms
from safety.likeness.models import Cameo, LikenessMatch, ProtectedEmbedding, ProtectedLikeness, VideoFaceTrack
from safety.likeness.records import PROTECTED, REVOKED, take_down
from safety.likeness.vectors import DEFAULT_THRESHOLDS, MatchThresholds, from_bytes
from safety.registry.reconcile import not_checked
from safety.registry.versions import LIKENESS
from safety.store import Video


def _split(parties: Sequence[str], kind: str) -> list[str]:
    return [p.split(":", 1)[1] for p in parties if p.startswith(f"{kind}:")]


class LikenessChecker:
    spec = LIKENESS

    def __init__(self, thresholds: MatchThresholds = DEFAULT_THRESHOLDS) -> None:
        self.thresholds = thresholds

    def affected(self, session: Session, parties: Sequence[str], below: int) -> Iterable[str]:
        out: set[str] = set()
        cameos, protected = _split(parties, "cameo"), _split(parties, "protected")
        if cameos:
            linked = select(ProtectedLikeness.id).where(ProtectedLikeness.cameo_id.in_(cameos))
            out |= set(
                session.scalars(
                    select(Video.video_id)
                    .join(LikenessMatch, LikenessMatch.video_id == Video.video_id)
                    .where(
                        or_(LikenessMatch.cameo_id.in_(cameos), LikenessMatch.protected_id.in_(linked)),
                        Video.state == "published",
                        not_checked(self.spec, below),
                    )
                    .distinct()
                )
            )
        if protected:
            out |= set(
                session.scalars(
                    select(Video.video_id)
                    .join(VideoFaceTrack, VideoFaceTrack.video_id == Video.video_id)
                    .where(Video.state == "published", not_checked(self.spec, below))
                    .distinct()
                )
            )
        return sorted(out)

    def check(self, session: Session, video: Video, parties: Sequence[str], actor: str) -> bool:
        for cameo_id in _split(parties, "cameo"):
            if self._consent(session, video, cameo_id, actor):
                return True
        for protected_id in _split(parties, "protected"):
            if self._protected(session, video, protected_id, actor):
                return True
        return False

    def _consent(self, session: Session, video: Video, cameo_id: str, actor: str) -> bool:
        cameo = session.get(Cameo, cameo_id)
        if cameo is None or video.creator_id == cameo.owner_id:
            return False
        if CameoTerms.of(cameo).allows(video.creator_id):
            return False
        linked = select(ProtectedLikeness.id).where(ProtectedLikeness.cameo_id == cameo_id)
        sims = session.scalars(
            select(LikenessMatch.similarity).where(
                LikenessMatch.video_id == video.video_id,
                or_(LikenessMatch.cameo_id == cameo_id, LikenessMatch.protected_id.in_(linked)),
            )
        )
        floor = self.thresholds.threshold - self.thresholds.margin
        if not any(sim >= floor for sim in sims):
            return False
        return take_down(session, video, f"cameo:{cameo_id}", REVOKED, actor, {"cameo_id": cameo_id})

    def _protected(self, session: Session, video: Video, protected_id: str, actor: str) -> bool:
        person = session.get(ProtectedLikeness, protected_id)
        if person is None or person.status != "active":
            return False
        blobs = list(
            session.scalars(
                select(ProtectedEmbedding.vector).where(ProtectedEmbedding.protected_id == protected_id)
            )
        )
        if not blobs:
            return False
        reference = np.vstack([from_bytes(b) for b in blobs])
        terms = None
        if person.cameo_id:
            cameo = session.get(Cameo, person.cameo_id)
            terms = CameoTerms.of(cameo) if cameo is not None and cameo.status != "deleted" else None
        seen = set(
            session.scalars(
                select(LikenessMatch.track).where(
                    LikenessMatch.video_id == video.video_id, LikenessMatch.protected_id == protected_id
                )
            )
        )
        found = False
        for track in session.scalars(select(VideoFaceTrack).where(VideoFaceTrack.video_id == video.video_id)):
            sim = float(np.max(from_bytes(track.vectors) @ reference.T))
            if sim < self.thresholds.threshold:
                continue
            found = True
            if track.track not in seen:
                seen.add(track.track)
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
        if not found or (terms is not None and terms.allows(video.creator_id)):
            return False
        return take_down(
            session, video, f"protected:{protected_id}", PROTECTED, actor, {"protected_id": protected_id}
        )

"""Each worker's view of the likeness registry: a FAISS index snapshot rebuilt when the version moves.

The generic :class:`~safety.registry.view.RegistryView` polls and swaps; this module only says how
a :class:`Snapshot` is loaded (incrementally from the previous one when it can). A decision made on
a snapshot older than a change is re-checked by ``safety.registry.reconcile``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from sqlalchemy import select
from sqlalchemy.orm import Session

from safety.likeness.consent import CameoTerms
from safety.likeness.index import EXACT_MAX, FaceIndex, IndexKind, wanted_kind
from safety.likeness.models import (
    Cameo,
    CameoEmbedding,
    ProtectedEmbedding,
    ProtectedLikeness,
)
from safety.likeness.vectors import DEFAULT_THRESHOLDS, DIM, F32, MatchThresholds, from_bytes
from safety.registry.versions import LIKENESS, head
from safety.registry.view import RegistryView
from safety.store import Database


@dataclass(frozen=True, slots=True)
class Subject:
    """Someone the index knows: an enrolled owner or a protected figure (``terms`` when linked)."""

    kind: str  # cameo | protected
    ref: str  # opaque id: cameo id or protected id
    terms: CameoTerms | None


RowKey = tuple[str, int]  # ("c" | "p", embedding row id)


@dataclass(frozen=True)
class Snapshot:
    version: int
    index: FaceIndex
    row_keys: tuple[RowKey, ...]  # index id -> embedding row
    row_subject: npt.NDArray[np.int64]  # index id -> subject position, -1 when erased since
    subjects: tuple[Subject, ...]
    cameos_by_owner: dict[str, CameoTerms] = field(default_factory=dict)
    built_at: float = field(default_factory=time.monotonic)

    @property
    def dead(self) -> int:
        return int(np.sum(self.row_subject < 0))

    def match(self, queries: F32, k: int = 8) -> list[dict[int, float]]:
        """Per query row, the best similarity per subject position among the top ``k`` live vectors."""
        sims, ids = self.index.search(queries, k + self.dead)
        out: list[dict[int, float]] = []
        for row_sims, row_ids in zip(sims, ids, strict=True):
            best: dict[int, float] = {}
            for s, i in zip(row_sims, row_ids, strict=True):
                subject = int(self.row_subject[i]) if i >= 0 else -1
                if subject >= 0:
                    best[subject] = max(best.get(subject, -1.0), float(s))
            out.append(best)
        return out


def load_snapshot(
    session: Session,
    *,
    previous: Snapshot | None = None,
    kind: IndexKind = "auto",
    exact_max: int = EXACT_MAX,
) -> Snapshot:
    """Read the version first, then the rows: a change racing the read only causes one more rebuild.

    Consent changes touch no vector, so the previous index is reused and only the subjects change;
    erased vectors are masked; new ones are appended to a copy. A full rebuild happens when the
    index kind changes, or masked or appended rows pass a quarter of it (keeps SQ8 ranges fresh).
    """
    version = head(session, LIKENESS)
    terms = {c.id: CameoTerms.of(c) for c in session.scalars(select(Cameo).where(Cameo.status != "deleted"))}
    subjects: list[Subject] = []
    position: dict[tuple[str, str], int] = {}
    live: dict[RowKey, int] = {}

    def add(kind: str, ref: str, t: CameoTerms | None, key: RowKey) -> None:
        if (kind, ref) not in position:
            position[(kind, ref)] = len(subjects)
            subjects.append(Subject(kind, ref, t))
        live[key] = position[(kind, ref)]

    for emb_id, cameo_id in session.execute(
        select(CameoEmbedding.id, CameoEmbedding.cameo_id).order_by(CameoEmbedding.id)
    ):
        if cameo_id in terms:
            add("cameo", cameo_id, terms[cameo_id], ("c", emb_id))
    for emb_id, pid, linked in session.execute(
        select(ProtectedEmbedding.id, ProtectedLikeness.id, ProtectedLikeness.cameo_id)
        .join(ProtectedLikeness, ProtectedEmbedding.protected_id == ProtectedLikeness.id)
        .where(ProtectedLikeness.status == "active")
        .order_by(ProtectedEmbedding.id)
    ):
        add("protected", pid, terms.get(linked) if linked else None, ("p", emb_id))
    target = wanted_kind(kind, len(live), exact_max)
    known = set(previous.row_keys) if previous else set()
    new_keys = [key for key in live if key not in known]
    masked = len(known) - (len(live) - len(new_keys))
    if (
        previous is not None
        and previous.index.kind == target
        and masked <= max(8, previous.index.size // 4)
        and len(new_keys) <= max(8, previous.index.size // 4)
    ):
        row_keys = previous.row_keys + tuple(new_keys)
        index = previous.index.extended(_vectors(session, new_keys)) if new_keys else previous.index
    else:
        row_keys = tuple(live)
        index = FaceIndex(_vectors(session, list(row_keys)), kind=kind, exact_max=exact_max)
    return Snapshot(
        version=int(version),
        index=index,
        row_keys=row_keys,
        row_subject=np.asarray([live.get(key, -1) for key in row_keys], np.int64),
        subjects=tuple(subjects),
        cameos_by_owner={t.owner_id: t for t in terms.values()},
    )


def _vectors(session: Session, keys: list[RowKey], chunk: int = 1000) -> F32:
    """The vectors of ``keys``, in that order, fetched in chunks."""
    got: dict[RowKey, F32] = {}
    for tag, model in (("c", CameoEmbedding), ("p", ProtectedEmbedding)):
        ids = [i for t, i in keys if t == tag]
        for start in range(0, len(ids), chunk):
            part = ids[start : start + chunk]
            for emb_id, blob in session.execute(select(model.id, model.vector).where(model.id.in_(part))):
                got[(tag, emb_id)] = from_bytes(blob)
    if not keys:
        return np.zeros((0, DIM), np.float32)
    return np.vstack([got[key] for key in keys]).astype(np.float32)


def registry_version(session: Session) -> int:
    return head(session, LIKENESS)


class IndexView(RegistryView[Snapshot]):
    """The current :class:`Snapshot` for this process (see :class:`~safety.registry.view.RegistryView`)."""

    def __init__(
        self,
        db: Database,
        *,
        thresholds: MatchThresholds = DEFAULT_THRESHOLDS,
        kind: IndexKind = "auto",
        exact_max: int = EXACT_MAX,
        poll_s: float = 1.0,
    ) -> None:
        self.thresholds = thresholds
        self.kind: IndexKind = kind
        self.exact_max = exact_max
        super().__init__(db, LIKENESS, self._load_next, poll_s=poll_s)

    def _load_next(self, session: Session, previous: Snapshot | None) -> Snapshot:
        return load_snapshot(session, previous=previous, kind=self.kind, exact_max=self.exact_max)

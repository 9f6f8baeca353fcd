"""Each worker's view of the registry: an index snapshot rebuilt when the registry version moves.

A background thread polls ``likeness_registry.version`` (one tiny query a second). When it moved,
the thread loads every live vector, builds a new :class:`Snapshot` and swaps it in with one
reference assignment, so matching never waits for a rebuild and never sees half of one. A
revocation or a new protected likeness is therefore enforced by every worker within about
``poll_s`` plus one rebuild.
"""

from __future__ import annotations

import logging
import threading
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
    RegistryVersion,
)
from safety.likeness.vectors import DEFAULT_THRESHOLDS, DIM, F32, MatchThresholds, from_bytes
from safety.store import Database

log = logging.getLogger("feedguard.likeness")


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
    version = session.scalar(select(RegistryVersion.version).where(RegistryVersion.id == 1)) or 0
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
    return int(session.scalar(select(RegistryVersion.version).where(RegistryVersion.id == 1)) or 0)


class IndexView:
    """The current :class:`Snapshot` for this process, refreshed in the background."""

    def __init__(
        self,
        db: Database,
        *,
        thresholds: MatchThresholds = DEFAULT_THRESHOLDS,
        kind: IndexKind = "auto",
        exact_max: int = EXACT_MAX,
        poll_s: float = 1.0,
    ) -> None:
        self.db = db
        self.thresholds = thresholds
        self.kind: IndexKind = kind
        self.exact_max = exact_max
        self.poll_s = poll_s
        self._snapshot: Snapshot | None = None
        self._lock = threading.Lock()  # one rebuild at a time; readers never take it
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.rebuilds = 0

    @property
    def snapshot(self) -> Snapshot:
        """The live snapshot (built synchronously only the very first time)."""
        snap = self._snapshot
        if snap is None:
            self.refresh(force=True)
            snap = self._snapshot
            assert snap is not None
        return snap

    def refresh(self, *, force: bool = False) -> bool:
        """Rebuild if the registry version moved; returns whether a new snapshot was swapped in."""
        with self._lock:
            with self.db.session() as s:
                current = self._snapshot
                if not force and current is not None and registry_version(s) == current.version:
                    return False
                started = time.perf_counter()
                snap = load_snapshot(s, previous=current, kind=self.kind, exact_max=self.exact_max)
            self._snapshot = snap  # atomic swap: matching threads see the old or the new one
            self.rebuilds += 1
            log.info(
                "likeness index v%d: %d vectors, %s, built in %.0f ms",
                snap.version,
                snap.index.size,
                snap.index.kind,
                (time.perf_counter() - started) * 1000,
            )
            return True

    def start(self) -> IndexView:
        """Poll in a daemon thread; errors are logged and retried (the old snapshot keeps serving)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="likeness-index", daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.poll_s):
            try:
                self.refresh()
            except Exception:
                log.exception("likeness index refresh failed; keeping version %s", self.version)

    @property
    def version(self) -> int | None:
        snap = self._snapshot
        return snap.version if snap else None

    def wait_for(self, version: int, timeout_s: float = 10.0) -> bool:
        """Block until the served snapshot is at least ``version`` (tests, admin tools)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            current = self.version
            if current is not None and current >= version:
                return True
            time.sleep(0.05)
        return False

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

"""The reconciler: every registry change is followed by a re-check of the published videos it may
forbid, including videos decided after it by a worker whose view had not caught up yet.

Two inputs, one check:

* the change log (``registry_changes``): each change names its parties (``cameo:<id>``, ...). A
  sweep re-checks the published videos of those parties, except those decided (or re-checked) at
  the change's version or later, and marks the change swept. API routes sweep their own change in their own
  transaction (so the response lists what came down); the reconciler thread sweeps any other.
* the late queue (``registry_rechecks``): a published decision whose stored registry version is
  below the version at its commit (:func:`stamp_decision`) is queued; the thread re-checks it
  against the parties of every change it missed.

The registry version row is read ``FOR SHARE`` when a decision is stored, and a change bumps it
(row lock) before it sweeps: so a decision either commits before the change's sweep reads, or sees
the change's version and queues itself. Nothing is missed and no sweep has to be repeated.

Re-checks read stored matches and face tracks, never the media, and compare with the *current*
registry, so running a check twice or on several processes at once is harmless: each video row is
locked while it is checked, and takedowns/relabels are unique per (video, cause) and audited.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from safety.registry.models import RegistryChange, RegistryRecheck
from safety.registry.versions import SPECS, RegistrySpec, head
from safety.store import Database, DecisionRow, Video
from safety.store.models import utcnow

log = logging.getLogger("feedguard.reconcile")


class Checker(Protocol):
    """One registry's half of the re-check (``safety.likeness.reconcile``, ``safety.rights.reconcile``)."""

    spec: RegistrySpec

    def affected(self, session: Session, parties: Sequence[str], below: int) -> Iterable[str]:
        """Published video ids that may show ``parties`` and were not checked up to ``below``."""
        ...

    def check(self, session: Session, video: Video, parties: Sequence[str], actor: str) -> bool:
        """Re-decide ``video`` (row locked, published) for ``parties``; True when it acted."""
        ...


def not_checked(spec: RegistrySpec, below: int):  # type: ignore[no-untyped-def]
    """SQL for ``affected`` queries: the video has no decision that read version ``below`` or later,
    or was re-checked against every change up to it (``*_checked`` only moves when a re-check
    covered every change since the decision's own version, so skipping those is sound)."""
    checked = getattr(DecisionRow, spec.decision_checked)
    return ~select(DecisionRow.id).where(DecisionRow.video_id == Video.video_id, checked >= below).exists()


def _check_video(
    session: Session, checker: Checker, video_id: str, parties: Sequence[str], actor: str
) -> bool:
    video = session.get(Video, video_id, with_for_update=True, populate_existing=True)
    if video is None or video.state != "published":
        return False
    return checker.check(session, video, parties, actor)


def sweep(session: Session, change: RegistryChange, checker: Checker, actor: str) -> list[str]:
    """Re-check the published videos of ``change``'s parties; returns the videos acted on."""
    acted = [
        video_id
        for video_id in list(checker.affected(session, change.parties, change.version))
        if _check_video(session, checker, video_id, change.parties, actor)
    ]
    change.swept_at, change.acted = utcnow(), acted
    session.flush()
    return acted


def sweep_own(session: Session, checker: Checker, actor: str) -> list[str]:
    """Sweep the change this transaction just recorded (API routes: the response lists the result)."""
    version = head(session, checker.spec)
    change = session.scalar(
        select(RegistryChange).where(
            RegistryChange.registry_name == checker.spec.name, RegistryChange.version == version
        )
    )
    if change is None or change.swept_at is not None:
        return []
    return sweep(session, change, checker, actor)


def stamp_decision(session: Session, row: DecisionRow) -> None:
    """In the decision's transaction, after its row is flushed: queue a re-check when a registry
    moved past the version the decision read (its sweep may already have run)."""
    if row.outcome != "published":
        return
    for spec in SPECS.values():  # always the same order: likeness, then rights
        read = getattr(row, spec.decision_version)
        if read is None:
            continue
        current = head(session, spec, share=True)
        if read < current:
            session.add(RegistryRecheck(decision_id=row.id, registry_name=spec.name, upto=current))


def enqueue_if_stale(session: Session, row: DecisionRow) -> None:
    """A stored decision becomes published later (a moderator's approval): same rule as above."""
    for spec in SPECS.values():
        read = getattr(row, spec.decision_checked) or getattr(row, spec.decision_version)
        if read is None:
            continue
        current = head(session, spec, share=True)
        queued = session.scalar(
            select(RegistryRecheck.id).where(
                RegistryRecheck.decision_id == row.id, RegistryRecheck.registry_name == spec.name
            )
        )
        if read < current and queued is None:
            session.add(RegistryRecheck(decision_id=row.id, registry_name=spec.name, upto=current))


def recheck(session: Session, item: RegistryRecheck, checker: Checker, actor: str) -> bool:
    """Re-check one late decision against the parties of the changes it missed."""
    row = session.get(DecisionRow, item.decision_id)
    acted = False
    if row is not None:
        since = getattr(row, checker.spec.decision_checked)
        since = getattr(row, checker.spec.decision_version) if since is None else since
        parties = sorted(
            {
                p
                for ps in session.scalars(
                    select(RegistryChange.parties).where(
                        RegistryChange.registry_name == checker.spec.name,
                        RegistryChange.version > (since or 0),
                        RegistryChange.version <= item.upto,
                    )
                )
                for p in ps
            }
        )
        if parties:
            acted = _check_video(session, checker, row.video_id, parties, actor)
        # Every change in (since, upto] is covered now (those after upto are swept with it in view).
        setattr(row, checker.spec.decision_checked, max(since or 0, item.upto))
    session.delete(item)
    session.flush()
    return acted


class Reconciler:
    """A background thread in every worker and API process: sweeps unswept changes and drains the
    late queue. Rows are claimed with ``FOR UPDATE SKIP LOCKED``, so processes share the work."""

    def __init__(
        self,
        db: Database,
        checkers: Sequence[Checker],
        *,
        actor: str = "system:reconciler",
        interval_s: float = 0.25,
        on_acted: Callable[[list[str]], None] | None = None,
    ) -> None:
        self.db = db
        self.checkers = {c.spec.name: c for c in checkers}
        self.actor = actor
        self.interval_s = interval_s
        self.on_acted = on_acted
        self.acted: list[str] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self, limit: int = 100) -> list[str]:
        """One pass; returns the videos taken down or relabelled."""
        acted: list[str] = []
        for _ in range(limit):
            done = self._one_change() or self._one_recheck()
            if done is None:
                break
            acted += done
        if acted:
            self.acted += acted
            if self.on_acted is not None:
                self.on_acted(acted)
        return acted

    def _one_change(self) -> list[str] | None:
        with self.db.session() as s:
            change = s.scalar(
                select(RegistryChange)
                .where(RegistryChange.swept_at.is_(None), RegistryChange.registry_name.in_(self.checkers))
                .order_by(RegistryChange.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            )
            if change is None:
                return None
            return sweep(s, change, self.checkers[change.registry_name], self.actor)

    def _one_recheck(self) -> list[str] | None:
        with self.db.session() as s:
            item = s.scalar(
                select(RegistryRecheck)
                .where(RegistryRecheck.registry_name.in_(self.checkers))
                .order_by(RegistryRecheck.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            )
            if item is None:
                return None
            video = s.scalar(select(DecisionRow.video_id).where(DecisionRow.id == item.decision_id))
            acted = recheck(s, item, self.checkers[item.registry_name], self.actor)
            return [video] if acted and video else []

    def start(self) -> Reconciler:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="registry-reconciler", daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.run_once()
            except (IntegrityError, DBAPIError) as exc:  # a racing process acted first: next pass
                log.info("reconcile pass retried: %s", type(exc).__name__)
            except Exception:
                log.exception("reconcile pass failed; retrying")

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

"""The reconciler on real PostgreSQL: decisions stored after a change's sweep, on a stale index,
are re-checked from their stored matches and taken down once; fresh ones are left alone."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import func, select

from safety.likeness import registry
from safety.likeness.detector import LikenessResult
from safety.likeness.enrol import Enrolment
from safety.likeness.models import Cameo
from safety.likeness.reconcile import LikenessChecker
from safety.likeness.records import record_matches
from safety.registry.models import RegistryChange, RegistryRecheck
from safety.registry.reconcile import Reconciler, stamp_decision, sweep_own
from safety.registry.versions import LIKENESS, head
from safety.store import Database, DecisionRow, OutboxMessage, Video


def _store(db: Database, video_id: str, creator: str, result: LikenessResult) -> None:
    """What the worker's decision transaction does: video, decision, matches, then the stamp."""
    with db.session() as s:
        s.add(
            Video(video_id=video_id, creator_id=creator, creator_age_band="adult", prompt="p", uri="file:///x",
                  cameos=[], remix_of=None, created_at=datetime.now(UTC), event={}, state="published")
        )  # fmt: skip
        s.flush()
        row = DecisionRow(
            id=str(uuid.uuid4()), video_id=video_id, policy_version="t", policy_digest="d",
            outcome="published", audience="everyone", reasons=[], labels=[], signals=[], trace=[],
            shadow=[], detectors=[], stage_ms={}, worker_id="test", likeness_version=result.registry_version,
            likeness_checked=result.registry_version,
        )  # fmt: skip
        s.add(row)
        s.flush()
        record_matches(s, video_id, row.id, result)
        stamp_decision(s, row)


def _revoke(db: Database, cameo_id: str, creator: str) -> list[str]:
    with db.session() as s:
        cameo = s.get(Cameo, cameo_id)
        assert cameo is not None
        registry.revoke(s, cameo, actor="test", creator_id=creator)
        return sweep_own(s, LikenessChecker(), "test")


def test_a_decision_on_a_stale_index_is_taken_down_after_the_sweep(
    db: Database, enrol: Callable[..., str], publish: Callable[[str, str, str], LikenessResult]
) -> None:
    cameo_id = enrol("astro", "alice", permission="approved", approved=["bob", "carol"])
    stale = publish("probe", "astro", "bob")  # matched at the version before the revocation
    assert stale.matches and stale.registry_version >= 1
    assert _revoke(db, cameo_id, "bob") == ["probe"]  # the sweep at the change
    _store(db, "late", "bob", stale)  # decided on the old index, stored after the sweep
    _store(db, "other", "carol", stale)  # carol still has consent
    with db.session() as s:
        assert {r.registry_name for r in s.scalars(select(RegistryRecheck))} == {"likeness"}
    reconciler = Reconciler(db, [LikenessChecker()])
    assert reconciler.run_once() == ["late"]
    assert reconciler.run_once() == []  # idempotent: nothing queued, nothing twice
    with db.session() as s:
        assert s.get(Video, "late").state == "taken_down"  # type: ignore[union-attr]
        assert s.get(Video, "other").state == "published"  # type: ignore[union-attr]
        assert s.scalar(select(func.count()).select_from(RegistryRecheck)) == 0
        downs = s.scalars(select(OutboxMessage.key).where(OutboxMessage.topic == "feed.takedown")).all()
        assert sorted(downs) == ["late", "probe"]
        checked = s.scalars(select(DecisionRow.likeness_checked).where(DecisionRow.video_id == "other"))
        assert list(checked) == [head(s, LIKENESS)]  # re-checked up to the head, so never again


def test_a_fresh_decision_queues_nothing(
    db: Database, enrol: Callable[..., str], publish: Callable[[str, str, str], LikenessResult]
) -> None:
    enrol("astro", "alice", permission="approved", approved=["bob"])
    fresh = publish("probe", "astro", "bob")
    _store(db, "fresh", "bob", fresh)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(RegistryRecheck)) == 0


def test_a_decision_committing_during_a_change_is_seen_by_its_sweep_or_queued(
    db: Database, enrol: Callable[..., str], publish: Callable[[str, str, str], LikenessResult]
) -> None:
    """The change holds the version row from its bump to its commit; a decision stored meanwhile
    waits for it (FOR SHARE), then sees the new version and queues itself."""
    cameo_id = enrol("astro", "alice", permission="approved", approved=["bob"])
    stale = publish("probe", "astro", "bob")
    bumped, release = threading.Event(), threading.Event()

    def change() -> None:
        with db.session() as s:
            cameo = s.get(Cameo, cameo_id)
            assert cameo is not None
            registry.revoke(s, cameo, actor="test", creator_id="bob")
            sweep_own(s, LikenessChecker(), "test")
            bumped.set()
            release.wait(10)

    t = threading.Thread(target=change)
    t.start()
    assert bumped.wait(10)
    stored = threading.Thread(target=_store, args=(db, "during", "bob", stale))
    stored.start()
    time.sleep(0.5)
    assert stored.is_alive(), "the decision must wait for the change holding the version row"
    release.set()
    t.join(10)
    stored.join(10)
    assert Reconciler(db, [LikenessChecker()]).run_once() == ["during"]
    with db.session() as s:
        change_row = s.scalar(select(RegistryChange).where(RegistryChange.kind == "cameo.revoked"))
        assert change_row is not None and change_row.parties == [f"cameo:{cameo_id}"]
        assert change_row.swept_at is not None and change_row.acted == ["probe"]


def test_a_later_sweep_over_a_queued_decision_does_not_skip_what_it_missed(
    db: Database,
    enrol: Callable[..., str],
    enrolments: dict[str, Enrolment],
    publish: Callable[[str, str, str], LikenessResult],
) -> None:
    """A newly protected figure's sweep re-checks every published face, the queued late decision
    too, but only for that figure: the revocation it missed must still be applied afterwards."""
    cameo_id = enrol("astro", "alice", permission="approved", approved=["bob"])
    stale = publish("probe", "astro", "bob")
    _revoke(db, cameo_id, "bob")
    _store(db, "late", "bob", stale)
    with db.session() as s:
        registry.add_protected(s, name="A. Cameraman", enrolment=enrolments["cam"], actor="admin")
        assert sweep_own(s, LikenessChecker(), "admin") == []  # the cameraman is in no video
    assert Reconciler(db, [LikenessChecker()]).run_once() == ["late"]

"""Dependencies going away under a running worker (and API): the database for 30 s, the broker.

The database outage uses a private PostgreSQL cluster (the shared one at :5432 is never
stopped); the broker outage stops Tansu and starts a new, empty one on the same port.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fgapi import api_settings, serve
from fgtest import WorkerProcess, committed_offsets, event, produce, read_topics, wait_for
from relhelp import (
    HOLD_PROMPT,
    PrivatePostgres,
    assert_each_decided_once_and_announced_once,
    decided_count,
    decisions,
    light_worker,
    new_user,
)

from streams import LocalBroker, ensure_topics
from streams.topics import DEAD_LETTERS, OUTCOME_TOPICS, VIDEOS_GENERATED

pytestmark = pytest.mark.slow

OUTAGE_S = 30.0


@pytest.fixture(scope="module")
def private_pg() -> Iterator[PrivatePostgres]:
    """A PostgreSQL cluster of this module's own, which the tests may stop and start."""
    pg = PrivatePostgres()
    pg.start()
    try:
        yield pg
    finally:
        pg.destroy()


def _events(prefix: str, n: int, uri: str) -> list[dict]:  # type: ignore[type-arg]
    return [event(f"{prefix}-{i}", uri, HOLD_PROMPT if i == 2 else f"clip {i}") for i in range(n)]


def _alive(w: WorkerProcess) -> None:
    assert w.proc.poll() is None, f"the worker exited with {w.proc.returncode}:\n{w.log()[-3000:]}"


def test_database_outage_pauses_the_worker_without_loss_and_the_api_answers_503(
    private_pg: PrivatePostgres, broker: str, tmp_path: Path, tiny_video: Path
) -> None:
    url = private_pg.create_database()
    uri = tiny_video.resolve().as_uri()
    before, during = _events("db-before", 6, uri), _events("db-during", 6, uri)
    ids = [e["video_id"] for e in before + during]
    produce(broker, before)
    # The worker pauses at its third checkpoint (outcome produced, not yet marked emitted) so the
    # database goes away at exactly that point; a detector taking half a second per video keeps
    # more videos in hand.
    points = tmp_path / "failpoints"
    points.mkdir()
    worker = light_worker(
        broker,
        url,
        tmp_path,
        tiny_video.parent,
        failpoints="worker.after_produce:3=pause",
        extra_detectors=["fgtest:SlowDetector"],
        env={"FEEDGUARD_TEST_DETECTOR_SLEEP": "0.5", "FEEDGUARD_FAILPOINT_DIR": str(points)},
    )
    settings = api_settings(
        tmp_path, url, tiny_video.parent, broker, api_relay_outbox=False, provenance={"enabled": False}
    )
    try:
        for api_url in serve(settings):
            platform = httpx.Client(
                base_url=api_url, headers={"Authorization": f"Bearer {new_user(url, 'platform')}"}
            )
            moderator = httpx.Client(
                base_url=api_url, headers={"Authorization": f"Bearer {new_user(url, 'moderator')}"}
            )
            report = {"video_id": "db-before-0", "reporter_id": "u1", "reason": "bullying_harassment"}
            wait_for((points / "worker.after_produce.reached").exists, 90, what="the third checkpoint")
            (unmarked,) = [r.video_id for r in decisions(url) if not r.emitted]

            private_pg.stop()
            down_at = datetime.now(UTC)
            (points / "worker.after_produce.go").touch()  # mark_emitted now meets a dead database
            produce(broker, during)  # events keep arriving while the database is down

            ready = httpx.get(f"{api_url}/readyz", timeout=10)
            assert ready.status_code == 503 and ready.headers["retry-after"] == "5"
            assert ready.json()["checks"]["database"].startswith("unavailable")
            for write in (
                platform.post("/v1/reports", json=report),
                moderator.post("/v1/review/items/some-item/claim"),
            ):
                assert write.status_code == 503, write.text
                assert write.headers["content-type"] == "application/problem+json"
                assert write.headers["retry-after"] == "5"
                assert write.json()["type"].endswith("/database-unavailable")

            # The outage itself: sample the worker and the group's offsets once a second.
            committed: dict[int, int] = {}
            end = time.monotonic() + OUTAGE_S
            while time.monotonic() < end:
                _alive(worker)
                for p, off in committed_offsets(broker, "fg-test").items():
                    committed[p] = max(off, committed.get(p, 0))
                time.sleep(1.0)  # sampling cadence during a fixed-length fault, not synchronisation
            log_during = worker.log()
            private_pg.start()

            wait_for(lambda: decided_count(url) == len(ids), 120, what="every event decided after the outage")
            assert httpx.get(f"{api_url}/readyz", timeout=10).status_code == 200
            after = platform.post("/v1/reports", json=report)
            assert after.status_code == 201, after.text  # served again
            wait_for(
                lambda: sum(committed_offsets(broker, "fg-test").values()) == len(ids), 30, what="commits"
            )
            _alive(worker)
            platform.close()
            moderator.close()
    finally:
        worker.stop()
    assert worker.proc.returncode == 0, worker.log()[-3000:]

    # Nothing lost, nothing twice, nothing dead-lettered because the database was down.
    assert_each_decided_once_and_announced_once(broker, url, ids)
    # No offset was committed past an event that was not decided before the outage.
    decided_before = {r.video_id for r in decisions(url) if r.created_at < down_at}
    inputs = read_topics(broker, [VIDEOS_GENERATED], until=len(ids))
    past_commit = [m.key for m in inputs if m.offset < committed.get(m.partition, 0)]
    assert set(past_commit) <= decided_before, set(past_commit) - decided_before
    assert unmarked not in past_commit  # its checkpoint failed, so it was rewound, not committed
    assert "checkpoint failed (OperationalError" in log_during
    assert "is already on its topic: marked emitted, not produced again" in worker.log()
    assert any(e["video_id"] not in decided_before for e in before), "the outage began too late"
    # Paused with back-off, not a busy loop: a handful of retries in 30 s, each with its delay.
    retries = log_during.count("retrying in")
    assert 1 <= retries <= 20, retries
    assert "dead-lettering" not in worker.log()


def test_broker_restart_the_worker_reconnects_and_decides_new_events(
    pg_url: str, tmp_path: Path, tiny_video: Path
) -> None:
    uri = tiny_video.resolve().as_uri()
    markers = tmp_path / "markers"
    markers.mkdir()
    first, second = _events("br-first", 3, uri), _events("br-second", 4, uri)
    with LocalBroker() as old:
        ensure_topics(old.bootstrap, partitions=4)
        port = old.port
        worker = light_worker(
            old.bootstrap,
            pg_url,
            tmp_path,
            tiny_video.parent,
            extra_detectors=["fgtest:SlowDetector"],
            env={"FEEDGUARD_TEST_DETECTOR_SLEEP": "1.5", "FEEDGUARD_TEST_MARKER_DIR": str(markers)},
        )
        try:
            produce(old.bootstrap, first)
            wait_for(
                lambda: sum(committed_offsets(old.bootstrap, "fg-test").values()) == len(first),
                90,
                what="the first events decided and committed",
            )
            # One more video in hand when the broker goes away: its produce and commit fail.
            produce(old.bootstrap, [event("br-inflight", uri, "clip in flight")])
            wait_for(lambda: len(list(markers.glob("started-*"))) > len(first), 30, what="video in hand")
            old.stop()  # SIGINT; its data (topics, offsets, group) is gone with it
        except BaseException:
            worker.stop()
            raise
    try:
        end = time.monotonic() + 5.0
        while time.monotonic() < end:  # broker down for 5 s: the worker must ride it out
            _alive(worker)
            time.sleep(0.5)  # sampling cadence during a fixed-length fault, not synchronisation
        with LocalBroker(port=port) as new:
            ensure_topics(new.bootstrap, partitions=4)
            produce(new.bootstrap, second)
            wait_for(
                lambda: {r.video_id for r in decisions(pg_url)} >= {e["video_id"] for e in second},
                120,
                what="the new events decided after the restart",
            )
            outcomes = read_topics(new.bootstrap, OUTCOME_TOPICS, until=len(second), quiet_s=1.5)
            _alive(worker)
            worker.stop()
            assert worker.proc.returncode == 0, worker.log()[-3000:]
            per_video = Counter(m.key for m in outcomes)
            for e in second:
                assert per_video[e["video_id"]] == 1, per_video
            assert read_topics(new.bootstrap, [DEAD_LETTERS], timeout_s=1.0) == []
    finally:
        worker.stop()
    per_decision = Counter(r.video_id for r in decisions(pg_url))
    assert set(per_decision.values()) == {1}, per_decision
    assert {e["video_id"] for e in first + second} | {"br-inflight"} == set(per_decision)

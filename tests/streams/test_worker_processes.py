"""Real worker processes in one consumer group: kill -9, rebalancing, graceful shutdown."""

from __future__ import annotations

import signal
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from fgtest import WorkerProcess, committed_offsets, event, produce, read_topics, wait_for
from sqlalchemy import create_engine, text

from streams.topics import FEED_PUBLISH, OUTCOME_TOPICS

pytestmark = pytest.mark.slow


def _query(pg_url: str, sql: str) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` on the test database; none while the schema is not created yet."""
    engine = create_engine(pg_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql))]
    except Exception:
        return []
    finally:
        engine.dispose()


def _decisions(pg_url: str) -> list[tuple[Any, ...]]:
    return _query(pg_url, "SELECT video_id, outcome, worker_id, id FROM decisions ORDER BY video_id")


def _reasons(pg_url: str) -> list[tuple[Any, ...]]:
    return _query(pg_url, "SELECT video_id, outcome, reasons FROM decisions")


def _events(n: int, videos: dict[str, Path], prefix: str) -> list[dict]:  # type: ignore[type-arg]
    return [
        event(f"{prefix}-{i:02d}", videos["plain"].resolve().as_uri(), f"clip number {i}") for i in range(n)
    ]


def _markers(d: Path) -> list[Path]:
    return sorted(d.glob("started-*"))


def test_worker_killed_mid_video_loses_nothing_and_publishes_nothing_twice(
    broker: str, pg_url: str, tmp_path: Path, videos: dict[str, Path], video_root: Path
) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    env = {"FEEDGUARD_TEST_DETECTOR_SLEEP": "1.5", "FEEDGUARD_TEST_MARKER_DIR": str(markers)}
    events = _events(6, videos, "kill")
    produce(broker, events)
    victim = WorkerProcess(
        broker, pg_url, tmp_path, video_root, extra_detectors=["fgtest:SlowDetector"], env=env
    )
    try:
        # Let it finish at least one video, then kill it in the middle of the next one.
        wait_for(
            lambda: len(_decisions(pg_url)) >= 1 and len(_markers(markers)) >= 2,
            60,
            what="victim to be mid-video",
        )
        victim.kill()
        decided_before = len(_decisions(pg_url))
        assert decided_before < len(events), "the victim finished everything before the kill"
    finally:
        victim.stop()
    survivor = WorkerProcess(
        broker, pg_url, tmp_path, video_root, idle_exit=3, extra_detectors=["fgtest:SlowDetector"], env=env
    )
    assert survivor.wait(120) == 0, survivor.log()
    rows = _decisions(pg_url)
    assert sorted(r[0] for r in rows) == sorted(e["video_id"] for e in events)  # nothing lost
    outcomes = read_topics(broker, OUTCOME_TOPICS, until=len(events), quiet_s=1.5)
    per_video = Counter(m.key for m in outcomes)
    assert per_video == Counter({e["video_id"]: 1 for e in events}), per_video  # nothing twice
    assert {m.value["decision_id"] for m in outcomes} == {r[3] for r in rows}
    assert sum(committed_offsets(broker, "fg-test").values()) == len(events)


def test_two_workers_split_the_partitions(
    broker: str, pg_url: str, tmp_path: Path, videos: dict[str, Path], video_root: Path
) -> None:
    env = {"FEEDGUARD_TEST_DETECTOR_SLEEP": "0.4"}
    events = _events(16, videos, "split")
    a = WorkerProcess(
        broker, pg_url, tmp_path, video_root, idle_exit=6, extra_detectors=["fgtest:SlowDetector"], env=env
    )
    b = WorkerProcess(
        broker, pg_url, tmp_path, video_root, idle_exit=6, extra_detectors=["fgtest:SlowDetector"], env=env
    )
    try:
        # Both must have joined before the events arrive, or the first one takes everything.
        wait_for(lambda: "assigned" in a.log() and "assigned" in b.log(), 60, what="both workers assigned")
        wait_for(
            lambda: (
                a.log().count("assigned") + b.log().count("assigned") >= 3
                or ("assigned []" not in a.log() and "assigned []" not in b.log())
            ),
            20,
            what="rebalance",
        )
        produce(broker, events)
        assert a.wait(120) == 0, a.log()
        assert b.wait(120) == 0, b.log()
    finally:
        a.stop()
        b.stop()
    rows = _decisions(pg_url)
    assert len(rows) == len(events)
    assert {r[1] for r in rows} == {"published"}, f"{[r for r in _reasons(pg_url) if r[1] != 'published']}"
    by_worker = Counter(r[2] for r in rows)
    assert len(by_worker) == 2, f"one worker did everything: {by_worker}"
    outcomes = read_topics(broker, [FEED_PUBLISH], until=len(events), quiet_s=1.0, timeout_s=60)
    keys = Counter(m.key for m in outcomes)
    assert keys == Counter({e["video_id"]: 1 for e in events}), (keys, rows, a.log()[-8000:], b.log()[-8000:])


def test_sigterm_finishes_the_video_in_hand_commits_and_exits_zero(
    broker: str, pg_url: str, tmp_path: Path, videos: dict[str, Path], video_root: Path
) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    env = {"FEEDGUARD_TEST_DETECTOR_SLEEP": "3", "FEEDGUARD_TEST_MARKER_DIR": str(markers)}
    events = _events(3, videos, "term")
    produce(broker, events[:1])
    w = WorkerProcess(broker, pg_url, tmp_path, video_root, extra_detectors=["fgtest:SlowDetector"], env=env)
    try:
        wait_for(lambda: _markers(markers), 60, what="a video in hand")
        produce(broker, events[1:])
        w.signal(signal.SIGTERM)
        assert w.wait(30) == 0, w.log()
    finally:
        w.stop()
    rows = _decisions(pg_url)
    assert [r[0] for r in rows] == ["term-00"]  # the one in hand was finished, nothing else started
    (msg,) = read_topics(broker, OUTCOME_TOPICS, until=1, quiet_s=1.0)
    assert msg.key == "term-00"
    assert sum(committed_offsets(broker, "fg-test").values()) == 1
    # A restarted worker picks up exactly where it stopped.
    again = WorkerProcess(broker, pg_url, tmp_path, video_root, idle_exit=3)
    assert again.wait(60) == 0, again.log()
    assert sorted(r[0] for r in _decisions(pg_url)) == [e["video_id"] for e in events]
    assert Counter(m.key for m in read_topics(broker, OUTCOME_TOPICS, until=3, quiet_s=1.0)) == Counter(
        {e["video_id"]: 1 for e in events}
    )


def test_json_logs_carry_the_video_id_and_metrics_are_served(
    broker: str, pg_url: str, tmp_path: Path, videos: dict[str, Path], video_root: Path
) -> None:
    import json

    from streams import free_port

    port = free_port()
    produce(broker, _events(3, videos, "obs"))
    w = WorkerProcess(
        broker, pg_url, tmp_path, video_root, log_format="json", extra_args=["--metrics-port", str(port)]
    )
    try:
        wait_for(lambda: len(_decisions(pg_url)) == 3, 60, what="3 decisions")
        # the gauge's HELP line is there from the start; a sample per partition once the worker knows it
        wait_for(lambda: "feedguard_consumer_lag{partition=" in _scrape(port), 20, what="lag gauge")
        metrics = _scrape(port)
    finally:
        w.stop()
    lines = [json.loads(line) for line in w.log().splitlines() if line.startswith("{")]
    decided = [x for x in lines if x["msg"].startswith("decided ")]
    assert sorted(x["video_id"] for x in decided) == ["obs-00", "obs-01", "obs-02"]
    assert all({"ts", "level", "logger", "msg"} <= x.keys() for x in lines)
    assert 'feedguard_pipeline_stage_seconds_count{stage="detect:prompt_screen"} 3.0' in metrics
    assert 'feedguard_worker_decisions_total{fresh="true",outcome="published"} 3.0' in metrics
    assert "feedguard_consumer_lag{partition=" in metrics


def _scrape(port: int) -> str:
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
            return r.read().decode()
    except OSError:
        return ""

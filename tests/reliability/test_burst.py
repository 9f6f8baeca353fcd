"""A burst of events on two worker processes: lag drains to 0, nothing lost or doubled, flat memory.

The cost per event is kept low on purpose (the light policy, provenance off, one tiny shared
video): the point is the loop's memory and lag, not detector cost. 300 events run by default;
the 2,000-event soak runs with ``FEEDGUARD_SOAK=1`` (marker ``soak``, registered in conftest).
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fgtest import WorkerProcess, committed_offsets, event, produce, read_topics, wait_for
from relhelp import decided_count, decisions, light_worker, proc_status

from streams.topics import DEAD_LETTERS, OUTCOME_TOPICS

# Memory may not grow from the first quarter of the drain to the last by more than this.
RSS_GROWTH_LIMIT = 0.10  # +10 % of the first quarter's peak ...
RSS_GROWTH_FLOOR_KB = 24 * 1024  # ... or 24 MiB, whichever is larger (allocator noise)


@dataclass
class Sample:
    t: float
    rss_kb: dict[int, int]
    lag: int
    decided: int


@dataclass
class Run:
    samples: list[Sample] = field(default_factory=list)


def _quarters_ok(series: list[tuple[float, int]]) -> tuple[int, int, bool]:
    """(first-quarter peak, last-quarter peak, within the limit) of one worker's RSS over time."""
    start, end = series[0][0], series[-1][0]
    span = end - start
    first = max(v for t, v in series if t <= start + span / 4)
    last = max(v for t, v in series if t >= end - span / 4)
    limit = first + max(first * RSS_GROWTH_LIMIT, RSS_GROWTH_FLOOR_KB)
    return first, last, last <= limit


@pytest.mark.slow
@pytest.mark.longest
@pytest.mark.parametrize(
    "n",
    [
        pytest.param(300, id="300"),
        pytest.param(
            2000,
            id="2000",
            marks=[
                pytest.mark.soak,
                pytest.mark.timeout(1200),
                pytest.mark.skipif(not os.environ.get("FEEDGUARD_SOAK"), reason="soak: FEEDGUARD_SOAK=1"),
            ],
        ),
    ],
)
def test_burst_two_workers_drain_without_loss_or_duplicates_and_flat_memory(
    n: int, broker: str, pg_url: str, tmp_path: Path, tiny_video: Path
) -> None:
    uri = tiny_video.resolve().as_uri()
    ids = [f"burst-{i:05d}" for i in range(n)]
    workers: list[WorkerProcess] = [
        light_worker(broker, pg_url, tmp_path, tiny_video.parent) for _ in range(2)
    ]
    run = Run()
    try:
        # Both in the group before the burst, or the first one takes every partition.
        wait_for(lambda: all(_assigned_some(w) for w in workers), 120, what="both workers assigned")
        started = time.monotonic()
        produce(broker, [event(v, uri, f"clip {i}") for i, v in enumerate(ids)])
        produced_s = time.monotonic() - started

        def drained() -> bool:
            for w in workers:
                assert w.proc.poll() is None, w.log()[-3000:]
            committed = sum(committed_offsets(broker, "fg-test").values())
            run.samples.append(
                Sample(
                    time.monotonic() - started,
                    {w.proc.pid: proc_status(w.proc.pid)["VmRSS"] for w in workers},
                    n - committed,
                    decided_count(pg_url),
                )
            )
            return committed == n

        wait_for(drained, 600, 0.5, what=f"lag of {n} events to drain to 0")
        drain_s = time.monotonic() - started
        peaks = {w.proc.pid: proc_status(w.proc.pid)["VmHWM"] for w in workers}
    finally:
        for w in workers:
            w.stop()
    assert [w.proc.returncode for w in workers] == [0, 0], [w.log()[-2000:] for w in workers]

    rows = decisions(pg_url)
    per_video = Counter(r.video_id for r in rows)
    lost = set(ids) - set(per_video)
    assert not lost, f"{len(lost)} lost"
    assert len(rows) == n and set(per_video.values()) == {1}
    by_worker = Counter(r.worker_id for r in rows)
    assert len(by_worker) == 2, by_worker
    outcomes = read_topics(broker, OUTCOME_TOPICS, until=n, timeout_s=60, quiet_s=2.0)
    counts = Counter(m.key for m in outcomes)
    duplicates = sum(c - 1 for c in counts.values())
    assert duplicates == 0 and set(counts) == set(ids), (duplicates, len(set(ids) - set(counts)))
    by_id = {r.video_id: r.id for r in rows}
    assert all(m.value["decision_id"] == by_id[m.key] for m in outcomes)
    assert read_topics(broker, [DEAD_LETTERS], timeout_s=1.0) == []

    verdicts = {}
    for pid in peaks:
        series = [(s.t, s.rss_kb[pid]) for s in run.samples]
        first, last, ok = _quarters_ok(series)
        verdicts[pid] = {"first_quarter_peak_kb": first, "last_quarter_peak_kb": last, "ok": ok}
    summary = {
        "events": n,
        "workers": 2,
        "produce_s": round(produced_s, 2),
        "drain_s": round(drain_s, 1),
        "events_per_s": round(n / drain_s, 1),
        "max_lag": max(s.lag for s in run.samples),
        "lost": len(lost),
        "duplicates": duplicates,
        "per_worker_decisions": dict(by_worker),
        "peak_rss_kb": peaks,
        "rss": verdicts,
    }
    print("BURST", json.dumps(summary))
    (tmp_path / "burst-summary.json").write_text(json.dumps(summary, indent=2))
    assert all(v["ok"] for v in verdicts.values()), summary


def _assigned_some(w: WorkerProcess) -> bool:
    """The worker's latest assignment is not empty."""
    lines = [line for line in w.log().splitlines() if "streams.worker" in line and " assigned " in line]
    return bool(lines) and not lines[-1].rstrip().endswith("assigned []")

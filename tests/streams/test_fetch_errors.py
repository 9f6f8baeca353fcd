"""A fetch that cannot be decoded is never a hot loop (issue 15).

The platform side is librdkafka (confluent-kafka, idempotent producer, zstd, lz4 or snappy). The
worker is a real process whose codec library is hidden (a stub package on its PYTHONPATH that
refuses to import), which is exactly what a worker without kafka-python's codec extras sees. Before
the fetch guard, ``poll()`` never returned and the worker burnt a whole core on the same fetch, with
no metric, no dead letter and no exit.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from fgtest import WorkerProcess, committed_offsets, event, read_topics, wait_for
from kafka.record.memory_records import MemoryRecords

from streams import free_port
from streams.topics import DEAD_LETTERS, OUTCOME_TOPICS, VIDEOS_GENERATED

pytestmark = pytest.mark.slow

confluent_kafka = pytest.importorskip("confluent_kafka")

BATCH = 3


# codec -> (the Python module kafka-python decodes it with, the batch attribute's codec id)
CODECS = {"zstd": ("zstandard", 4), "lz4": ("lz4", 3), "snappy": ("snappy", 2)}


def _hidden(tmp_path: Path, module: str) -> Path:
    stub = tmp_path / "hide" / module
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text(f'raise ImportError("{module} hidden by the test")\n')
    return stub.parent


def _produce_batch_then_plain(broker: str, uri: str, prefix: str, codec: str = "zstd") -> None:
    """Partition 0: one compressed batch of BATCH events, then one uncompressed event behind it."""
    for compression, ids in ((codec, range(BATCH)), ("none", [BATCH])):
        p = confluent_kafka.Producer(
            {
                "bootstrap.servers": broker,
                "enable.idempotence": True,
                "compression.type": compression,
                "linger.ms": 50,
            }
        )
        for i in ids:
            ev = event(f"{prefix}-{i}", uri, "a calm lake at dawn, wide shot, soft light " * 8)
            p.produce(
                VIDEOS_GENERATED, key=ev["video_id"].encode(), value=json.dumps(ev).encode(), partition=0
            )
        assert p.flush(20) == 0


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu_share(pid: int, window_s: float) -> tuple[float, float]:
    """CPU cores used by ``pid`` and by a busy-loop process over the same window."""
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)
        c0, s0, t0 = _cpu_seconds(pid), _cpu_seconds(spinner.pid), time.monotonic()
        time.sleep(window_s)
        c1, s1, t1 = _cpu_seconds(pid), _cpu_seconds(spinner.pid), time.monotonic()
    finally:
        spinner.kill()
        spinner.wait()
    return (c1 - c0) / (t1 - t0), (s1 - s0) / (t1 - t0)


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _worker(
    broker: str, pg_url: str, tmp_path: Path, video_root: Path, hide_module: str = "zstandard", **env: str
) -> tuple[WorkerProcess, int]:
    port = free_port()
    hide = _hidden(tmp_path, hide_module)
    root = Path(__file__).resolve().parents[2]
    w = WorkerProcess(
        broker,
        pg_url,
        tmp_path,
        video_root,
        extra_args=["--metrics-port", str(port)],
        env={"PYTHONPATH": os.pathsep.join([str(hide), str(root), str(root / "tests")]), **env},
    )
    return w, port


@pytest.mark.parametrize("codec", sorted(CODECS))
def test_undecodable_batch_backs_off_is_reported_then_dead_lettered_and_partition_moves_on(
    codec: str, broker: str, pg_url: str, tmp_path: Path, videos: dict[str, Path], video_root: Path
) -> None:
    module, codec_id = CODECS[codec]
    _produce_batch_then_plain(broker, videos["plain"].resolve().as_uri(), "codec", codec)
    w, port = _worker(broker, pg_url, tmp_path, video_root, module, FEEDGUARD_FETCH_MAX_ATTEMPTS="6")
    try:
        wait_for(lambda: "assigned [" in w.log(), 120, what="partitions assigned")
        time.sleep(6.0)  # unguarded, the first error was logged, then 5 s later the spin began
        # Backing off (0.5 + 1 + 2 + 5 + 5 s), the worker must idle. The machine is shared, so its CPU
        # is compared with a busy loop's over the same window (unguarded it matched the busy loop).
        share, spinner_share = _cpu_share(w.proc.pid, 4.0)
        assert share < 0.25 * spinner_share, f"worker used {share:.2f} core, a busy loop {spinner_share:.2f}"
        assert "fetch of videos.generated[0]@0 failed" in w.log()
        status, body = _get(f"http://127.0.0.1:{port}/healthz")
        assert status == 503, body
        stalled = json.loads(body)["stalled_partitions"]
        assert stalled[0]["partition"] == 0 and stalled[0]["offset"] == 0
        assert "UnsupportedCodecError" in stalled[0]["error"] and stalled[0]["policy"] == "dead_letter"
        _, metrics = _get(f"http://127.0.0.1:{port}/metrics")
        assert 'feedguard_fetch_errors_total{error="UnsupportedCodecError",partition="0"' in metrics

        letters = wait_for(
            lambda: read_topics(broker, [DEAD_LETTERS], until=1, timeout_s=2), 60, what="dead letter"
        )
        letter = letters[0].value
        assert letter["source_partition"] == 0
        assert (letter["source_offset"], letter["source_last_offset"]) == (0, BATCH - 1)
        assert letter["error_type"] == "UnsupportedCodecError" and letter["attempts"] == 6
        raw = base64.b64decode(letter["value_b64"])
        assert hashlib.sha256(raw).hexdigest() == letter["value_sha256"] and len(raw) == letter["value_bytes"]
        # Nothing is lost: the letter's batch still decodes where the codec is installed.
        batch = MemoryRecords(raw).next_batch()
        assert batch.compression_type == codec_id
        assert [json.loads(r.value)["video_id"] for r in batch] == [f"codec-{i}" for i in range(BATCH)]

        # The event behind the batch is decided; the partition is healthy again.
        outcomes = wait_for(
            lambda: read_topics(broker, OUTCOME_TOPICS, until=1, timeout_s=2), 90, what="outcome"
        )
        assert [m.key for m in outcomes] == [f"codec-{BATCH}"]
        wait_for(lambda: committed_offsets(broker, "fg-test").get(0) == BATCH + 1, 30, what="commit")
        assert _get(f"http://127.0.0.1:{port}/healthz")[0] == 200
        _, metrics = _get(f"http://127.0.0.1:{port}/metrics")
        assert 'feedguard_fetch_skipped_batches_total{partition="0",topic="videos.generated"} 1.0' in metrics
    finally:
        w.stop()


def test_fail_policy_stops_the_worker_loudly_with_the_fix_and_commits_nothing(
    broker: str, pg_url: str, tmp_path: Path, videos: dict[str, Path], video_root: Path
) -> None:
    _produce_batch_then_plain(broker, videos["plain"].resolve().as_uri(), "fail")
    w, _ = _worker(
        broker,
        pg_url,
        tmp_path,
        video_root,
        FEEDGUARD_FETCH_MAX_ATTEMPTS="2",
        FEEDGUARD_UNREADABLE_FETCH="fail",
    )
    try:
        code = w.wait(120)
    finally:
        w.stop()
    log = w.log()
    assert code == 3, log[-3000:]
    assert "cannot read videos.generated[0] offsets 0..2 after 2 attempts" in log
    assert "kafka-python[crc32c,lz4,snappy,zstd]" in log
    assert committed_offsets(broker, "fg-test").get(0) is None
    assert read_topics(broker, [DEAD_LETTERS, *OUTCOME_TOPICS], timeout_s=2) == []

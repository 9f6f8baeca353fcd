"""Helpers shared by the tests: events, topic readers, worker processes, test detectors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from kafka import KafkaConsumer, KafkaProducer

from classifiers import Detector, DetectorInput, Modality, Signal

ROOT = Path(__file__).resolve().parent.parent


def event(
    video_id: str, uri: str, prompt: str = "a calm lake at dawn", age_band: str = "adult", **extra: Any
) -> dict[str, Any]:
    return {
        "schema": "video.generated/v1",
        "video_id": video_id,
        "creator": {"id": f"creator-{video_id}", "age_band": age_band},
        "prompt": prompt,
        "uri": uri,
        "cameos": [],
        "remix_of": None,
        "created_at": datetime.now(UTC).isoformat(),
        **extra,
    }


def produce(
    bootstrap: str, events: Iterable[dict[str, Any] | bytes], topic: str = "videos.generated"
) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    for ev in events:
        if isinstance(ev, bytes):
            producer.send(topic, key=b"raw", value=ev)
        else:
            producer.send(topic, key=ev["video_id"].encode(), value=json.dumps(ev).encode())
    producer.flush()
    producer.close()


@dataclass
class Message:
    topic: str
    partition: int
    offset: int
    key: str | None
    value: dict[str, Any]
    headers: dict[str, bytes]


def read_topics(
    bootstrap: str,
    topics: Iterable[str],
    *,
    until: int | None = None,
    timeout_s: float = 30.0,
    quiet_s: float = 0.0,
) -> list[Message]:
    """Read from the start of ``topics`` until ``until`` messages arrived (or timeout), then keep
    listening ``quiet_s`` more to catch duplicates that should not exist."""
    consumer = KafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    out: list[Message] = []
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline and (until is None or len(out) < until):
            for records in consumer.poll(timeout_ms=300).values():
                out.extend(_msg(r) for r in records)
        end = time.monotonic() + quiet_s
        while time.monotonic() < end:
            for records in consumer.poll(timeout_ms=300).values():
                out.extend(_msg(r) for r in records)
    finally:
        consumer.close()
    return out


def _msg(r: Any) -> Message:
    return Message(
        r.topic,
        r.partition,
        r.offset,
        r.key.decode() if r.key else None,
        json.loads(r.value),
        dict(r.headers or []),
    )


def committed_offsets(bootstrap: str, group: str, topic: str = "videos.generated") -> dict[int, int]:
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        offsets = admin.list_group_offsets(group)[group]
    finally:
        admin.close()
    return {
        tp.partition: meta.offset for tp, meta in offsets.items() if tp.topic == topic and meta.offset >= 0
    }


class WorkerProcess:
    """``python -m safety worker`` as a real child process (``module``: another entry point, e.g.
    the reliability tests' ``armed_cli``, which arms failpoints first)."""

    def __init__(
        self,
        bootstrap: str,
        database_url: str,
        data_dir: Path,
        media_root: Path,
        group: str = "fg-test",
        idle_exit: float | None = None,
        extra_detectors: list[str] | None = None,
        env: dict[str, str] | None = None,
        log_format: str = "text",
        extra_args: list[str] | None = None,
        module: str = "safety",
    ) -> None:
        cmd = [
            sys.executable,
            "-m",
            module,
            "worker",
            "--bootstrap-servers",
            bootstrap,
            "--database-url",
            database_url,
            "--data-dir",
            str(data_dir),
            "--group",
            group,
            "--media-root",
            str(media_root),
            "--log-format",
            log_format,
            *(extra_args or []),
        ]
        if idle_exit is not None:
            cmd += ["--idle-exit", str(idle_exit)]
        full_env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")]),
            "FEEDGUARD_SESSION_TIMEOUT_MS": "2000",
            "FEEDGUARD_EXTRA_DETECTORS": json.dumps(extra_detectors or []),
            **(env or {}),
        }
        self.log_path = data_dir / f"worker-{time.monotonic_ns()}.log"
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            cmd, env=full_env, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=ROOT
        )

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def wait(self, timeout: float = 60.0) -> int:
        try:
            return self.proc.wait(timeout)
        finally:
            self._log.close()

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


def wait_for(
    predicate: Any, timeout_s: float = 30.0, interval_s: float = 0.1, what: str = "condition"
) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


# --- detectors the tests plug in through FEEDGUARD_EXTRA_DETECTORS -------------------------


class RaisingDetector(Detector):
    """Always fails: proves a broken detector sends the video to review."""

    name: ClassVar[str] = "test.raises"
    version: ClassVar[str] = "0"
    consumes: ClassVar[frozenset[Modality]] = frozenset({Modality.FRAMES})
    signal_names: ClassVar[tuple[str, ...]] = ()

    def detect(self, data: DetectorInput) -> list[Signal]:
        raise RuntimeError("model session crashed")


class SlowDetector(Detector):
    """Sleeps FEEDGUARD_TEST_DETECTOR_SLEEP seconds per video (kill-mid-video tests), and
    optionally writes a marker file when it starts so a test knows a video is in hand."""

    name: ClassVar[str] = "test.slow"
    version: ClassVar[str] = "0"
    consumes: ClassVar[frozenset[Modality]] = frozenset({Modality.TEXT})
    signal_names: ClassVar[tuple[str, ...]] = ()

    def detect(self, data: DetectorInput) -> list[Signal]:
        marker = os.environ.get("FEEDGUARD_TEST_MARKER_DIR")
        if marker and data.text is not None:
            Path(marker, f"started-{os.getpid()}-{time.monotonic_ns()}").write_text(data.text.prompt)
        time.sleep(float(os.environ.get("FEEDGUARD_TEST_DETECTOR_SLEEP", "1")))
        return []


class HangingDetector(Detector):
    """Never returns (within the test): proves the stage timeout."""

    name: ClassVar[str] = "test.hangs"
    version: ClassVar[str] = "0"
    consumes: ClassVar[frozenset[Modality]] = frozenset({Modality.TEXT})
    signal_names: ClassVar[tuple[str, ...]] = ()

    def detect(self, data: DetectorInput) -> list[Signal]:
        time.sleep(3600)
        return []


class BoxDetector(Detector):
    """Emits one boxed face per sampled frame: proves evidence boxes reach the review page."""

    name: ClassVar[str] = "test.boxes"
    version: ClassVar[str] = "0"
    consumes: ClassVar[frozenset[Modality]] = frozenset({Modality.FRAMES})
    signal_names: ClassVar[tuple[str, ...]] = ("test.face",)

    def detect(self, data: DetectorInput) -> list[Signal]:
        from classifiers import Box, Evidence

        assert data.frames is not None
        evidence = [
            Evidence(frame_index=i, t=t, box=Box(0.25, 0.2, 0.3, 0.4), label="face", score=0.9)
            for i, t in enumerate(data.frames.timestamps)
        ]
        return [self._signal("test.face", 0.9, evidence)]

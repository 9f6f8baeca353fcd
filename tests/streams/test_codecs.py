"""librdkafka in, librdkafka out: every Kafka compression codec is decided (issue 15).

The platform's side is confluent-kafka (librdkafka): idempotent producers with each
``compression.type`` write the events, the worker (kafka-python, as the design card names it)
decides them, and a confluent-kafka consumer group reads the outcomes back, each checked against
the published JSON Schemas, its key and its ``decision_id`` header.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from fgtest import ROOT, event
from kafka import KafkaConsumer
from kafka.record.default_records import DefaultRecordBatch

from streams.topics import OUTCOME_TOPICS, VIDEOS_GENERATED

pytestmark = pytest.mark.slow

confluent_kafka = pytest.importorskip("confluent_kafka")

CODECS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}
PER_CODEC = 2


def _schemas() -> dict[str, Any]:
    out = {}
    for path in (ROOT / "schemas").glob("*.json"):
        if path.name.startswith("asyncapi"):
            continue
        doc = json.loads(path.read_text())
        out[path.stem.replace("-v", "/v")] = doc
    return out


def _produce(broker: str, uri: str) -> list[str]:
    ids = []
    for codec in CODECS:
        producer = confluent_kafka.Producer(
            {
                "bootstrap.servers": broker,
                "enable.idempotence": True,  # acks=all, ordered, no duplicates on retry
                "compression.type": codec,
                "linger.ms": 100,  # one batch per codec, large enough that compression applies
            }
        )
        for i in range(PER_CODEC):
            video_id = f"{codec}-{i}"
            ev = event(video_id, uri, f"{codec} clip {i}: a calm lake at dawn, wide shot, soft light " * 6)
            producer.produce(VIDEOS_GENERATED, key=video_id.encode(), value=json.dumps(ev).encode())
            ids.append(video_id)
        assert producer.flush(20) == 0, f"{codec}: messages left undelivered"
    return ids


def _codecs_on_topic(broker: str, n: int, monkeypatch: pytest.MonkeyPatch) -> set[int]:
    """Which codecs the events' batches really carry (librdkafka sends a batch uncompressed when
    compressing would not make it smaller, so this proves each codec was exercised)."""
    seen: set[int] = set()
    original = DefaultRecordBatch.__iter__

    def spy(self: DefaultRecordBatch) -> Any:
        seen.add(self.compression_type)
        return original(self)

    monkeypatch.setattr(DefaultRecordBatch, "__iter__", spy)
    consumer = KafkaConsumer(VIDEOS_GENERATED, bootstrap_servers=broker, auto_offset_reset="earliest")
    got = 0
    deadline = time.monotonic() + 30
    while got < n and time.monotonic() < deadline:
        got += sum(len(r) for r in consumer.poll(timeout_ms=300).values())
    consumer.close()
    monkeypatch.setattr(DefaultRecordBatch, "__iter__", original)
    assert got == n
    return seen


def _read_outcomes(broker: str, n: int) -> list[Any]:
    consumer = confluent_kafka.Consumer(
        {
            "bootstrap.servers": broker,
            "group.id": f"platform-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "session.timeout.ms": 6000,  # Tansu's group join waits half of it
            "heartbeat.interval.ms": 1000,
        }
    )
    consumer.subscribe(list(OUTCOME_TOPICS))
    out = []
    deadline = time.monotonic() + 60
    try:
        while len(out) < n and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            assert msg.error() is None, msg.error()
            out.append(msg)
        end = time.monotonic() + 2  # listen on: duplicates must not exist
        while time.monotonic() < end:
            msg = consumer.poll(0.3)
            if msg is not None and msg.error() is None:
                out.append(msg)
        consumer.commit(asynchronous=False)
    finally:
        consumer.close()
    return out


def test_every_codec_from_librdkafka_is_decided_and_read_back_by_a_librdkafka_group(
    run_worker: Any, broker: str, videos: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = _produce(broker, videos["plain"].resolve().as_uri())
    assert _codecs_on_topic(broker, len(ids), monkeypatch) == set(CODECS.values())

    stats, _ = run_worker(idle_exit_s=4.0)
    assert stats.dead_lettered == 0 and stats.decided == len(ids)

    schemas = _schemas()
    messages = _read_outcomes(broker, len(ids))
    by_video: dict[str, list[str]] = {}
    for msg in messages:
        body = json.loads(msg.value())
        headers = dict(msg.headers() or [])
        jsonschema.validate(body, schemas[body["schema"]])
        assert msg.key().decode() == body["video_id"]
        assert headers["decision_id"].decode() == body["decision_id"]
        assert headers["schema"].decode() == body["schema"]
        by_video.setdefault(body["video_id"], []).append(msg.topic())
    assert sorted(by_video) == sorted(ids), "every event decided, none twice"
    assert all(len(topics) == 1 for topics in by_video.values()), by_video

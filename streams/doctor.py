"""The Kafka side of ``feedguard doctor``: broker reachable, topics and partitions, codecs.

Returns plain dicts (``name``, ``ok``, ``detail``, ``fix``) so the CLI (``safety.cli.doctor``,
reached through ``safety.composition``) prints them without knowing Kafka.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable
from typing import Any

from kafka import KafkaConsumer, codec
from kafka.errors import KafkaError

Check = dict[str, Any]


def _check(name: str, ok: bool, detail: str, fix: str = "") -> Check:
    return {"name": name, "ok": ok, "detail": detail, "fix": "" if ok else fix}


def codec_checks() -> list[Check]:
    """Every compression codec a producer may use must decode here (else the fetch stalls)."""
    missing = [
        name
        for name, present in (
            ("snappy", codec.has_snappy()),
            ("lz4", codec.has_lz4()),
            ("zstd", codec.has_zstd()),
        )
        if not present
    ]
    return [
        _check(
            "kafka codecs",
            not missing,
            "gzip, snappy, lz4, zstd decode" if not missing else f"cannot decode {', '.join(missing)}",
            "pip install 'kafka-python[crc32c,lz4,snappy,zstd]' (feedguard declares these extras)",
        )
    ]


def _reachable(bootstrap: str, timeout_s: float) -> str | None:
    """None when some bootstrap address accepts TCP, else why not."""
    errors = []
    for address in bootstrap.split(","):
        host, _, port = address.strip().rpartition(":")
        try:
            with socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout_s):
                return None
        except (OSError, ValueError) as exc:
            errors.append(f"{address}: {exc}")
    return "; ".join(errors) or "no bootstrap address"


def broker_checks(bootstrap: str, topics: Iterable[str], timeout_s: float = 5.0) -> list[Check]:
    """The broker answers, and every topic of the contract exists with its partition count."""
    fix = f"start the broker or set FEEDGUARD_KAFKA_BOOTSTRAP (now {bootstrap}); `feedguard broker` runs one"
    why = _reachable(bootstrap, timeout_s)
    if why is not None:
        return [_check("broker", False, f"{bootstrap} unreachable: {why}", fix)]
    try:
        consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            request_timeout_ms=int(timeout_s * 1000) + 500,
        )
    except KafkaError as exc:
        return [_check("broker", False, f"{bootstrap}: {type(exc).__name__}: {exc}", fix)]
    try:
        present = consumer.topics()
        out = [_check("broker", True, f"{bootstrap} answers ({len(present)} topics)")]
        for topic in topics:
            parts = consumer.partitions_for_topic(topic) if topic in present else None
            if not parts:
                out.append(
                    _check(
                        f"topic {topic}", False, "missing", "feedguard worker creates missing topics on start"
                    )
                )
            else:
                out.append(_check(f"topic {topic}", True, f"{len(parts)} partitions"))
        return out
    finally:
        consumer.close()

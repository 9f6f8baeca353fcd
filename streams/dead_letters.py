"""Dead letters: the raw event (or the raw fetched batch) with where it sat and why it failed, so
nothing is lost when the loop skips it."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from typing import Any

from safety.events import DeadLetter
from streams import fetchguard
from streams.serde import MAX_EVENT_BYTES, encode


def for_record(record: Any, exc: BaseException, attempts: int) -> tuple[bytes | None, bytes]:
    """``(key, value)`` of the letter for one consumed record."""
    value = bytes(record.value or b"")
    letter = DeadLetter(
        error=str(exc)[:4000],
        error_type=type(exc).__name__,
        source_topic=record.topic,
        source_partition=record.partition,
        source_offset=record.offset,
        key_b64=base64.b64encode(record.key[:1024]).decode() if record.key is not None else None,
        # Cut to the event limit: a letter must fit the producer's request size, or the poison
        # event could never leave the partition. Size and hash identify the original.
        value_b64=base64.b64encode(value[:MAX_EVENT_BYTES]).decode(),
        value_bytes=len(value),
        value_sha256=hashlib.sha256(value).hexdigest(),
        attempts=attempts,
        failed_at=datetime.now(UTC),
    )
    return record.key, encode(letter)


def for_batch(info: fetchguard.UnreadableFetch, exc: BaseException, attempts: int) -> tuple[bytes, bytes]:
    """``(key, value)`` of the letter for a fetched batch that could not be decoded."""
    letter = DeadLetter(
        error=str(exc)[:4000],
        error_type=type(exc).__name__,
        source_topic=info.tp.topic,
        source_partition=info.tp.partition,
        source_offset=info.first_offset,
        source_last_offset=info.last_offset,
        key_b64=None,
        value_b64=base64.b64encode(info.batch[:MAX_EVENT_BYTES]).decode(),
        value_bytes=len(info.batch),
        value_sha256=hashlib.sha256(info.batch).hexdigest(),
        attempts=attempts,
        failed_at=datetime.now(UTC),
    )
    return f"{info.tp.topic}:{info.tp.partition}:{info.first_offset}".encode(), encode(letter)

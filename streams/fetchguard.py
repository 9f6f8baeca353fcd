"""A fetch that cannot be decoded must surface as an error, not spin inside ``poll()``.

kafka-python 3.0.x unpacks fetched batches in a generator. When a batch cannot be read (a codec
library missing, a batch whose CRC or framing is wrong), the generator raises once and is dead
from then on, but the partition's records object still looks non-empty, so
``Fetcher.fetched_records`` loops over it forever at 100% CPU without ever returning from
``poll()`` (reproduced in ``tests/streams/test_fetch_errors.py``). The guard wraps
``PartitionRecords.take``: on any error it drains the dead records object (so the partition is
fetched again from the same position on the next poll, as the Java client does) and attaches an
:class:`UnreadableFetch` naming the partition, the offset and the batch, then lets the error
propagate out of ``poll()`` where the worker's policy handles it (``streams.worker``).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from kafka.consumer import fetcher as _fetcher
from kafka.structs import TopicPartition

_ATTR = "feedguard_fetch"


@dataclass(frozen=True)
class UnreadableFetch:
    """Where a fetch failed: the partition, the position, and the batch that holds it."""

    tp: TopicPartition
    offset: int  # the consumer position the fetch could not get past
    first_offset: int  # first offset of the batch that failed (== offset when unknown)
    last_offset: int  # last offset of that batch (== offset when unknown)
    batch: bytes  # the raw batch as the broker sent it (b"" when it could not be framed)


def unreadable(exc: BaseException) -> UnreadableFetch | None:
    """The :class:`UnreadableFetch` the guard attached to ``exc``, if any."""
    found = getattr(exc, _ATTR, None)
    return found if isinstance(found, UnreadableFetch) else None


def locate_batch(raw: bytes, offset: int) -> tuple[int, int, bytes]:
    """(first offset, last offset, raw bytes) of the batch in ``raw`` that holds ``offset``.

    Reads only the v2 batch headers (no decompression, no CRC): the point is to name and skip a
    batch that cannot be read. Legacy (v0/v1) entries count as one offset each.
    """
    pos = 0
    while pos + 17 <= len(raw):
        base, length = struct.unpack_from(">qi", raw, pos)
        end = pos + 12 + length
        if length < 0 or end > len(raw):
            break
        magic = raw[pos + 16]
        last = base + struct.unpack_from(">i", raw, pos + 23)[0] if magic >= 2 and pos + 27 <= end else base
        if last >= offset:
            return base, last, bytes(raw[pos:end])
        pos = end
    return offset, offset, b""


_original_init = _fetcher.Fetcher.PartitionRecords.__init__
_original_take = _fetcher.Fetcher.PartitionRecords.take


def _init(self: Any, fetch_offset: int, tp: TopicPartition, records: Any, *args: Any, **kwargs: Any) -> None:
    self._feedguard_raw = getattr(records, "_buffer", b"")
    _original_init(self, fetch_offset, tp, records, *args, **kwargs)


def _take(self: Any, n: int | None = None) -> Any:
    try:
        return _original_take(self, n)
    except Exception as exc:
        offset = int(self.next_fetch_offset)
        first, last, batch = locate_batch(bytes(self._feedguard_raw or b""), offset)
        if not hasattr(exc, _ATTR):
            setattr(exc, _ATTR, UnreadableFetch(self.topic_partition, offset, first, last, batch))
        self.drain()  # the generator is dead: let the partition be fetched again
        raise


def install() -> None:
    """Patch kafka-python once (idempotent); fails loudly if its internals moved."""
    cls = _fetcher.Fetcher.PartitionRecords
    if getattr(cls, "_feedguard_guarded", False):
        return
    for name in ("take", "drain", "__init__"):
        if not hasattr(cls, name):  # pragma: no cover - only on an unsupported kafka-python
            raise RuntimeError(f"kafka-python changed: PartitionRecords.{name} is gone (see fetchguard)")
    cls.__init__ = _init
    cls.take = _take
    cls._feedguard_guarded = True

"""The composition root: the one module of ``safety`` that may import ``streams``.

Everything the service needs from the Kafka side is reached through a function here, so the rest
of ``safety`` knows Kafka only through what this module hands it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from streams.doctor import broker_checks as _broker_checks
from streams.doctor import codec_checks as _codec_checks
from streams.fetch_errors import FetchUnreadableError

__all__ = ["FetchUnreadableError", "broker_checks"]


def broker_checks(bootstrap: str, topics: Iterable[str], timeout_s: float = 5.0) -> list[dict[str, Any]]:
    """``feedguard doctor``'s Kafka checks: codecs, broker reachable, topics and their partitions."""
    return [*_codec_checks(), *_broker_checks(bootstrap, topics, timeout_s)]

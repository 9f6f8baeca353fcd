"""Logging set-up: JSON lines for machines (default in services) or plain text for people."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}
_video_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("video_id", default=None)


@contextmanager
def video_context(video_id: str | None) -> Iterator[None]:
    """Every log line emitted inside (any logger, this thread) carries ``video_id``."""
    token = _video_id.set(video_id)
    try:
        yield
    finally:
        _video_id.reset(token)


class _VideoIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "video_id"):
            record.video_id = _video_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line; ``extra={"video_id": ...}`` fields are carried through."""

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        out |= {
            k: v
            for k, v in vars(record).items()
            if k not in _STANDARD and not k.startswith("_") and v is not None
        }
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def configure_logging(fmt: str = "text", level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_VideoIdFilter())
    text = logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(video_id)s]: %(message)s")
    handler.setFormatter(JsonFormatter() if fmt == "json" else text)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("kafka").setLevel(logging.WARNING)
    # kafka-python 3 warns whenever its selector task runs > 0.1 s, which any busy 2-core box does.
    logging.getLogger("kafka.net.selector").setLevel(logging.ERROR)

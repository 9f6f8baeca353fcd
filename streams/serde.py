"""Bytes <-> events. Anything that is not a valid ``video.generated/v1`` is a poison event."""

from __future__ import annotations

import json

from pydantic import BaseModel, ValidationError

from policies.vocabulary import EVENT_MAX_BYTES
from safety.events import VideoGenerated

MAX_EVENT_BYTES = EVENT_MAX_BYTES
MAX_JSON_DEPTH = 32


class PoisonEvent(ValueError):
    """The message can never be processed as it is: it goes to the dead-letter topic."""


def _depth(obj: object, limit: int) -> int:
    stack: list[tuple[object, int]] = [(obj, 1)]
    deepest = 0
    while stack:
        item, d = stack.pop()
        deepest = max(deepest, d)
        if deepest > limit:
            return deepest
        if isinstance(item, dict):
            stack.extend((v, d + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, d + 1) for v in item)
    return deepest


def parse_event(value: bytes | None) -> VideoGenerated:
    if value is None:
        raise PoisonEvent("empty message (tombstone)")
    if len(value) > MAX_EVENT_BYTES:
        raise PoisonEvent(f"event is {len(value)} bytes; the limit is {MAX_EVENT_BYTES}")
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PoisonEvent(f"event is not UTF-8: {exc}") from exc
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        # ValueError, not only JSONDecodeError: an integer literal over Python's digit limit
        # (``sys.get_int_max_str_digits``) is valid JSON that json.loads refuses with it.
        raise PoisonEvent(f"event is not JSON: {str(exc)[:200]}") from exc
    if _depth(data, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
        raise PoisonEvent(f"event JSON nests deeper than {MAX_JSON_DEPTH} levels")
    if not isinstance(data, dict):
        raise PoisonEvent("event is not a JSON object")
    try:
        return VideoGenerated.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(event)'}: {e['msg']}" for e in exc.errors()[:5]
        )
        raise PoisonEvent(f"event does not match video.generated/v1: {problems}") from exc


def encode(event: BaseModel) -> bytes:
    return event.model_dump_json(by_alias=True).encode()

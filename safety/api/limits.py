"""Request-size and rate limits, applied before any route runs."""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from safety.api.problems import MEDIA_TYPE, PROBLEM_BASE
from safety.credentials import parse_key_id

Message = MutableMapping[str, Any]


def _problem_bytes(status: int, type_: str, title: str) -> bytes:
    import json

    return json.dumps({"type": PROBLEM_BASE + type_, "title": title, "status": status}).encode()


async def _send_problem(
    send: Send, status: int, type_: str, title: str, headers: list[tuple[bytes, bytes]]
) -> None:
    body = _problem_bytes(status, type_, title)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", MEDIA_TYPE.encode()),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodySizeLimit:
    """413 for bodies over the limit, whether declared (Content-Length) or streamed (chunked)."""

    def __init__(self, app: ASGIApp, max_bytes: int, overrides: dict[str, int] | None = None) -> None:
        self.app = app
        self.default_bytes = max_bytes
        self.overrides = sorted((overrides or {}).items(), key=lambda kv: -len(kv[0]))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = next(
            (n for prefix, n in self.overrides if scope["path"].startswith(prefix)), self.default_bytes
        )
        title = f"Request body over {limit} bytes"
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _send_problem(send, 413, "payload-too-large", title, [])
            return
        seen = 0
        refused = started = False

        async def limited() -> Message:
            # Answer 413 ourselves as soon as a streamed body passes the limit: an exception
            # raised here would reach the route, and FastAPI turns body-reading errors into 400.
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    refused = True
                    if not started:  # (an app already answering cannot be answered over)
                        await _send_problem(send, 413, "payload-too-large", title, [])
                    return {"type": "http.disconnect"}
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if not refused:  # after the 413, whatever the app still says is dropped
                started = started or message["type"] == "http.response.start"
                await send(message)

        try:
            await self.app(scope, limited, guarded)
        except Exception:
            if not refused:
                raise  # the app's own failure: not ours to hide


class TokenBuckets:
    """Per-identity token buckets (in process). ``rate`` requests per minute, bursts up to ``rate``."""

    def __init__(self, rate_per_minute: int) -> None:
        self.rate = rate_per_minute / 60.0
        self.capacity = float(rate_per_minute)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, identity: str) -> float:
        """0.0 when allowed, else seconds until a token is available."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(identity, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._buckets[identity] = (tokens - 1.0, now)
                return 0.0
            self._buckets[identity] = (tokens, now)
            if len(self._buckets) > 100_000:  # bound memory under a flood of identities
                self._buckets.clear()
            return (1.0 - tokens) / self.rate

    def wait(self, identity: str) -> float:
        """Like :meth:`take` without spending: 0.0 when a token is there, else seconds to wait."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(identity, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - last) * self.rate)
        return 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.rate


class RateLimit:
    """429 + Retry-After once an identity's bucket is empty; the identity is the API key id
    (parsed without a database hit), else the client address.

    A key id is only a claim until the route checks the key, so a client could mint a fresh id
    (and a fresh bucket) per request. Every failed authentication (401) therefore also spends
    from its address's failure budget, and an address that has spent it gets 429 for requests
    that present a key, until the budget refills.
    """

    def __init__(self, app: ASGIApp, buckets: TokenBuckets, exempt: Callable[[str], bool]) -> None:
        self.app = app
        self.buckets = buckets
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.exempt(scope["path"]):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        identity = None
        auth = headers.get(b"authorization", b"").decode("latin-1")
        if auth.lower().startswith("bearer "):
            key_id = parse_key_id(auth[7:].strip())
            identity = f"key:{key_id}" if key_id else None
        client = scope.get("client") or ("?", 0)
        failures = f"fail:{client[0]}"
        if identity is None:
            identity = f"addr:{client[0]}"
            wait = self.buckets.take(identity)
        else:
            wait = self.buckets.wait(failures) or self.buckets.take(identity)
        if wait > 0:
            await _send_problem(
                send,
                429,
                "rate-limited",
                "Too many requests",
                [(b"retry-after", str(max(1, int(wait + 0.999))).encode())],
            )
            return

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 401:
                self.buckets.take(failures)
            await send(message)

        await self.app(scope, receive, watch)


Handler = Callable[[Scope, Receive, Send], Awaitable[None]]

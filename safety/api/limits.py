"""Request-size and rate limits, applied before any route runs."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import CookieError, SimpleCookie
from typing import Any

import anyio
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


class KeyVerifier:
    """Which key a token proves, for the rate limiter: ``check`` (a database lookup) answers,
    and proven keys are remembered for ``ttl`` seconds. (The route checks the key again: a key
    revoked meanwhile only keeps its own bucket that long, it never gets through.)"""

    def __init__(self, check: Callable[[str], str | None], ttl: float = 10.0) -> None:
        self.check = check
        self.ttl = ttl
        self._proven: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def __call__(self, token: str) -> str | None:
        digest = hashlib.sha256(token.encode()).hexdigest()
        now = time.monotonic()
        with self._lock:
            hit = self._proven.get(digest)
        if hit is not None and hit[1] > now:
            return hit[0]
        key_id = self.check(token)
        if key_id is not None:
            with self._lock:
                if len(self._proven) > 10_000:
                    self._proven.clear()
                self._proven[digest] = (key_id, now + self.ttl)
        return key_id


class RateLimit:
    """429 + Retry-After once an identity's bucket is empty. The identity is the key that the
    request's credential (bearer or session cookie) proves, else the client address.

    A key id is only a claim: one that proves nothing (forged, revoked, expired) never gets a
    bucket of its own, the request spends its address's budget, so minting key ids buys nothing.
    Every failed authentication (401) also spends the address's failure budget, and an address
    that has spent it gets 429 for unproven credentials until the budget refills.
    """

    def __init__(
        self,
        app: ASGIApp,
        buckets: TokenBuckets,
        exempt: Callable[[str], bool],
        verify: Callable[[str], str | None],
        cookie: str = "fg_session",
    ) -> None:
        self.app = app
        self.buckets = buckets
        self.exempt = exempt
        self.verify = verify
        self.cookie = cookie

    def _token(self, headers: dict[bytes, bytes]) -> str | None:
        auth = headers.get(b"authorization", b"").decode("latin-1")
        if auth.lower().startswith("bearer "):
            return auth[7:].strip()
        jar = SimpleCookie()
        try:
            jar.load(headers.get(b"cookie", b"").decode("latin-1"))
        except CookieError:
            return None
        morsel = jar.get(self.cookie)
        return morsel.value if morsel else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.exempt(scope["path"]):
            await self.app(scope, receive, send)
            return
        token = self._token(dict(scope.get("headers") or []))
        client = scope.get("client") or ("?", 0)
        failures = f"fail:{client[0]}"
        key_id = None
        if token and parse_key_id(token):
            key_id = await anyio.to_thread.run_sync(self.verify, token)
        if key_id is not None:
            wait = self.buckets.take(f"key:{key_id}")
        elif token:
            wait = self.buckets.wait(failures) or self.buckets.take(f"addr:{client[0]}")
        else:
            wait = self.buckets.take(f"addr:{client[0]}")
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

"""A cap on uploads in flight per API key, applied before the body is read.

Each upload costs disk, a decode and memory until its response is sent; without a cap one key
could run dozens at once. A multipart request takes a slot of its key (the bearer token's key id,
else the session cookie's, else the client address) for its whole lifetime; over the cap it gets
429 ``too-many-uploads`` at once, with Retry-After. Unauthenticated requests are refused later by
the routes; they still hold a slot of their address meanwhile.
"""

from __future__ import annotations

import threading
from collections import Counter

from starlette.types import ASGIApp, Receive, Scope, Send

from safety.api.limits import _send_problem
from safety.credentials import parse_key_id

SESSION_COOKIE = "fg_session"


class UploadSlots:
    def __init__(self, app: ASGIApp, per_key: int) -> None:
        self.app = app
        self.per_key = per_key
        self._in_flight: Counter[str] = Counter()
        self._lock = threading.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers") or []) if scope["type"] == "http" else {}
        kind = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if kind != b"multipart/form-data":
            await self.app(scope, receive, send)
            return
        who = _who(scope, headers)
        with self._lock:
            full = self._in_flight[who] >= self.per_key
            if not full:
                self._in_flight[who] += 1
        if full:
            title = f"At most {self.per_key} uploads at a time per key; wait for one to finish"
            await _send_problem(send, 429, "too-many-uploads", title, [(b"retry-after", b"5")])
            return
        try:
            await self.app(scope, receive, send)
        finally:
            with self._lock:
                self._in_flight[who] -= 1
                if self._in_flight[who] <= 0:
                    del self._in_flight[who]


def _who(scope: Scope, headers: dict[bytes, bytes]) -> str:
    auth = headers.get(b"authorization", b"").decode("latin-1")
    token = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
    if not token:
        for part in headers.get(b"cookie", b"").decode("latin-1").split(";"):
            name, _, value = part.strip().partition("=")
            if name == SESSION_COOKIE:
                token = value
    key_id = parse_key_id(token) if token else None
    if key_id:
        return f"key:{key_id}"
    client = scope.get("client")
    return f"addr:{client[0] if client else '?'}"

"""The two ways media handling fails, kept apart because the caller acts differently on each.

:class:`MediaRejected` is the creator's media being unacceptable (same input, same answer), so
the video can be rejected with a message the creator can act on. :class:`MediaUnavailable` is
our side or the network failing; nothing is known about the video, so it goes to human review.
"""

from __future__ import annotations


class MediaRejected(Exception):
    """A deterministic problem with the creator's media: retrying will not help.

    ``code`` is machine-readable (``media.too_long``); ``detail`` is a sentence safe to show the
    creator, so it must never contain server paths or internal hostnames.
    """

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(code, detail)
        self.code = code
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.code}: {self.detail}"


class MediaUnavailable(Exception):
    """A transient problem (timeout, HTTP 5xx, ffmpeg killed): send to review, do not reject."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(code, detail)
        self.code = code
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.code}: {self.detail}" if self.detail else self.code

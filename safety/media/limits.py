"""Bounds on what we fetch, probe and decode, so one hostile upload cannot exhaust a worker."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class MediaLimits:
    """Every resource bound of the media stage in one immutable value.

    Size, duration, resolution and frame-count limits reject the media (deterministic); the
    ``*_timeout_s`` values make it unavailable (transient) because a slow machine is not the
    creator's fault. ``max_frames`` bounds the frames the container *declares*;
    ``max_sampled_frames`` bounds what we actually decode into memory.
    """

    max_bytes: int = 512 * 1024 * 1024
    max_duration_s: float = 180.0
    max_width: int = 3840
    max_height: int = 3840
    max_pixels: int = 3840 * 2160
    max_frames: int = 36_000
    max_sampled_frames: int = 400
    probe_timeout_s: float = 15.0
    decode_timeout_s: float = 120.0
    fetch_timeout_s: float = 30.0


def format_bytes(n: int) -> str:
    """A size for creator-facing messages: exact bytes when small, MiB otherwise."""
    return f"{n} bytes" if n < 1024 * 1024 else f"{n / (1024 * 1024):.1f} MiB"

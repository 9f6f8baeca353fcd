"""The publish step's seam: an approved source file in, the asset the feed will serve out.

The pipeline (and, later, a moderator's approval) calls one ``Publisher``. The default copies the
file; the provenance publisher watermarks, re-encodes and signs it (signing last).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from policies import Decision
from safety.assets import AssetStore
from safety.events import VideoGenerated
from safety.media import VideoInfo


@dataclass(frozen=True)
class PreparedAsset:
    """The unsigned, watermarked encode made while the detectors ran (one-pass decode).

    Only the publish step of the same decision may use it; ``error`` set means the encode failed
    and publishing must fail (the video is held). Its file lives in the pipeline's temporary
    directory, so a video that is not published leaves nothing behind.
    """

    decision_id: str
    watermark_id: str | None
    path: Path | None
    error: str | None = None
    frames: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class PublishRequest:
    """Everything the publish step may record about why this video is allowed out."""

    event: VideoGenerated
    source: Path
    info: VideoInfo
    decision_id: str
    decision: Decision
    reviewed_by: str | None = None
    media_sha256: str | None = None  # the snapshot being published (named in the C2PA assertion)
    # Facts later stages add (cameo consent grants, rights rules, obligations) for the manifest.
    grants: list[dict[str, Any]] = field(default_factory=list)
    prepared: PreparedAsset | None = None  # encoded before the verdict (None: encode now)


@dataclass(frozen=True)
class PublishedAsset:
    uri: str
    watermark_id: str | None = None
    manifest: dict[str, Any] | None = None


class Publisher(Protocol):
    def publish(self, request: PublishRequest) -> PublishedAsset: ...


class CopyPublisher:
    """Stores the source as-is (no provenance). Used by tests and when provenance is disabled."""

    def __init__(self, assets: AssetStore) -> None:
        self.assets = assets

    def publish(self, request: PublishRequest) -> PublishedAsset:
        key = f"videos/{request.event.video_id}/{request.decision_id}{request.source.suffix or '.mp4'}"
        return PublishedAsset(uri=self.assets.put(key, request.source))

"""``ProvenancePublisher``: watermark + final encode, sign (last), store the asset and its record.

Order matters: the invisible mark goes in during the only re-encode, the C2PA manifest is
embedded after it (any later re-mux would drop the manifest), and the file is stored and recorded
only once signed. The watermark id is derived from the decision id, so a retried publish of the
same decision produces the same id, key and record; if the stored asset is intact it is reused.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import c2pa

from safety.assets import AssetStore
from safety.events import VideoGenerated
from safety.faults import failpoint
from safety.media import VideoInfo
from safety.media.samples import drawtext_available
from safety.provenance import watermark2, watermark3
from safety.provenance.config import ProvenanceConfig
from safety.provenance.encode import EncodeError, SourceFormat, encode_final, probe_source
from safety.provenance.manifest import Parent, build_manifest, summarize
from safety.provenance.models import ProvenanceRecord
from safety.provenance.onepass import EncodePlan
from safety.provenance.signing import ProvenanceSigner, reader_context
from safety.provenance.store import ProvenanceStore
from safety.provenance.watermark import watermark_id_for
from safety.publishing import CopyPublisher, PreparedAsset, PublishedAsset, PublishRequest
from safety.store.db import Database
from safety.store.models import utcnow

__all__ = ["ProvenancePublisher", "badge_filter", "file_sha256"]

log = logging.getLogger(__name__)
_SAFE_FILTER_PATH = re.compile(r"[A-Za-z0-9_./-]+")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def badge_filter(text: str, fmt: SourceFormat, workdir: Path) -> str | None:
    """A visible badge with the creator's handle that drifts around the frame (None without fonts)."""
    if not drawtext_available():
        return None
    textfile = workdir / "badge.txt"
    if _SAFE_FILTER_PATH.fullmatch(str(textfile)) is None:  # the path goes into a filter graph
        return None
    textfile.write_text(f"AI-generated · @{text}", encoding="utf-8")
    size = max(10, fmt.height // 28)
    return (
        f"drawtext=textfile={textfile}:expansion=none:fontcolor=white@0.75:fontsize={size}"
        ":box=1:boxcolor=black@0.35:boxborderw=6"
        ":x=(w-text_w-20)*(0.5+0.45*sin(t*0.37)):y=(h-text_h-20)*(0.5+0.45*cos(t*0.23))"
    )


class ProvenancePublisher:
    """Implements ``safety.publishing.Publisher`` with C2PA credentials and an invisible watermark."""

    def __init__(
        self,
        assets: AssetStore,
        db: Database,
        config: ProvenanceConfig,
        *,
        data_dir: Path,
        signer: ProvenanceSigner | None = None,
        work_dir: Path | None = None,
    ) -> None:
        self.assets = assets
        self.config = config
        self.records = ProvenanceStore(db)
        self.signer = signer or ProvenanceSigner.from_config(config, data_dir)
        self.work_dir = work_dir
        self._fallback = CopyPublisher(assets)

    def publish(self, request: PublishRequest) -> PublishedAsset:
        if not self.config.enabled:
            return self._fallback.publish(request)
        video_id = request.event.video_id
        watermark_id = watermark_id_for(request.decision_id, self.config.watermark_key_bytes)
        key = f"videos/{video_id}/{request.decision_id}.mp4"
        reused = self._already_published(watermark_id)
        if reused is not None:
            return reused
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="fg-publish-", dir=self.work_dir) as tmp:
            workdir = Path(tmp)
            signed = workdir / "signed.mp4"
            if request.prepared is not None:
                # Encoded during sampling (one decode): its time is in the pipeline's "sample" stage.
                encoded, frames = _prepared(request.prepared, request.decision_id, watermark_id)
                encode_s = 0.0
            else:  # the two-pass path (and moderator approvals): decode the snapshot again
                fmt = SourceFormat.from_info(request.info) or probe_source(request.source)
                encoded = workdir / "encoded.mp4"
                vf = (
                    badge_filter(request.event.creator.id, fmt, workdir)
                    if self.config.visible_badge
                    else None
                )
                stats = encode_final(
                    request.source,
                    encoded,
                    fmt,
                    mark=self._embedder(watermark_id, fmt),  # added inside the encoding ffmpeg
                    crf=self.config.crf,
                    preset=self.config.preset,
                    vf=vf,
                    timeout_s=self.config.encode_timeout_s,
                )
                frames, encode_s = stats.frames, stats.seconds
            encoded_s = time.monotonic() - started
            manifest, ingredients = build_manifest(
                request,
                watermark_id,
                watermarked=self.config.watermark,
                watermark_algorithm=self._scheme().ALGORITHM,
                parent=self._parent(request.event.remix_of),
                claim_generator=self.config.claim_generator,
            )
            with open(encoded, "rb") as src, open(signed, "w+b") as dst:
                failpoint("provenance.sign")  # fault tests: killed mid-publish
                self.signer.sign(manifest, src, dst, ingredients)
            signed_s = time.monotonic() - started
            store_json, label = _read_back(signed)
            digest = file_sha256(signed)
            uri = self.assets.put(key, signed)
        self.records.record(
            ProvenanceRecord(
                watermark_id=watermark_id,
                video_id=video_id,
                decision_id=request.decision_id,
                asset_uri=uri,
                manifest_json=store_json,
                manifest_label=label,
                signed_at=utcnow(),
                algorithm=self.signer.algorithm,
                sha256=digest,
            )
        )
        total_s = time.monotonic() - started
        log.info(
            "published %s: %d frames, encode %.2f s, total %.2f s, watermark %s%s",
            video_id,
            frames,
            encoded_s,
            total_s,
            watermark_id,
            " (encoded before the verdict)" if request.prepared is not None else "",
            extra={
                "publish_ms": {
                    "probe_pattern": round((encoded_s - encode_s) * 1000, 1),
                    "watermark_encode": round(encode_s * 1000, 1),
                    "c2pa_sign": round((signed_s - encoded_s) * 1000, 1),
                    "read_back_store": round((total_s - signed_s) * 1000, 1),
                }
            },
        )
        return PublishedAsset(uri=uri, watermark_id=watermark_id, manifest=_summary(store_json, label))

    def plan_encode(
        self, source: Path, info: VideoInfo, event: VideoGenerated, decision_id: str, workdir: Path
    ) -> EncodePlan | None:
        """The final encode of this decision, fixed before detection (the one-pass decode runs it):
        format, watermark pattern file, badge, x264 settings. ``None`` when provenance is off."""
        if not self.config.enabled:
            return None
        watermark_id = watermark_id_for(decision_id, self.config.watermark_key_bytes)
        fmt = SourceFormat.from_info(info) or probe_source(source)
        grain = None
        embedder = self._embedder(watermark_id, fmt)
        if embedder is not None and embedder.grain_exact:
            grain = workdir / "grain.yuv"
            grain.write_bytes(embedder.grain_frame())
        elif embedder is not None:
            return None  # marked from Python frame by frame: only the two-pass encode can
        vf = badge_filter(event.creator.id, fmt, workdir) if self.config.visible_badge else None
        return EncodePlan(
            decision_id=decision_id,
            watermark_id=watermark_id,
            fmt=fmt,
            dest=workdir / "encoded.mp4",
            grain=grain,
            crf=self.config.crf,
            preset=self.config.preset,
            vf=vf,
            timeout_s=self.config.encode_timeout_s,
        )

    def _scheme(self) -> ModuleType:
        """The watermark module new videos are marked with (``ProvenanceConfig.watermark_scheme``)."""
        return watermark2 if self.config.watermark_scheme == 2 else watermark3

    def _embedder(self, watermark_id: str, fmt: SourceFormat) -> watermark2.Embedder | None:
        if not self.config.watermark:
            return None
        key, cfg = self.config.watermark_key_bytes, self.config
        if cfg.watermark_scheme == 2:
            return watermark2.Embedder(watermark_id, fmt.width, fmt.height, cfg.watermark_strength_luma, key)
        return watermark3.Embedder(watermark_id, fmt.width, fmt.height, cfg.watermark_strength, key)

    def _already_published(self, watermark_id: str) -> PublishedAsset | None:
        """A retry after the asset and record were written: reuse them if the file is intact."""
        row = self.records.get(watermark_id)
        if row is None:
            return None
        try:
            path = self.assets.path_for(row.asset_uri)
        except ValueError:
            return None
        if not path.is_file() or file_sha256(path) != row.sha256:
            return None
        return PublishedAsset(
            uri=row.asset_uri,
            watermark_id=watermark_id,
            manifest=_summary(row.manifest_json, row.manifest_label),
        )

    def _parent(self, remix_of: str | None) -> Parent | None:
        if not remix_of:
            return None
        row = self.records.latest_for_video(remix_of)
        if row is None:
            return None
        try:
            path = self.assets.path_for(row.asset_uri)
        except ValueError:
            return None
        return Parent(remix_of, row.watermark_id, path) if path.is_file() else None

    def close(self) -> None:
        self.signer.close()


def _prepared(prepared: PreparedAsset, decision_id: str, watermark_id: str) -> tuple[Path, int]:
    """The encode made before the verdict, if it is this decision's and it succeeded (else raise:
    the publish step fails and the video is held)."""
    if prepared.error is not None or prepared.path is None:
        raise EncodeError(prepared.error or "the speculative encode produced no file")
    if prepared.decision_id != decision_id or prepared.watermark_id != watermark_id:
        raise EncodeError(
            f"the prepared encode belongs to decision {prepared.decision_id}, not {decision_id}"
        )
    if not prepared.path.is_file():
        raise EncodeError("the prepared encode is gone")
    return prepared.path, prepared.frames


def _read_back(path: Path) -> tuple[dict[str, Any], str]:
    """The manifest store exactly as a reader sees it (that is what the record keeps)."""
    ctx = reader_context()
    with ctx, open(path, "rb") as stream, c2pa.Reader("video/mp4", stream, None, ctx) as reader:
        store: dict[str, Any] = json.loads(reader.json())
    return store, str(store.get("active_manifest", ""))


def _summary(store: dict[str, Any], label: str) -> dict[str, Any] | None:
    manifests = store.get("manifests") or {}
    return summarize(manifests.get(label)) if isinstance(manifests, dict) else None

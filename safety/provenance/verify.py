"""Verify a video: its C2PA credentials against trust anchors, its invisible watermark, and the record.

Three independent pieces of evidence, reported side by side:

* the embedded manifest (``Trusted`` = valid and chaining to an anchor, ``Valid`` = intact but
  signed by an unknown root, ``Invalid`` = tampered or broken, with the validation status codes);
* the watermark (found or not, with a confidence), which survives re-encoding and metadata strips;
* the provenance record that either one leads to, which restores the full signed manifest when
  the file lost it.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import c2pa
from sqlalchemy.exc import SQLAlchemyError

from safety.provenance import watermark2, watermark3
from safety.provenance.encode import EncodeError
from safety.provenance.manifest import summarize
from safety.provenance.models import ProvenanceRecord
from safety.provenance.publisher import file_sha256
from safety.provenance.signing import reader_context
from safety.provenance.store import ProvenanceStore
from safety.provenance.watermark import ALGORITHM as ALGORITHM_V1
from safety.provenance.watermark import DEFAULT_KEY, Detection
from safety.provenance.watermark import detect as detect_v1
from safety.provenance.wmread import Planes, detection_planes
from safety.store.db import Database

__all__ = ["VerifyReport", "WatermarkReport", "verify_file"]

C2paState = Literal["Trusted", "Valid", "Invalid", "Absent"]


@dataclass
class WatermarkReport:
    found: bool
    watermark_id: str | None = None
    confidence: float = 0.0
    sync_z: float = 0.0
    bit_agreement: float = 0.0
    frames: int = 0
    error: str | None = None
    scheme: str | None = None  # which watermark algorithm matched (scheme 2, or 1 for older videos)


@dataclass
class VerifyReport:
    path: str
    c2pa_state: C2paState
    failures: list[dict[str, str]] = field(default_factory=list)  # validation status codes that failed
    success_codes: list[str] = field(default_factory=list)  # e.g. timeStamp.trusted
    error: str | None = None
    manifest: dict[str, Any] | None = None  # summary of the active manifest in the file
    watermark: WatermarkReport | None = None
    record: dict[str, Any] | None = None  # the provenance record the watermark or manifest leads to
    recovered_manifest: dict[str, Any] | None = None  # summary from the record when the file has none
    recovered_manifest_store: dict[str, Any] | None = None
    consistent: bool | None = None  # manifest's soft-binding id equals the detected watermark id

    @property
    def provenance_established(self) -> bool:
        """Trusted credentials, or a watermark that resolves to a record of ours."""
        return self.c2pa_state == "Trusted" or (
            self.c2pa_state == "Absent"
            and self.record is not None
            and self.watermark is not None
            and self.watermark.found
        )

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["provenance_established"] = self.provenance_established
        return out

    def summary(self) -> str:
        """One line for logs and the demo."""
        info = self.manifest or self.recovered_manifest or {}
        parts = [f"c2pa={self.c2pa_state}"]
        if self.failures:
            parts.append("failures=" + ",".join(sorted({f["code"] for f in self.failures})))
        if info:
            parts.append(f"ai_generated={info.get('ai_generated')} generator={info.get('generator')}")
        if self.watermark is not None:
            wm = self.watermark
            found = f"watermark={wm.watermark_id} conf={wm.confidence:.2f}"
            parts.append(found if wm.found else "watermark=none")
        if self.record is not None:
            parts.append(f"decision={self.record['decision_id']}")
            if self.c2pa_state == "Absent":
                parts.append("manifest recovered from record")
        return " ".join(parts)


def _read_manifest(path: Path, trust_anchor_pem: str | None, report: VerifyReport) -> str | None:
    """Fill in the C2PA part; returns the soft-binding watermark id the manifest declares."""
    with reader_context(trust_anchor_pem) as ctx, open(path, "rb") as stream:
        try:
            reader = c2pa.Reader.try_create("video/mp4", stream, None, ctx)
        except c2pa.C2paError as exc:
            # Unreadable credentials are a failure; an unreadable file without any is just absent.
            report.c2pa_state = "Invalid" if _has_c2pa_box(path) else "Absent"
            report.error = str(exc)[:500]
            return None
        if reader is None:
            return None
        with reader:
            state = reader.get_validation_state()
            results = reader.get_validation_results() or {}
            report.c2pa_state = "Invalid"
            if state in ("Trusted", "Valid"):
                report.c2pa_state = "Trusted" if state == "Trusted" else "Valid"
            report.failures = _failures(results)
            success = (results.get("activeManifest") or {}).get("success") or []
            report.success_codes = sorted({str(s.get("code")) for s in success})
            report.manifest = summarize(reader.get_active_manifest())
    return report.manifest.get("watermark_id") if report.manifest else None


def _has_c2pa_box(path: Path) -> bool:
    """Whether the bytes contain a C2PA JUMBF label at all (streamed; files can be large)."""
    tail = b""
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            if b"c2pa" in tail + chunk:
                return True
            tail = chunk[-3:]
    return False


def _failures(results: dict[str, Any]) -> list[dict[str, str]]:
    found = list((results.get("activeManifest") or {}).get("failure") or [])
    for delta in results.get("ingredientDeltas") or []:
        found += (delta.get("validationDeltas") or {}).get("failure") or []
    return [{k: str(f.get(k, "")) for k in ("code", "explanation", "url")} for f in found]


def _watermark(path: Path, max_frames: int, key: bytes) -> WatermarkReport:
    try:
        planes, frames = detection_planes(path, max_frames=max_frames)
    except (EncodeError, OSError, ValueError) as exc:
        return WatermarkReport(found=False, error=str(exc)[:500])
    det, scheme = detect_any(planes, frames, key)
    return WatermarkReport(
        det.found, det.watermark_id, det.confidence, det.sync_z, det.bit_agreement, frames, scheme=scheme
    )


def detect_any(mean: Planes | Any, frames: int, key: bytes) -> tuple[Detection, str | None]:
    """Scheme 3 (in chroma: needs the mean Y, U, V planes) first, then scheme 2 and scheme 1 on Y
    for videos published before it; ``mean`` may be the Y plane alone (then only schemes 2, 1).

    Each is CRC-checked, so trying all three at most triples the (~1e-6) chance of a false id.
    """
    y = mean[0] if isinstance(mean, tuple) else mean
    det: Detection | None = None
    if isinstance(mean, tuple):
        det = watermark3.detect(mean, frames, key=key)
        if det.found:
            return det, watermark3.ALGORITHM
    for detector, algorithm in ((watermark2.detect, watermark2.ALGORITHM), (detect_v1, ALGORITHM_V1)):
        old: Detection = detector(y, frames, key=key)
        if old.found:
            return old, algorithm
        det = det or old
    assert det is not None
    return det, None


def _lookup(db: Database | None, watermark_id: str | None) -> ProvenanceRecord | None:
    if db is None or watermark_id is None:
        return None
    with contextlib.suppress(SQLAlchemyError):  # no table / database unreachable: no record evidence
        return ProvenanceStore(db).get(watermark_id)
    return None


def verify_file(
    path: Path,
    trust_anchor_pem: str | None = None,
    db: Database | None = None,
    *,
    watermark: bool = True,
    max_frames: int = 240,
    watermark_key: bytes = DEFAULT_KEY,
) -> VerifyReport:
    """Check ``path``'s C2PA credentials, watermark and record. Never raises for a bad file."""
    report = VerifyReport(path=str(path), c2pa_state="Absent")
    declared = _read_manifest(path, trust_anchor_pem, report)
    if watermark:
        report.watermark = _watermark(path, max_frames, watermark_key)
    detected = report.watermark.watermark_id if report.watermark else None
    if declared is not None and detected is not None:
        report.consistent = declared == detected
    row = _lookup(db, detected) or _lookup(db, declared)
    if row is not None:
        report.record = {
            "watermark_id": row.watermark_id,
            "video_id": row.video_id,
            "decision_id": row.decision_id,
            "asset_uri": row.asset_uri,
            "manifest_label": row.manifest_label,
            "signed_at": row.signed_at.isoformat(),
            "algorithm": row.algorithm,
            "sha256": row.sha256,
            "file_matches_record": file_sha256(path) == row.sha256,
        }
        if report.manifest is None:
            store = row.manifest_json
            report.recovered_manifest_store = store
            report.recovered_manifest = summarize((store.get("manifests") or {}).get(row.manifest_label))
    return report


def dumps(report: VerifyReport) -> str:
    return json.dumps(report.to_dict(), indent=None, sort_keys=True, default=str)

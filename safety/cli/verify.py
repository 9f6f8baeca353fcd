"""``feedguard verify FILE``: check a video's credentials, watermark and provenance record.

Exit status: 0 when provenance is established (trusted credentials, or a watermark that leads to
one of our records), 1 when the credentials are invalid (tampered), 3 when nothing was found.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from safety.config import Settings
from safety.provenance.certs import dev_trust_anchors
from safety.provenance.config import ProvenanceConfig
from safety.provenance.verify import VerifyReport, verify_file
from safety.store.db import Database

__all__ = ["add_parser", "run", "verify_summary"]


def add_parser(subparsers: Any) -> None:
    """Add ``verify`` to the ``feedguard`` sub-command parsers."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "verify", help="check a video's C2PA credentials, invisible watermark and provenance record"
    )
    p.add_argument("file", type=Path, nargs="+", help="one or more files (several: one line each)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--database-url", help="where provenance records live (default: the configured database)")
    p.add_argument("--data-dir", type=Path, help="data directory (default dev trust anchors live in keys/)")
    p.add_argument("--trust-anchors", type=Path, help="PEM file of trusted root certificates")
    p.add_argument("--no-watermark", action="store_true", help="skip watermark detection (faster)")
    p.set_defaults(func=run)


def _anchors(settings: Settings, explicit: Path | None) -> str | None:
    if explicit is not None:
        return explicit.read_text()
    provenance = getattr(settings, "provenance", None)
    configured = getattr(provenance, "trust_anchors", None)
    if isinstance(configured, Path):
        return configured.read_text()
    return dev_trust_anchors(settings.data_dir) or None


def _database(settings: Settings, url: str | None) -> Database | None:
    """The records database, or None when it plainly does not exist (no SQLite file yet)."""
    resolved = url or settings.resolved_database_url
    if resolved.startswith("sqlite:///") and not Path(resolved.removeprefix("sqlite:///")).exists():
        return None
    return Database(resolved)


def _verify(
    path: Path, settings: Settings, *, database_url: str | None, anchors: Path | None, watermark: bool = True
) -> VerifyReport:
    db = _database(settings, database_url)
    provenance = getattr(settings, "provenance", None)
    config = provenance if isinstance(provenance, ProvenanceConfig) else ProvenanceConfig()
    try:
        return verify_file(
            path,
            _anchors(settings, anchors),
            db,
            watermark=watermark,
            max_frames=config.watermark_max_frames,
            watermark_key=config.watermark_key_bytes,
        )
    finally:
        if db is not None:
            db.dispose()


def verify_summary(
    path: Path, *, data_dir: Path, database_url: str | None = None, settings: Settings | None = None
) -> str:
    """One line for the demo: ``c2pa=Trusted ai_generated=True ... watermark=... decision=...``.

    Pass ``settings`` when they carry a configured watermark key or trust anchors.
    """
    base = settings.with_overrides(data_dir=data_dir) if settings is not None else Settings(data_dir=data_dir)
    return _verify(path, base, database_url=database_url, anchors=None).summary()


def _print_human(report: VerifyReport) -> None:
    print(f"file:        {report.path}")
    print(f"credentials: {report.c2pa_state}" + (f" ({report.error})" if report.error else ""))
    for failure in report.failures:
        print(f"  failure:   {failure['code']}: {failure['explanation']}")
    info = report.manifest or report.recovered_manifest
    if report.manifest is None and report.recovered_manifest is not None:
        print("manifest:    none in the file; recovered from the provenance record via the watermark")
    if info:
        print(f"  AI-generated: {info.get('ai_generated')}  generator: {info.get('generator')}")
        print(f"  signer:       {info.get('signer')}")
        moderation = info.get("moderation") or {}
        for key in ("decision_id", "policy_version", "audience", "labels", "human_review", "remix_of"):
            if key in moderation:
                print(f"  {key + ':':13s} {moderation[key]}")
        for ing in info.get("ingredients") or []:
            print(f"  ingredient:   {ing.get('title')} ({ing.get('relationship')})")
    wm = report.watermark
    if wm is not None:
        if wm.found:
            print(f"watermark:   {wm.watermark_id} (confidence {wm.confidence:.2f}, {wm.frames} frames)")
        else:
            print("watermark:   not found" + (f" ({wm.error})" if wm.error else ""))
    if report.consistent is False:
        print("warning:     the manifest's watermark id differs from the detected watermark")
    if report.record:
        rec = report.record
        same = "the" if rec["file_matches_record"] else "not the"
        print(f"record:      video {rec['video_id']}, decision {rec['decision_id']}")
        print(f"             signed {rec['signed_at']} with {rec['algorithm']}")
        print(f"             asset {rec['asset_uri']} (this file is {same} published copy)")
    if report.provenance_established:
        verdict = "provenance established"
    else:
        verdict = "credentials INVALID" if report.c2pa_state == "Invalid" else "no provenance found"
    print(f"verdict:     {verdict}")


def _status(report: VerifyReport) -> int:
    if report.provenance_established:
        return 0
    return 1 if report.c2pa_state == "Invalid" else 3


def run(args: argparse.Namespace) -> int:
    settings = Settings()
    if args.data_dir is not None:
        settings = settings.with_overrides(data_dir=args.data_dir)
    files: list[Path] = args.file
    missing = [f for f in files if not f.is_file()]
    if missing:
        print(f"feedguard verify: no such file: {', '.join(map(str, missing))}")
        return 2
    if len(files) > 1:
        return _run_many(args, settings, files)
    report = _verify(
        files[0],
        settings,
        database_url=args.database_url,
        anchors=args.trust_anchors,
        watermark=not args.no_watermark,
    )
    if args.json:
        print(json.dumps(report.to_dict(), sort_keys=True, default=str))
    else:
        _print_human(report)
    return _status(report)


def _run_many(args: argparse.Namespace, settings: Settings, files: list[Path]) -> int:
    """One line per file (JSON lines with --json); exit 1 if any is invalid, else 3 if any has no
    provenance, else 0."""
    from safety.cli.progress import Progress

    worst = 0
    with Progress(len(files), "verifying", unit="file") as bar:
        for path in files:
            report = _verify(
                path,
                settings,
                database_url=args.database_url,
                anchors=args.trust_anchors,
                watermark=not args.no_watermark,
            )
            status = _status(report)
            worst = 1 if 1 in (worst, status) else max(worst, status)
            line = (
                json.dumps(report.to_dict(), sort_keys=True, default=str)
                if args.json
                else (f"{path}: {report.summary()}")
            )
            bar.write(line)
            bar.update()
    return worst

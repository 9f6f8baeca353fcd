"""``feedguard scan DIR``: every video in a folder through one pipeline, one line each.

The models load once for the whole folder. Text lines say file, outcome, audience and reasons;
``--json`` prints one JSON object per line (the same keys as ``scan FILE --json`` plus ``file``).
Files are taken by extension, in name order; nothing is recorded and nothing is published.
"""

from __future__ import annotations

import argparse
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from policies import PolicyError
from safety.cli.progress import Progress
from safety.events import Creator, VideoGenerated
from safety.outcomes import summary, to_row
from safety.runtime import build_pipeline, open_database

VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts", ".3gp"})


def videos_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)


def scan_event(path: Path, prompt: str, age_band: str) -> VideoGenerated:
    video_id = re.sub(r"[^A-Za-z0-9_.:\-]", "_", path.stem)[:100] or "scan"
    return VideoGenerated.model_validate(
        {
            "schema": "video.generated/v1",
            "video_id": f"scan-{video_id}",
            "creator": Creator(id="scan", age_band=age_band).model_dump(),
            "prompt": prompt,
            "uri": path.resolve().as_uri(),
            "created_at": datetime.now(UTC),
        }
    )


def scan_dir(args: argparse.Namespace, settings_from: Any, dry_run_publisher: Any) -> int:
    folder: Path = args.file.resolve()
    files = videos_in(folder)
    if not files:
        print(f"feedguard: no videos in {folder} (looked for {', '.join(sorted(VIDEO_SUFFIXES))})")
        return 2
    settings = settings_from(args, policy_file=args.policy, media_roots=[folder])
    db = open_database(settings)
    try:
        pipeline = build_pipeline(settings, db, dry_run_publisher)
    except (PolicyError, ValueError, LookupError) as exc:
        db.dispose()
        print(f"feedguard: {exc}")
        return 2
    counts: dict[str, int] = {}
    try:
        with Progress(len(files), "scanning") as bar:
            for path in files:
                event = scan_event(path, args.prompt, args.creator_age_band)
                result = pipeline.moderate(event)
                row = summary(to_row(event, result, "scan"))
                counts[row["outcome"]] = counts.get(row["outcome"], 0) + 1
                if args.json:
                    row["file"] = str(path)
                    row["signals"] = {s.name: round(s.score, 4) for s in result.signals if s.score > 0}
                    bar.write(json.dumps(row))
                else:
                    reasons = ", ".join(row["reasons"]) or "-"
                    bar.write(f"{path.name:32} {row['outcome']:9} {row['audience'] or '-':8} {reasons}")
                bar.update()
    finally:
        pipeline.close()
        db.dispose()
    if not args.json:
        print(f"{len(files)} videos: " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items())))
    return 0

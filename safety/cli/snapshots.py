"""``feedguard snapshots gc|usage``: delete media snapshots no decision can need any more."""

from __future__ import annotations

import argparse
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from safety.config import Settings
from safety.media.snapshot import SnapshotStore
from safety.retention import collect, stored_bytes
from safety.store.db import Database

__all__ = ["add_parser"]


def add_parser(subparsers: Any) -> None:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "snapshots", help="media snapshots: delete those past retention (gc), or show what is stored"
    )
    p.add_argument("action", choices=["gc", "usage"])
    p.add_argument("--database-url")
    p.add_argument("--data-dir", type=Path)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings = Settings().with_overrides(database_url=args.database_url, data_dir=args.data_dir)
    db = Database(settings.resolved_database_url)
    try:
        db.upgrade()
        if args.action == "usage":
            out: dict[str, Any] = {"stored_bytes": stored_bytes(db)}
        else:
            got = collect(
                db,
                SnapshotStore(settings.snapshots_dir),
                retention=timedelta(days=settings.snapshot_retention_days),
                appeal_window=timedelta(days=settings.appeal_window_days),
            )
            out = {"deleted": len(got.deleted), "kept": got.kept, "bytes_freed": got.bytes_freed}
    finally:
        db.dispose()
    print(json.dumps(out) if args.json else "  ".join(f"{k}={v}" for k, v in out.items()))
    return 0

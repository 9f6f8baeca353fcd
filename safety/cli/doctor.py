"""``feedguard doctor [--json]``: is this set-up able to run, and ready for production?

Checks, each with the fix named when it fails: ffmpeg, ffprobe and fpcalc with their versions; the
broker, the contract's topics and their partitions, the Kafka codecs; the database reachable and
at the migration head; every model file loads and matches its checksum; the signing chain (valid,
ordered, key matches, when it expires); a production watermark key and trust anchors. Exit 1 on any
failure (warnings do not fail), 0 otherwise. ``--development`` accepts the generated dev keys.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from safety.cli.doctor_checks import model_checks, signing_checks
from safety.config import Settings
from safety.media import tools

GROUPS = ("tools", "broker", "database", "models", "signing")
Check = dict[str, Any]


def add_parser(subparsers: Any) -> None:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "doctor", help="check tools, broker, database, models and signing; exit 1 on any problem"
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--database-url", help="SQLAlchemy URL (default: the configured database)")
    p.add_argument("--data-dir", type=Path, help="data directory (dev keys live in keys/)")
    p.add_argument("--bootstrap-servers", help="Kafka bootstrap, host:port")
    p.add_argument("--only", help=f"comma-separated groups to check: {','.join(GROUPS)}")
    p.add_argument(
        "--development",
        action="store_true",
        help="accept the generated dev signing keys and default watermark key",
    )
    p.set_defaults(func=run)


def _tool(name: str, fix: str) -> Check:
    path = shutil.which(name)
    if path is None:
        return {"name": name, "ok": False, "detail": "not on PATH", "fix": fix}
    try:  # through the hardened runner, like every other media-tool invocation
        out = tools.run(tools.version(name), timeout_s=20)
        text = (out.stdout or out.stderr).decode("utf-8", "replace").strip()
        first = text.splitlines()[0] if text else ""
    except (OSError, tools.TimeoutExpired) as exc:
        return {"name": name, "ok": False, "detail": f"{path} does not run: {exc}", "fix": fix}
    return {"name": name, "ok": out.returncode == 0, "detail": f"{first} ({path})", "fix": fix}


def tool_checks(_: Settings) -> list[Check]:
    apt = "apt-get install ffmpeg libchromaprint-tools (scripts/install does it)"
    return [_tool(name, apt) for name in (tools.FFMPEG, tools.FFPROBE, tools.FPCALC)]


def broker_group(settings: Settings) -> list[Check]:
    from safety.composition import broker_checks
    from safety.topics import ALL_TOPICS

    return broker_checks(settings.kafka_bootstrap, ALL_TOPICS)


def database_checks(settings: Settings) -> list[Check]:
    from safety.store import Database

    url = settings.resolved_database_url
    shown = url.split("@")[-1] if "@" in url else url  # never print a password
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return [
            {
                "name": "database",
                "ok": False,
                "detail": f"{shown} does not exist yet",
                "fix": "feedguard db upgrade",
            }
        ]
    try:
        db = Database(url)
    except Exception as exc:
        return [
            {
                "name": "database",
                "ok": False,
                "detail": f"{shown}: {exc}",
                "fix": "check FEEDGUARD_DATABASE_URL",
            }
        ]
    try:
        current, head = db.current_revision(), db.head_revision()
    except Exception as exc:
        return [
            {
                "name": "database",
                "ok": False,
                "detail": f"{shown} unreachable: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}",
                "fix": "start the database or fix FEEDGUARD_DATABASE_URL",
            }
        ]
    finally:
        db.dispose()
    return [
        {"name": "database", "ok": True, "detail": f"{shown} reachable", "fix": ""},
        {
            "name": "migrations",
            "ok": current == head,
            "detail": f"at {current or '(empty)'}, head {head}",
            "fix": "feedguard db upgrade (workers and the API also upgrade on start)",
        },
    ]


RUNNERS: dict[str, Callable[[Settings], list[Check]]] = {
    "tools": tool_checks,
    "broker": broker_group,
    "database": database_checks,
    "models": lambda _settings: model_checks(),
    "signing": lambda settings: [],  # replaced per run (needs --development)
}


def run(args: argparse.Namespace) -> int:
    settings = Settings().with_overrides(
        database_url=args.database_url, data_dir=args.data_dir, kafka_bootstrap=args.bootstrap_servers
    )
    groups = [g.strip() for g in args.only.split(",")] if args.only else list(GROUPS)
    unknown = [g for g in groups if g not in GROUPS]
    if unknown:
        print(
            f"feedguard: unknown doctor group(s) {unknown}; choose from {', '.join(GROUPS)}", file=sys.stderr
        )
        return 2
    checks: list[Check] = []
    for group in groups:
        found = signing_checks(settings, args.development) if group == "signing" else RUNNERS[group](settings)
        checks += [{"group": group, "level": "ok" if c["ok"] else c.get("level", "fail"), **c} for c in found]
    failed = [c for c in checks if c["level"] == "fail"]
    if args.json:
        print(json.dumps({"ok": not failed, "checks": checks}))
    else:
        for c in checks:
            print(f"{c['level'].upper():5} {c['group']:9} {c['name']}: {c['detail']}")
            if c["level"] != "ok" and c.get("fix"):
                print(f"{'':16}fix: {c['fix']}")
        print(f"\n{len(failed)} problem(s)" if failed else "\nno problems found")
    return 1 if failed else 0

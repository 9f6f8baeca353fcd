"""``feedguard``: worker, broker, scan, demo, db and schema commands."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from safety.cli import calibrate, commands


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--database-url", help="SQLAlchemy URL (default: SQLite in FEEDGUARD_DATA_DIR)")
    p.add_argument("--data-dir", type=Path, help="where the SQLite file, assets and dev keys live")
    p.add_argument("--log-format", choices=["text", "json"], default=None)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="feedguard", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    w = sub.add_parser("worker", help="consume videos.generated and moderate each video")
    _common(w)
    w.add_argument("--bootstrap-servers", help="Kafka bootstrap, host:port (FEEDGUARD_KAFKA_BOOTSTRAP)")
    w.add_argument("--group", help="consumer group id (default feedguard-moderation)")
    w.add_argument("--idle-exit", type=float, metavar="SECONDS", help="exit 0 after this long with no events")
    w.add_argument("--media-root", action="append", type=Path, help="allowed file:// root (repeatable)")
    w.add_argument("--policy", type=Path, help="policy YAML (default: the packaged default policy)")
    w.add_argument("--metrics-port", type=int, help="serve Prometheus metrics on 127.0.0.1:PORT")
    w.set_defaults(func=commands.worker)

    b = sub.add_parser("broker", help="run the local development Kafka broker (Tansu) on 127.0.0.1")
    b.add_argument("--port", type=int, default=9092)
    b.add_argument("--partitions", type=int, default=4, help="partitions for the topics it creates")
    b.set_defaults(func=commands.broker)

    s = sub.add_parser("scan", help="run the pipeline on a local file or every video in a folder, no broker")
    _common(s)
    s.add_argument("file", type=Path, help="a video, or a folder: one line per video in it")
    s.add_argument("--prompt", default="")
    s.add_argument("--creator-age-band", choices=["adult", "teen"], default="adult")
    s.add_argument("--policy", type=Path)
    s.add_argument("--json", action="store_true", help="print one JSON object (per line for a folder)")
    s.set_defaults(func=commands.scan)

    d = sub.add_parser("demo", help="local broker + SQLite + sample videos, end to end")
    d.add_argument("--json", action="store_true", help="one JSON object per video on stdout")
    d.add_argument("--keep", type=Path, help="keep the demo's data directory here")
    d.add_argument(
        "--review",
        action="store_true",
        help="afterwards, serve the API and moderator page (with a fresh moderator) until Ctrl-C",
    )
    d.add_argument("--review-port", type=int, default=8000)
    d.set_defaults(func=commands.demo)

    db = sub.add_parser("db", help="database schema")
    dbs = db.add_subparsers(dest="db_command", required=True)
    up = dbs.add_parser("upgrade", help="apply Alembic migrations to the configured database")
    _common(up)
    up.set_defaults(func=commands.db_upgrade)
    cur = dbs.add_parser("current", help="print the schema revision")
    _common(cur)
    cur.set_defaults(func=commands.db_current)

    api = sub.add_parser("api", help="serve the HTTP API and the moderator web page (/ui)")
    _common(api)
    api.add_argument("--host", default=None, help="bind address (default 127.0.0.1)")
    api.add_argument("--port", type=int, default=None, help="port (default 8000)")
    api.add_argument("--bootstrap-servers", help="Kafka bootstrap for events the API emits")
    api.add_argument("--media-root", action="append", type=Path, help="allowed file:// root (repeatable)")
    api.set_defaults(func=commands.api)

    us = sub.add_parser("users", help="accounts")
    uss = us.add_subparsers(dest="users_command", required=True)
    uc = uss.add_parser("create", help="create a user and print an API key (shown once)")
    _common(uc)
    uc.add_argument("name")
    uc.add_argument(
        "--role", required=True, choices=["admin", "moderator", "rights_holder", "creator", "platform"]
    )
    uc.add_argument("--organisation", help="organisation id (rights_holder)")
    uc.add_argument("--creator-id", help="the platform's creator id (creator)")
    uc.add_argument("--password", help="also allow web login with this password (or FEEDGUARD_NEW_PASSWORD)")
    uc.set_defaults(func=commands.users_create)

    from safety.cli import doctor, snapshots, verify

    verify.add_parser(sub)
    doctor.add_parser(sub)
    snapshots.add_parser(sub)

    sc = sub.add_parser("schemas", help="write the event JSON Schemas and AsyncAPI document to a directory")
    sc.add_argument("directory", type=Path, nargs="?", default=Path("schemas"))
    sc.set_defaults(func=commands.schemas)

    pc = sub.add_parser("policy", help="policy files")
    pcs = pc.add_subparsers(dest="policy_command", required=True)
    chk = pcs.add_parser("check", help="validate a policy file and its wiring to detectors")
    chk.add_argument("file", type=Path, nargs="?")
    chk.set_defaults(func=commands.policy_check)
    rp = pcs.add_parser("replay", help="re-decide stored signals under another policy (no re-decoding)")
    _common(rp)
    rp.add_argument("--policy", type=Path, required=True, help="the candidate policy file")
    rp.add_argument("--since", required=True, help="ISO date or datetime (UTC)")
    rp.add_argument("--until", help="ISO date or datetime (UTC), exclusive")
    rp.add_argument("--show", type=int, default=20, help="how many changed videos to list")
    rp.add_argument("--json", action="store_true")
    rp.set_defaults(func=commands.policy_replay)
    calibrate.add_parser(sub, _common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from safety.media import tools

    if argv is None:  # the process's entry point (console script, python -m safety): guard it for life
        tools.install_guard()  # media tools run only the hardened way (tests calling main([...]) are not)
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())

"""Implementations of the CLI sub-commands (argument parsing lives in ``safety.cli``)."""

from __future__ import annotations

import argparse
import json
import logging
import re
import signal
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from policies import PolicyError, load_policy
from safety.config import Settings
from safety.events import Creator, VideoGenerated, export_schemas
from safety.logs import configure_logging
from safety.outcomes import summary, to_row
from safety.publishing import PublishedAsset, PublishRequest
from safety.runtime import build_pipeline, build_reconciler, build_runtime, open_database
from safety.store import Database

log = logging.getLogger("feedguard")


def settings_from(args: argparse.Namespace, **extra: Any) -> Settings:
    return Settings().with_overrides(
        database_url=getattr(args, "database_url", None),
        data_dir=getattr(args, "data_dir", None),
        **extra,
    )


def _fail(message: str) -> int:
    print(f"feedguard: {message}", file=sys.stderr)
    return 2


def worker(args: argparse.Namespace) -> int:
    from streams import Worker, WorkerConfig, ensure_topics

    configure_logging(args.log_format or "json")
    settings = settings_from(
        args,
        kafka_bootstrap=args.bootstrap_servers,
        group_id=args.group,
        media_roots=args.media_root,
        policy_file=args.policy,
    )
    try:
        runtime = build_runtime(settings)
    except (PolicyError, ValueError, LookupError) as exc:
        return _fail(str(exc))
    reconciler = None
    try:
        if settings.reconcile_interval_s > 0:
            reconciler = build_reconciler(runtime.db, interval_s=settings.reconcile_interval_s).start()
        ensure_topics(settings.kafka_bootstrap, settings.topic_partitions)
        w = Worker(
            WorkerConfig(
                bootstrap=settings.kafka_bootstrap,
                group_id=settings.group_id,
                session_timeout_ms=settings.session_timeout_ms,
                commit_every=settings.commit_every,
                max_attempts=settings.max_attempts,
                idle_exit_s=args.idle_exit,
                fetch_max_attempts=settings.fetch_max_attempts,
                unreadable_fetch=settings.unreadable_fetch,
            ),
            runtime.moderator,
        )
        w.install_signal_handlers()
        if args.metrics_port:
            w.metrics.serve(args.metrics_port, health=w.health)
        log.info(
            "worker %s consuming from %s as group %s (policy %s)",
            runtime.moderator.worker_id,
            settings.kafka_bootstrap,
            settings.group_id,
            runtime.pipeline.policy_version,
        )
        from safety.composition import FetchUnreadableError

        try:
            stats = w.run()
        except FetchUnreadableError as exc:  # FEEDGUARD_UNREADABLE_FETCH=fail
            log.critical("worker stopped: %s", exc)
            return 3
        log.info("worker stopped: %s", stats)
    finally:
        if reconciler is not None:
            reconciler.close()
        runtime.close()
    return 0


def broker(args: argparse.Namespace) -> int:
    from streams import LocalBroker, ensure_topics

    configure_logging("text")
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with LocalBroker(port=args.port) as b:
        created = ensure_topics(b.bootstrap, args.partitions)
        print(f"bootstrap: {b.bootstrap}", flush=True)
        print(f"topics created: {', '.join(created) or '(none)'}", flush=True)
        print("Ctrl-C stops the broker (its data lives in memory only).", flush=True)
        stop.wait()
    return 0


class DryRunPublisher:
    """``scan`` publishes nothing: the asset URI says where the source is."""

    def publish(self, request: PublishRequest) -> PublishedAsset:
        return PublishedAsset(uri=request.source.resolve().as_uri())


def scan(args: argparse.Namespace) -> int:
    configure_logging(args.log_format or "text", "WARNING")
    path: Path = args.file
    if not path.exists():
        return _fail(f"{path}: no such file")
    if path.is_dir():
        from safety.cli.scan import scan_dir

        return scan_dir(args, settings_from, DryRunPublisher())
    settings = settings_from(args, policy_file=args.policy, media_roots=[path.resolve().parent])
    db = open_database(settings)  # the cameo registry: likeness is checked against it (read-only)
    try:
        pipeline = build_pipeline(settings, db, DryRunPublisher())
    except (PolicyError, ValueError, LookupError) as exc:
        db.dispose()
        return _fail(str(exc))
    video_id = re.sub(r"[^A-Za-z0-9_.:\-]", "_", path.stem)[:100] or "scan"
    event = VideoGenerated.model_validate(
        {
            "schema": "video.generated/v1",
            "video_id": f"scan-{video_id}",
            "creator": Creator(id="scan", age_band=args.creator_age_band).model_dump(),
            "prompt": args.prompt,
            "uri": path.resolve().as_uri(),
            "created_at": datetime.now(UTC),
        }
    )
    try:
        result = pipeline.moderate(event)
    finally:
        pipeline.close()
        db.dispose()
    row = summary(to_row(event, result, "scan"))
    row["signals"] = {s.name: round(s.score, 4) for s in result.signals if s.score > 0}
    row["stage_ms"] = result.stage_ms
    if args.json:
        print(json.dumps(row))
    else:
        print(f"{row['video_id']}: {row['outcome']}" + (f" ({row['audience']})" if row["audience"] else ""))
        for key in ("reasons", "labels", "rules", "failed_stage", "creator_message", "signals", "stage_ms"):
            if row.get(key):
                print(f"  {key}: {row[key]}")
    return 0


def demo(args: argparse.Namespace) -> int:
    from safety.cli.demo import run_demo

    return run_demo(
        json_output=args.json, keep=args.keep, review_port=args.review_port if args.review else None
    )


def api(args: argparse.Namespace) -> int:
    import uvicorn

    from safety.api.app import create_app

    configure_logging(args.log_format or "json")
    settings = settings_from(
        args,
        api_host=args.host,
        api_port=args.port,
        kafka_bootstrap=args.bootstrap_servers,
        media_roots=args.media_root,
    )
    app = create_app(settings)
    uvicorn.run(app, host=settings.api_host, port=settings.api_port, log_config=None, proxy_headers=False)
    return 0


def users_create(args: argparse.Namespace) -> int:
    import os

    from safety.accounts import AccountError, create_user, issue_key

    settings = settings_from(args)
    db = Database(settings.resolved_database_url)
    db.upgrade()
    try:
        with db.session() as s:
            user = create_user(
                s,
                args.name,
                args.role,
                organisation_id=args.organisation,
                creator_id=args.creator_id,
                password=args.password or os.environ.get("FEEDGUARD_NEW_PASSWORD"),
                actor="cli",
            )
            key = issue_key(s, user, label="cli", actor="cli")
    except AccountError as exc:
        return _fail(str(exc))
    finally:
        db.dispose()
    print(f"user {user.id} ({args.role}) created; API key (shown once):")
    print(key)
    return 0


def policy_replay(args: argparse.Namespace) -> int:
    from safety.replay import replay

    def when(text: str) -> datetime:
        ts = datetime.fromisoformat(text)
        return ts if ts.tzinfo else ts.replace(tzinfo=UTC)

    try:
        policy = load_policy(args.policy)
        since, until = when(args.since), when(args.until) if args.until else None
    except (PolicyError, ValueError, LookupError) as exc:
        return _fail(str(exc))
    db = Database(settings_from(args).resolved_database_url)
    db.upgrade()
    from safety.cli.progress import Progress

    with Progress(None, "replaying", unit="decision") as bar:

        def tick(done: int, total: int) -> None:
            if done == 1:
                bar.set_total(total)
            bar.update()

        report = replay(db, policy, since, until, on_progress=tick).as_dict(show=args.show)
    db.dispose()
    if args.json:
        print(json.dumps(report))
        return 0
    print(
        f"replayed {report['considered']} decisions under {report['policy_version']}: "
        f"{report['changed']} would change, {report['unchanged']} would not"
    )
    for key, n in sorted(report["transitions"].items(), key=lambda kv: -kv[1]):
        print(f"  {n:6d}  {key}")
    if report["skipped"]:
        print(f"  skipped (signals incomplete): {report['skipped']}")
    if report["missing_signals"]:
        print(f"  signals the policy reads but were never recorded (scored 0): {report['missing_signals']}")
    for ex in report["examples"]:
        print(f"  {ex['video_id']}: {ex['from']} -> {ex['to']}  ({', '.join(ex['rules']) or 'no rule'})")
    return 0


def db_upgrade(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    db = Database(settings.resolved_database_url)
    ran = db.upgrade()
    print(f"{'upgraded' if ran else 'already at'} revision {db.current_revision()}")
    db.dispose()
    return 0


def db_current(args: argparse.Namespace) -> int:
    db = Database(settings_from(args).resolved_database_url)
    print(db.current_revision() or "(empty)")
    db.dispose()
    return 0


def schemas(args: argparse.Namespace) -> int:
    from safety.contract import export_asyncapi

    for path in [*export_schemas(args.directory), export_asyncapi(args.directory)]:
        print(path)
    return 0


def policy_check(args: argparse.Namespace) -> int:
    """Build the real pipeline (every detector) against a scratch registry: proves the wiring."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="feedguard-check-") as tmp:
        settings = Settings(data_dir=Path(tmp), policy_file=args.file)
        db = open_database(settings)
        try:
            pipeline = build_pipeline(settings, db, DryRunPublisher())
        except (PolicyError, ValueError, LookupError) as exc:
            return _fail(str(exc))
        finally:
            db.dispose()
        doc = pipeline.engine.policy.document
        print(
            f"{pipeline.policy_version} ok: {len(doc.rules)} rules, detectors "
            f"{', '.join(d.name for d in pipeline.detectors)}"
        )
        pipeline.close()
    return 0

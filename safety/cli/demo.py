"""``feedguard demo``: the whole path on embedded defaults, printed one verdict per video.

Local broker (Tansu) + SQLite in a temporary directory + sample videos made with ffmpeg;
events go in on ``videos.generated``, outcomes are read back from the outcome topics.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer

from safety.config import Settings
from safety.logs import configure_logging
from safety.media.samples import make_corrupt, make_face_video, make_video
from safety.outcomes import summary
from safety.runtime import build_runtime
from safety.store import DecisionRow

log = logging.getLogger("feedguard.demo")


@dataclass(frozen=True)
class Sample:
    video_id: str
    prompt: str
    age_band: str
    source: str
    expect: str  # what the default policy should do, shown next to the verdict


SAMPLES = [
    Sample("demo-sunrise", "a timelapse of a sunrise over the mountains", "adult", "mandelbrot", "published"),
    Sample(
        "demo-knights",
        "two knights in an epic sword fight in the rain",
        "adult",
        "smptebars",
        "published 13+",
    ),
    Sample("demo-lingerie-adult", "a seductive dance in lingerie", "adult", "testsrc2", "published 18+"),
    Sample(
        "demo-film-set",
        "behind the scenes: shooting a film, the cast is killing it",
        "teen",
        "life",
        "published",
    ),
    Sample("demo-astronaut", "a portrait of an astronaut in her flight suit", "adult", "face", "published"),
    Sample("demo-self-harm", "a vlog where i say i want to hurt myself", "teen", "face", "held"),
    Sample(
        "demo-goodbye",
        "she writes a goodbye letter and wants to end it all",
        "adult",
        "cellauto",
        "held (classifier)",
    ),
    Sample("demo-teen-suggestive", "a s3xy dance in l1ngerie", "teen", "testsrc2", "rejected"),
    Sample("demo-corrupt", "a cat chasing a laser pointer", "adult", "corrupt", "rejected (media)"),
    Sample("demo-hostile-uri", "anything", "adult", "hostile", "rejected (uri)"),
]


def _make_media(media: Path) -> dict[str, str]:
    uris: dict[str, str] = {}
    for s in SAMPLES:
        path = media / f"{s.video_id}.mp4"
        if s.source == "corrupt":
            good = make_video(media / "source-for-corrupt.mp4", source="testsrc2", duration_s=2.0)
            make_corrupt(path, from_video=good)
        elif s.source == "hostile":
            uris[s.video_id] = "file:///etc/passwd"
            continue
        elif s.source == "face":
            make_face_video(path, duration_s=4.0, width=640, height=360, fps=24)
        else:
            make_video(path, source=s.source, duration_s=4.0, width=640, height=360, fps=24)
        uris[s.video_id] = path.resolve().as_uri()
    return uris


def _event(s: Sample, uri: str) -> dict[str, Any]:
    return {
        "schema": "video.generated/v1",
        "video_id": s.video_id,
        "creator": {"id": f"creator-{s.age_band}-1", "age_band": s.age_band},
        "prompt": s.prompt,
        "uri": uri,
        "cameos": [],
        "remix_of": None,
        "created_at": datetime.now(UTC).isoformat(),
        "generator": "feedguard-demo",
    }


def _collect_outcomes(
    bootstrap: str, wanted: set[str], timeout_s: float
) -> dict[str, tuple[str, dict[str, Any]]]:
    """Read the outcome topics (no group, from the start) until every video has an outcome."""
    from streams.topics import OUTCOME_TOPICS

    consumer = KafkaConsumer(
        *OUTCOME_TOPICS,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    from safety.cli.progress import Progress

    seen: dict[str, tuple[str, dict[str, Any]]] = {}
    deadline = time.monotonic() + timeout_s
    bar = Progress(len(wanted), "deciding")  # on a terminal only: piped output stays as it was
    try:
        while wanted - seen.keys() and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                for r in records:
                    key = r.key.decode()
                    if key in wanted and key not in seen:
                        bar.update()
                    seen[key] = (r.topic, json.loads(r.value))
    finally:
        bar.close()
        consumer.close()
    return seen


def run_demo(json_output: bool = False, keep: Path | None = None, review_port: int | None = None) -> int:
    from streams import LocalBroker, Worker, WorkerConfig, ensure_topics, make_producer

    configure_logging("text", "WARNING")
    started = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="feedguard-demo-")) if keep is None else keep
    workdir.mkdir(parents=True, exist_ok=True)
    media = workdir / "media"
    media.mkdir(exist_ok=True)

    def say(line: str) -> None:
        if not json_output:
            print(line, flush=True)

    try:
        say(f"feedguard demo: data in {workdir}")
        uris = _make_media(media)
        say(f"  made {len(uris)} sample videos with ffmpeg ({time.perf_counter() - started:.1f} s)")
        with LocalBroker() as broker:
            say(f"  local broker (Tansu) on {broker.bootstrap}")
            ensure_topics(broker.bootstrap, partitions=2)
            settings = Settings(
                kafka_bootstrap=broker.bootstrap,
                data_dir=workdir,
                media_roots=[media],
                database_url=f"sqlite:///{workdir / 'feedguard.db'}",
                session_timeout_ms=3000,
            )
            runtime = build_runtime(settings, worker_id="demo-worker")
            say(f"  SQLite at {workdir / 'feedguard.db'}, policy {runtime.pipeline.policy_version}")
            producer = make_producer(broker.bootstrap)
            for s in SAMPLES:
                producer.send(
                    "videos.generated",
                    key=s.video_id.encode(),
                    value=json.dumps(_event(s, uris[s.video_id])).encode(),
                )
            producer.flush()
            producer.close()
            worker = Worker(
                WorkerConfig(bootstrap=broker.bootstrap, group_id="feedguard-demo", session_timeout_ms=3000),
                runtime.moderator,
            )
            thread = threading.Thread(target=worker.run, name="demo-worker", daemon=True)
            thread.start()
            outcomes = _collect_outcomes(broker.bootstrap, {s.video_id for s in SAMPLES}, timeout_s=180)
            rows = _rows(runtime.db, [s.video_id for s in SAMPLES])
            missing = [s.video_id for s in SAMPLES if s.video_id not in outcomes]
            _print(rows, outcomes, json_output)
            say(
                f"\n{len(outcomes)}/{len(SAMPLES)} videos decided end to end"
                f" in {time.perf_counter() - started:.1f} s"
                " (incl. making the samples and starting the broker)"
            )
            if not json_output:
                _print_verification(settings, rows)
            if not missing:
                missing += _cameo_act(runtime, broker.bootstrap, media, say, json_output)
            if not missing:
                missing += _rights_act(runtime, broker.bootstrap, media, say, json_output)
            if review_port is not None and not missing:
                _serve_review(settings, runtime, review_port)
            worker.stop()
            thread.join(30)
            runtime.close()
        if missing:
            print(f"feedguard demo: no outcome for {missing}", flush=True)
            return 1
        return 0
    finally:
        if keep is None:
            shutil.rmtree(workdir, ignore_errors=True)


def _print_verification(settings: Settings, rows: dict[str, DecisionRow]) -> None:
    """What anyone downstream can check on each published file: credentials, watermark, record."""
    from safety.assets import LocalAssetStore
    from safety.cli.verify import verify_summary

    published = [r for r in rows.values() if r.outcome == "published" and r.asset_uri]
    if not published:
        return
    print("\nProvenance of the published files (feedguard verify):")
    store = LocalAssetStore(settings.assets_dir)
    for row in published:
        path = store.path_for(row.asset_uri or "")
        summary_line = verify_summary(
            path, data_dir=settings.data_dir, database_url=settings.database_url, settings=settings
        )
        print(f"  {row.video_id:<22} {summary_line}", flush=True)


def _cameo_act(runtime: Any, bootstrap: str, media: Path, say: Any, json_output: bool) -> list[str]:
    """Likeness consent end to end; returns video ids that got no outcome (empty when all is well)."""
    from safety.cli import demo_cameo
    from streams import make_producer
    from streams.outbox import OutboxRelay

    say("\nLikeness consent (cameos):")
    act = demo_cameo.enrol(runtime, media, say)
    producer = make_producer(bootstrap)
    for ev in act.events:
        producer.send("videos.generated", key=ev["video_id"].encode(), value=demo_cameo.as_json(ev))
    producer.flush()
    producer.close()
    ids = {ev["video_id"] for ev in act.events}
    outcomes = _collect_outcomes(bootstrap, ids, timeout_s=120)
    rows = _rows(runtime.db, sorted(ids))
    relay = OutboxRelay(runtime.db, bootstrap)
    taken = demo_cameo.revoke_and_take_down(runtime, relay.send_pending, say)
    takedowns = _collect_takedowns(bootstrap, set(taken), timeout_s=30)
    if relay._producer is not None:
        relay._producer.close(timeout=5)
    for ev in act.events:
        vid = ev["video_id"]
        row = rows.get(vid)
        item: dict[str, Any] = (
            summary(row) if row else {"video_id": vid, "outcome": "missing", "audience": None, "reasons": []}
        )
        item |= {
            "topic": outcomes.get(vid, ("-", {}))[0],
            "expected": act.expected[vid],
            "creator_id": ev["creator"]["id"],
            "taken_down": vid in takedowns,
        }
        if json_output:
            print(json.dumps(item), flush=True)
        else:
            reasons = ", ".join(item["reasons"]) or "-"
            down = "  -> taken down after revocation (feed.takedown)" if item["taken_down"] else ""
            print(
                f"  {vid:<22} by {item['creator_id']:<17} {item['outcome']:<10} {item['audience'] or '-':<9} "
                f"{reasons}{down}",
                flush=True,
            )
    missing = [vid for vid in sorted(ids) if vid not in outcomes]
    return missing + [vid for vid in taken if vid not in takedowns]


def _send(bootstrap: str, events: list[dict[str, Any]]) -> None:
    from streams import make_producer

    producer = make_producer(bootstrap)
    for ev in events:
        producer.send("videos.generated", key=ev["video_id"].encode(), value=json.dumps(ev).encode())
    producer.flush()
    producer.close()


def _rights_act(runtime: Any, bootstrap: str, media: Path, say: Any, json_output: bool) -> list[str]:
    """Rights holders end to end; returns video ids that got no (or an unexpected) outcome."""
    from safety.cli import demo_rights
    from streams.outbox import OutboxRelay

    say("\nRights holders (characters and opt-in rules):")
    act = demo_rights.register(runtime, media, say)
    first = act.event("demo-pip-unlicensed", "a fan animation of an owl wizard waving hello")
    _send(bootstrap, [first])
    outcomes = _collect_outcomes(bootstrap, {first["video_id"]}, timeout_s=120)
    act.opt_in(say)
    later = [
        act.event("demo-pip-licensed", "a fan animation of an owl wizard waving hello in the forest"),
        act.event("demo-pip-violent", "the owl wizard in a bloody gun fight, gore everywhere"),
    ]
    _send(bootstrap, later)
    ids = [first["video_id"], *(ev["video_id"] for ev in later)]
    outcomes |= _collect_outcomes(bootstrap, set(ids), timeout_s=120)
    rows = _rows(runtime.db, ids)
    relay = OutboxRelay(runtime.db, bootstrap)
    taken = act.withdraw(relay.send_pending, say)
    takedowns = _collect_takedowns(bootstrap, set(taken), timeout_s=30)
    if relay._producer is not None:
        relay._producer.close(timeout=5)
    expected = {ids[0]: "rejected", ids[1]: "published", ids[2]: "rejected"}
    for vid in ids:
        row = rows.get(vid)
        topic, payload = outcomes.get(vid, ("-", {}))
        item: dict[str, Any] = (
            summary(row) if row else {"video_id": vid, "outcome": "missing", "audience": None, "reasons": []}
        )
        item |= {"topic": topic, "expected": expected[vid], "taken_down": vid in takedowns,
                 "feed_obligations": payload.get("obligations", [])}  # fmt: skip
        if json_output:
            print(json.dumps(item), flush=True)
            continue
        reasons = ", ".join(item["reasons"]) or "-"
        print(f"  {vid:<22} {item['outcome']:<10} {item['audience'] or '-':<9} {reasons}", flush=True)
        for duty in item["feed_obligations"]:
            print(f"  {'':<22} feed.publish obligation: attribution {duty.get('attribution')!r}, "
                  f"revenue share {duty.get('revenue_share')!r}", flush=True)  # fmt: skip
        if row is not None and row.outcome == "rejected" and row.creator_message:
            print(f"  {'':<22} creator is told: {row.creator_message}", flush=True)
        if item["taken_down"]:
            print(f"  {'':<22} -> taken down after the opt-in was withdrawn (feed.takedown)", flush=True)
    wrong = [
        vid for vid in ids if vid not in outcomes or (rows.get(vid) and rows[vid].outcome != expected[vid])
    ]
    return wrong + [vid for vid in taken if vid not in takedowns]


def _collect_takedowns(bootstrap: str, wanted: set[str], timeout_s: float) -> dict[str, dict[str, Any]]:
    consumer = KafkaConsumer(
        "feed.takedown",
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    seen: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout_s
    try:
        while wanted - seen.keys() and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                for r in records:
                    seen[r.key.decode()] = json.loads(r.value)
    finally:
        consumer.close()
    return seen


def _serve_review(settings: Settings, runtime: Any, port: int) -> None:
    """Keep broker and worker running and serve the API + moderator page until Ctrl-C."""
    import secrets

    import uvicorn

    from safety.accounts import create_user, issue_key
    from safety.api.app import create_app

    password = secrets.token_urlsafe(12)
    with runtime.db.session() as s:
        moderator = create_user(s, "moderator", "moderator", password=password, actor="demo")
        key = issue_key(s, moderator, label="demo", actor="demo")
    review = settings.model_copy(update={"api_port": port})
    print(f"\nModerator page: http://127.0.0.1:{port}/ui/  (user: moderator, password: {password})")
    print(f"API key for curl (moderator): {key}")
    print(
        "The held sample is in the queue; approving it publishes to feed.publish. Ctrl-C stops everything.",
        flush=True,
    )
    uvicorn.run(create_app(review, db=runtime.db), host="127.0.0.1", port=port, log_level="warning")


def _rows(db: Any, video_ids: list[str]) -> dict[str, DecisionRow]:
    from sqlalchemy import select

    with db.session() as s:
        found = s.scalars(select(DecisionRow).where(DecisionRow.video_id.in_(video_ids))).all()
        return {r.video_id: r for r in found}


def _print(
    rows: dict[str, DecisionRow], outcomes: dict[str, tuple[str, dict[str, Any]]], as_json: bool
) -> None:
    expectations = {s.video_id: s.expect for s in SAMPLES}
    lines = []
    for s in SAMPLES:
        row = rows.get(s.video_id)
        item: dict[str, Any] = (
            summary(row)
            if row
            else {"video_id": s.video_id, "outcome": "missing", "audience": None, "reasons": []}
        )
        topic = outcomes.get(s.video_id, ("-", {}))[0]
        item["topic"] = topic
        item["expected"] = expectations[s.video_id]
        lines.append(item)
    if as_json:
        for item in lines:
            print(json.dumps(item), flush=True)
        return
    header = f"\n{'video':<22} {'outcome':<10} {'audience':<9} {'topic':<18} {'ms':>7}  reasons"
    print(header)
    print("-" * (len(header) + 30))
    for item in lines:
        reasons = ", ".join(item["reasons"]) or "-"
        print(
            f"{item['video_id']:<22} {item['outcome']:<10} {item['audience'] or '-':<9} {item['topic']:<18} "
            f"{item.get('ms', 0):>7.0f}  {reasons}"
        )

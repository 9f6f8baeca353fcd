"""The consumer loop against a real Tansu broker and a real PostgreSQL database."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from fgtest import committed_offsets, event, produce, read_topics
from sqlalchemy import select

from safety.store import AuditEntry, DecisionRow
from streams.topics import DEAD_LETTERS, FEED_PUBLISH, MODERATION_REVIEW, OUTCOME_TOPICS, VIDEOS_REJECTED


def uri(p: Path) -> str:
    return p.resolve().as_uri()


def decisions(runtime) -> list[DecisionRow]:  # type: ignore[no-untyped-def]
    with runtime.db.session() as s:
        return list(s.scalars(select(DecisionRow).order_by(DecisionRow.video_id)))


def test_happy_path_publish_hold_reject(broker: str, videos: dict[str, Path], run_worker) -> None:  # type: ignore[no-untyped-def]
    produce(
        broker,
        [
            event("v-ok", uri(videos["plain"]), "two knights in a sword fight"),
            event("v-held", uri(videos["bars"]), "i want to hurt myself"),
            event("v-corrupt", uri(videos["corrupt"])),
        ],
    )
    stats, runtime = run_worker()
    msgs = {m.key: m for m in read_topics(broker, OUTCOME_TOPICS, until=3, quiet_s=1.0)}
    assert set(msgs) == {"v-ok", "v-held", "v-corrupt"}

    ok = msgs["v-ok"]
    assert ok.topic == FEED_PUBLISH
    assert ok.value["schema"] == "video.published/v1"
    assert ok.value["audience"] == "13+"
    assert ok.value["policy_version"] == "feedguard-default@3.3.0"
    assert ok.headers["decision_id"].decode() == ok.value["decision_id"]
    # The published file is the signed, watermarked re-encode, not the creator's upload.
    from safety.provenance.certs import dev_trust_anchors
    from safety.provenance.verify import verify_file

    asset = Path(ok.value["asset_uri"].removeprefix("file://"))
    report = verify_file(asset, dev_trust_anchors(runtime.settings.data_dir), runtime.db)
    assert report.c2pa_state == "Trusted"
    assert report.record is not None and report.record["decision_id"] == ok.value["decision_id"]
    assert report.watermark is not None and report.watermark.watermark_id == report.record["watermark_id"]

    assert msgs["v-held"].topic == MODERATION_REVIEW
    assert msgs["v-held"].value["reasons"] == ["self_harm.review"]
    assert msgs["v-held"].value["priority"] == "urgent"
    assert msgs["v-corrupt"].topic == VIDEOS_REJECTED
    assert msgs["v-corrupt"].value["reasons"] == ["media.corrupt"]
    assert msgs["v-corrupt"].value["message"]

    rows = {r.video_id: r for r in decisions(runtime)}
    assert {v: r.outcome for v, r in rows.items()} == {
        "v-ok": "published",
        "v-held": "held",
        "v-corrupt": "rejected",
    }
    assert all(r.emitted_at is not None for r in rows.values())
    assert rows["v-ok"].trace[0]["rule_id"] == "rate.violence"
    assert any(s["name"] == "prompt.violence" and s["score"] > 0.5 for s in rows["v-ok"].signals)
    assert {"fetch", "probe", "sample", "detect:prompt_screen", "policy"} <= set(rows["v-ok"].stage_ms)
    with runtime.db.session() as s:
        audit = s.scalars(select(AuditEntry.subject_id).where(AuditEntry.action == "decision.recorded")).all()
    assert sorted(audit) == ["v-corrupt", "v-held", "v-ok"]
    assert sum(committed_offsets(broker, "fg-test").values()) == 3
    assert stats.decided == 3 and stats.dead_lettered == 0


def test_redelivered_event_is_decided_and_emitted_once(
    broker: str, videos: dict[str, Path], run_worker
) -> None:  # type: ignore[no-untyped-def]
    ev = event("v-dup", uri(videos["plain"]))
    produce(broker, [ev, ev])  # the platform sent it twice
    stats, runtime = run_worker()
    out = read_topics(broker, OUTCOME_TOPICS, until=2, timeout_s=5, quiet_s=1.0)
    assert [m.key for m in out] == ["v-dup"]
    assert len(decisions(runtime)) == 1
    assert (stats.decided, stats.replayed) == (1, 1)

    # Redelivery after the offset was committed (e.g. a consumer group reset): still once.
    produce(broker, [ev])
    stats2, _ = run_worker()
    assert stats2.replayed == 1 and stats2.decided == 0
    assert len(read_topics(broker, OUTCOME_TOPICS, timeout_s=2, quiet_s=1.0)) == 1


def test_decided_but_not_emitted_is_re_emitted_with_the_same_decision(
    broker: str,
    videos: dict[str, Path],
    run_worker,
    pg_url: str,
    tmp_path: Path,
    video_root: Path,  # type: ignore[no-untyped-def]
) -> None:
    """A crash between recording the decision and producing it: the next delivery emits it."""
    from safety.config import Settings
    from safety.events import VideoGenerated
    from safety.runtime import build_runtime

    ev = event("v-crash", uri(videos["plain"]), "a sword fight")
    rt = build_runtime(
        Settings(database_url=pg_url, data_dir=tmp_path, media_roots=[video_root]), worker_id="crashed"
    )
    first = rt.moderator.handle(VideoGenerated.model_validate(ev)).row
    rt.close()
    assert first.emitted_at is None

    produce(broker, [ev])
    stats, runtime = run_worker()
    (msg,) = read_topics(broker, OUTCOME_TOPICS, until=1, quiet_s=1.0)
    assert msg.value["decision_id"] == first.id
    assert stats.replayed == 1
    (row,) = decisions(runtime)
    assert row.worker_id == "crashed" and row.emitted_at is not None


def test_poison_events_go_to_the_dlq_and_the_partition_moves_on(
    broker: str,
    videos: dict[str, Path],
    run_worker,  # type: ignore[no-untyped-def]
) -> None:
    bad = [
        b"not json at all",
        b"\xff\xfe invalid utf-8",
        json.dumps({"schema": "video.generated/v1", "video_id": "x"}).encode(),
        json.dumps(event("v-bad-band", "file:///x.mp4", age_band="toddler")).encode(),
        ("[" * 40 + '"deep"' + "]" * 40).encode(),
    ]
    # All on one partition (same key), with a good event behind them.
    producer_events: list[bytes | dict] = [*bad]  # type: ignore[type-arg]
    produce(broker, producer_events)
    produce(broker, [event("v-after", uri(videos["plain"]))])
    stats, _ = run_worker()
    letters = read_topics(broker, [DEAD_LETTERS], until=len(bad))
    assert len(letters) == len(bad)
    assert sorted(base64.b64decode(m.value["value_b64"]) for m in letters) == sorted(bad)
    assert all(m.value["error_type"] == "PoisonEvent" and m.value["error"] for m in letters)
    assert any("age_band" in m.value["error"] for m in letters)
    assert any("deeper than" in m.value["error"] for m in letters)
    (ok,) = read_topics(broker, OUTCOME_TOPICS, until=1)
    assert ok.key == "v-after"
    assert sum(committed_offsets(broker, "fg-test").values()) == len(bad) + 1
    assert stats.dead_lettered == len(bad)


def test_a_detector_that_raises_sends_the_video_to_review(
    broker: str,
    videos: dict[str, Path],
    run_worker,  # type: ignore[no-untyped-def]
) -> None:
    produce(broker, [event("v-boom", uri(videos["plain"]))])
    _, runtime = run_worker(extra_detectors=["fgtest:RaisingDetector"])
    (msg,) = read_topics(broker, OUTCOME_TOPICS, until=1, quiet_s=1.0)
    assert msg.topic == MODERATION_REVIEW
    assert msg.value["failed_stage"] == "detect:test.raises"
    assert msg.value["reasons"] == ["pipeline.stage_failed.detect:test.raises"]
    (row,) = decisions(runtime)
    assert row.outcome == "held" and "model session crashed" in (row.error or "")


def test_a_hanging_detector_times_out_to_review(broker: str, videos: dict[str, Path], run_worker) -> None:  # type: ignore[no-untyped-def]
    produce(broker, [event("v-hang", uri(videos["plain"])), event("v-next", uri(videos["bars"]))])
    # 4 s: ten times what sampling this clip takes, so only the hanging stage can hit it on a loaded box
    stats, _ = run_worker(extra_detectors=["fgtest:HangingDetector"], stage_timeout_s=4.0)
    msgs = {m.key: m for m in read_topics(broker, OUTCOME_TOPICS, until=2)}
    assert {m.topic for m in msgs.values()} == {MODERATION_REVIEW}
    assert msgs["v-hang"].value["failed_stage"] == "detect:test.hangs"
    assert stats.decided == 2  # the worker stayed healthy and moved on


def test_unexpected_errors_retry_then_dead_letter(
    broker: str,
    videos: dict[str, Path],
    run_worker,
    monkeypatch,  # type: ignore[no-untyped-def]
) -> None:
    """An error outside the pipeline's stages (a bug) is retried, then parked in the DLQ."""
    from safety import service

    calls = {"n": 0}
    original = service.Moderator.handle

    def flaky(self, ev):  # type: ignore[no-untyped-def]
        if ev.video_id == "v-bug":
            calls["n"] += 1
            raise KeyError("bug in outcome mapping")
        return original(self, ev)

    monkeypatch.setattr(service.Moderator, "handle", flaky)
    produce(broker, [event("v-bug", uri(videos["plain"])), event("v-fine", uri(videos["plain"]))])
    _stats, _ = run_worker(max_attempts=3)
    assert calls["n"] == 3
    (letter,) = read_topics(broker, [DEAD_LETTERS], until=1)
    assert letter.value["attempts"] == 3 and letter.value["error_type"] == "KeyError"
    assert [m.key for m in read_topics(broker, OUTCOME_TOPICS, until=1)] == ["v-fine"]

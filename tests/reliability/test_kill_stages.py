"""SIGKILL at every stage of the pipeline, then a fresh worker: nothing lost, nothing announced twice.

Each case arms one failpoint (``safety.faults``) in a real worker process, waits for it to die of
SIGKILL in the middle of its third (or second) event, then starts a fresh worker without it and
checks the end state: every event has exactly one stored decision, every outcome is announced
exactly once, and every message carries the decision_id (body and header).
"""

from __future__ import annotations

import signal
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from fgtest import committed_offsets, event, produce, read_topics, wait_for
from relhelp import (
    HOLD_PROMPT,
    ApiProcess,
    assert_each_decided_once_and_announced_once,
    decisions,
    killed_by_failpoint,
    light_worker,
    new_user,
    scalar,
)

from streams.topics import FEED_PUBLISH, MODERATION_REVIEW

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Stage:
    failpoint: str
    hit: int = 3
    events: int = 6
    provenance: bool = False
    extra_detectors: list[str] = field(default_factory=list)
    survivor_says: str = ""  # a log line proving the recovery path this stage needs ran


STAGES = {
    # polled, nothing decided yet
    "before_detect": Stage("worker.before_moderate"),
    # inside a detector (its stage thread) of the third video
    "during_detect": Stage("detect.during", extra_detectors=["relhelp:FailpointDetector"]),
    # outcomes acknowledged by the broker, not yet marked emitted: the duplicate window
    "after_produce_before_commit": Stage(
        "worker.after_produce", survivor_says="is already on its topic: marked emitted, not produced again"
    ),
    # outcomes marked emitted, offsets not yet committed
    "after_mark_before_commit": Stage("worker.before_commit", survivor_says="already decided and emitted"),
    # publish step: watermarked and encoded, the signed file open, C2PA signature not yet written
    "during_signing": Stage("provenance.sign", hit=2, events=4, provenance=True),
}


@pytest.mark.parametrize("stage", list(STAGES))
def test_sigkill_at_stage_then_fresh_worker_decides_each_event_once(
    stage: str, broker: str, pg_url: str, tmp_path: Path, tiny_video: Path
) -> None:
    spec = STAGES[stage]
    ids = [f"{stage}-{i}" for i in range(spec.events)]
    uri = tiny_video.resolve().as_uri()
    # One held video among the published ones: both paths go through the same checkpoint.
    produce(broker, [event(v, uri, HOLD_PROMPT if i == 1 else f"clip {i}") for i, v in enumerate(ids)])
    common = {
        "provenance": spec.provenance,
        "extra_detectors": spec.extra_detectors,
    }
    victim = light_worker(
        broker, pg_url, tmp_path, tiny_video.parent, failpoints=f"{spec.failpoint}:{spec.hit}", **common
    )
    try:
        killed_by_failpoint(victim, spec.failpoint)
    finally:
        victim.stop()
    before = decisions(pg_url)
    assert len(before) < len(ids), "the victim decided everything before dying"
    survivor = light_worker(broker, pg_url, tmp_path, tiny_video.parent, idle_exit=3, **common)
    try:
        assert survivor.wait(120) == 0, survivor.log()[-3000:]
    finally:
        survivor.stop()
    assert spec.survivor_says in survivor.log()
    assert_each_decided_once_and_announced_once(broker, pg_url, ids)
    assert sum(committed_offsets(broker, "fg-test").values()) == len(ids)
    if spec.provenance:
        published = [r for r in decisions(pg_url) if r.outcome == "published"]
        assert published
        # One provenance record (watermark id) per published decision, none left half-written.
        records = scalar(
            pg_url, "SELECT count(DISTINCT decision_id) || '/' || count(*) FROM provenance_records"
        )
        assert records == f"{len(published)}/{len(published)}"


def test_sigkill_in_the_outbox_relay_then_restart_announces_the_approval_once(
    broker: str, pg_url: str, tmp_path: Path, tiny_video: Path
) -> None:
    """A moderator's approval goes out through the API's outbox relay; the API is killed after the
    broker acknowledged it but before the row was marked sent, then restarted."""
    uri = tiny_video.resolve().as_uri()
    produce(broker, [event("relay-held", uri, HOLD_PROMPT), event("relay-pub", uri, "clip")])
    worker = light_worker(broker, pg_url, tmp_path, tiny_video.parent, idle_exit=3)
    victim = None
    try:
        assert worker.wait(120) == 0, worker.log()[-3000:]
        (held,) = [r for r in decisions(pg_url) if r.outcome == "held"]
        moderator = new_user(pg_url, "moderator")
        victim = ApiProcess(broker, pg_url, tmp_path, tiny_video.parent, failpoints="outbox.after_send")
        victim.wait_ready()
        headers = {"Authorization": f"Bearer {moderator}"}
        item_id = scalar(pg_url, f"SELECT id FROM review_items WHERE decision_id = '{held.id}'")
        with httpx.Client(base_url=victim.url, headers=headers, timeout=30) as c:
            assert c.post(f"/v1/review/items/{item_id}/claim").status_code == 200
            try:  # the relay may kill the process before or after the response is written
                approve = {"action": "approve", "audience": "everyone"}
                r = c.post(f"/v1/review/items/{item_id}/decision", json=approve)
                assert r.status_code == 200, r.text
            except httpx.TransportError:
                pass
        assert victim.wait(30) == -signal.SIGKILL
        assert "failpoint outbox.after_send fired" in victim.log()
        # The approval was committed and sent, but the outbox row still says "unsent".
        assert scalar(pg_url, "SELECT count(*) FROM outbox WHERE sent_at IS NULL") >= 1
        sent_before = read_topics(broker, [FEED_PUBLISH], until=2, timeout_s=10)
        assert sorted(m.key for m in sent_before) == ["relay-held", "relay-pub"]
        restarted = ApiProcess(broker, pg_url, tmp_path, tiny_video.parent)
        try:
            restarted.wait_ready()
            wait_for(
                lambda: scalar(pg_url, "SELECT count(*) FROM outbox WHERE sent_at IS NULL") == 0,
                30,
                what="the restarted relay to settle the outbox",
            )
        finally:
            restarted.stop()
    finally:
        worker.stop()
        if victim is not None:
            victim.stop()
    action_id = scalar(pg_url, "SELECT id FROM review_actions WHERE action = 'approve'")
    published = read_topics(broker, [FEED_PUBLISH], until=3, timeout_s=10, quiet_s=1.5)
    keys = sorted(m.key for m in published)
    assert keys == ["relay-held", "relay-pub"], f"feed.publish per video: {keys}"
    (approval,) = [m for m in published if m.key == "relay-held"]
    assert approval.value["decision_id"] == action_id
    assert approval.headers["decision_id"] == action_id.encode()
    (review,) = read_topics(broker, [MODERATION_REVIEW], until=1, quiet_s=0.5)
    assert review.key == "relay-held" and review.value["decision_id"] == held.id
    assert len(decisions(pg_url)) == 2


def test_sigkill_while_an_approval_is_published_then_another_api_takes_the_job_over(
    broker: str, pg_url: str, tmp_path: Path, tiny_video: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The API running an approval's publish job dies after the asset is written but before the job
    is recorded; a second API process takes the job over once the claim lapses and publishes it
    once: one asset, one video.published/v1 carrying the approval's decision_id."""
    monkeypatch.setenv("FEEDGUARD_PUBLISH_JOB_CLAIM_S", "3")
    uri = tiny_video.resolve().as_uri()
    produce(broker, [event("job-held", uri, HOLD_PROMPT)])
    worker = light_worker(broker, pg_url, tmp_path, tiny_video.parent, idle_exit=3)
    victim = survivor = None
    try:
        assert worker.wait(120) == 0, worker.log()[-3000:]
        (held,) = decisions(pg_url)
        moderator = new_user(pg_url, "moderator")
        victim = ApiProcess(broker, pg_url, tmp_path, tiny_video.parent, failpoints="publish_job.before_done")
        victim.wait_ready()
        item_id = scalar(pg_url, f"SELECT id FROM review_items WHERE decision_id = '{held.id}'")
        with httpx.Client(base_url=victim.url, headers={"Authorization": f"Bearer {moderator}"}) as c:
            assert c.post(f"/v1/review/items/{item_id}/claim").status_code == 200
            try:
                r = c.post(
                    f"/v1/review/items/{item_id}/decision", json={"action": "approve", "audience": "13+"}
                )
                assert r.status_code == 200 and r.json()["publish_status"] == "queued", r.text
            except httpx.TransportError:
                pass  # killed before the response was written: the approval committed anyway
        assert victim.wait(60) == -signal.SIGKILL
        assert "failpoint publish_job.before_done fired" in victim.log()
        assert scalar(pg_url, "SELECT status FROM publish_jobs") == "running"
        survivor = ApiProcess(broker, pg_url, tmp_path, tiny_video.parent)
        survivor.wait_ready()
        wait_for(
            lambda: scalar(pg_url, "SELECT status FROM publish_jobs") == "done",
            60,
            what="the second API to take the job over",
        )
        wait_for(
            lambda: scalar(pg_url, "SELECT count(*) FROM outbox WHERE sent_at IS NULL") == 0,
            30,
            what="the relay to send the approval",
        )
    finally:
        worker.stop()
        for api in (victim, survivor):
            if api is not None:
                api.stop()
    action_id = scalar(pg_url, "SELECT id FROM review_actions WHERE action = 'approve'")
    assert scalar(pg_url, "SELECT attempts FROM publish_jobs") == 2
    (published,) = read_topics(broker, [FEED_PUBLISH], until=1, timeout_s=10, quiet_s=1.5)
    assert published.key == "job-held" and published.value["audience"] == "13+"
    assert published.headers["decision_id"] == action_id.encode()
    assert scalar(pg_url, "SELECT state FROM videos WHERE video_id = 'job-held'") == "published"

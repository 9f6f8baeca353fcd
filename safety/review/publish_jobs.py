"""Moderator approvals as publish jobs: the reviewed snapshot is published outside any request.

An approval (or an overturned appeal) only records a :class:`PublishJob` naming the snapshot the
moderator reviewed. A runner (a thread in the API process, see :class:`PublishJobRunner`) claims
jobs, opens the snapshot with its digest re-checked, runs the same publish step as the pipeline
(watermark, encode, C2PA naming the snapshot digest, signing last) with no row lock held, and then,
in one transaction, records the asset, emits ``video.published/v1`` through the outbox and marks
the video published. A snapshot that is missing or altered fails the job closed: nothing is
published and the item goes back to the queue with the reason.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from policies import Audience, Decision, Outcome, RuleHit
from safety.events import Obligation, VideoGenerated, VideoPublished
from safety.faults import failpoint
from safety.media import MediaRejected, MediaUnavailable, probe
from safety.media.limits import MediaLimits
from safety.media.snapshot import SnapshotStore
from safety.outbox import enqueue
from safety.publishing import Publisher, PublishRequest
from safety.registry.reconcile import enqueue_if_stale
from safety.store import Database, DecisionRow, PublishJob, ReviewAction, ReviewItem, Video
from safety.store.audit import audit
from safety.store.models import utcnow
from safety.topics import FEED_PUBLISH

log = logging.getLogger(__name__)

DEFAULT_CLAIM = timedelta(seconds=90)  # a runner that died mid-publish loses its claim after this
MAX_ATTEMPTS = 3  # transient failures (encoder crash, disk full) before the job fails for good


class ApprovalError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def queue_publish(
    session: Session,
    video: Video,
    action: ReviewAction,
    decision: DecisionRow | None,
    reviewed_by: str,
) -> PublishJob:
    """Record the approval's publish job in the caller's transaction (no media is read here)."""
    if not video.media_sha256:
        raise ApprovalError(
            "no-snapshot",
            "this video has no media snapshot (its media was never read), so nothing can be published",
        )
    job = PublishJob(
        id=action.id,
        video_id=video.video_id,
        item_id=action.item_id,
        decision_id=decision.id if decision else None,
        media_sha256=video.media_sha256,
        audience=action.audience or Audience.EVERYONE.value,
        labels=sorted({*(decision.labels if decision else []), "reviewed"}),
        obligations=list(decision.obligations or []) if decision else [],
        policy_version=decision.policy_version if decision else "moderator",
        reviewed_by=reviewed_by,
        status="queued",
        attempts=0,
    )
    session.add(job)
    video.state = "publishing"
    return job


@dataclass(frozen=True)
class JobResult:
    job_id: str
    status: str  # done | failed | retry
    detail: str = ""


class PublishJobs:
    """Claims and runs publish jobs; several runners (processes) may share the table."""

    def __init__(
        self,
        db: Database,
        publisher: Publisher,
        snapshots: SnapshotStore,
        limits: MediaLimits,
        owner: str,
        claim_ttl: timedelta = DEFAULT_CLAIM,
    ) -> None:
        self.claim_ttl = claim_ttl  # renewed every third of it while the job runs
        self.db = db
        self.publisher = publisher
        self.snapshots = snapshots
        self.limits = limits
        self.owner = owner

    def claim(self) -> PublishJob | None:
        """One queued job (or one whose runner's claim expired), claimed by a conditional update."""
        now = utcnow()
        with self.db.session() as s:
            candidates = s.scalars(
                select(PublishJob.id)
                .where(
                    or_(
                        PublishJob.status == "queued",
                        (PublishJob.status == "running") & (PublishJob.claimed_until < now),
                    )
                )
                .order_by(PublishJob.created_at)
                .limit(5)
            ).all()
            for job_id in candidates:
                won = s.execute(
                    update(PublishJob)
                    .where(
                        PublishJob.id == job_id,
                        or_(
                            PublishJob.status == "queued",
                            (PublishJob.status == "running") & (PublishJob.claimed_until < now),
                        ),
                    )
                    .values(
                        status="running",
                        claimed_by=self.owner,
                        claimed_until=now + self.claim_ttl,
                        attempts=PublishJob.attempts + 1,
                    )
                )
                if won.rowcount == 1:  # type: ignore[attr-defined]
                    claimed = job_id
                    break
            else:
                return None
        with self.db.session() as s:
            return s.get(PublishJob, claimed)

    def run_once(self) -> JobResult | None:
        job = self.claim()
        if job is None:
            return None
        stop = threading.Event()
        beat = threading.Thread(
            target=self._heartbeat, args=(job.id, stop), name="publish-job-claim", daemon=True
        )
        beat.start()
        try:
            uri = self._publish(job)
        except (MediaRejected, MediaUnavailable) as exc:
            if (
                isinstance(exc, MediaUnavailable)
                and not exc.code.startswith("snapshot.")
                and (job.attempts < MAX_ATTEMPTS)
            ):
                return self._retry(job, str(exc))
            return self._fail(job, exc.code, str(exc))
        except Exception as exc:  # encoder crash, disk full, signer trouble: try again, then fail
            log.exception("publish job %s failed", job.id)
            if job.attempts < MAX_ATTEMPTS:
                return self._retry(job, f"{type(exc).__name__}: {exc}")
            return self._fail(job, "publish.failed", f"{type(exc).__name__}: {exc}")
        finally:
            stop.set()
            beat.join(5)
        failpoint("publish_job.before_done")  # fault tests: published, not yet recorded
        return self._done(job, uri)

    def _heartbeat(self, job_id: str, stop: threading.Event) -> None:
        """Renew the claim while the publish runs (an encode may take minutes); a runner that dies
        stops renewing, and another takes the job over within ``claim_ttl``."""
        while not stop.wait(self.claim_ttl.total_seconds() / 3):
            try:
                with self.db.session() as s:
                    s.execute(
                        update(PublishJob)
                        .where(PublishJob.id == job_id, PublishJob.claimed_by == self.owner)
                        .values(claimed_until=utcnow() + self.claim_ttl)
                    )
            except Exception:
                log.warning("publish job %s: renewing the claim failed", job_id, exc_info=True)

    def _publish(self, job: PublishJob) -> str:
        with self.db.session() as s:
            video = s.get(Video, job.video_id)
            assert video is not None
            event = VideoGenerated.model_validate(video.event)
            decision = s.get(DecisionRow, job.decision_id) if job.decision_id else None
        snap = self.snapshots.open(job.media_sha256, verify=True)  # fail closed on any change
        info = probe(snap.path, self.limits)
        request = PublishRequest(
            event=event,
            source=snap.path,
            info=info,
            decision_id=job.id,
            decision=_moderated(job, decision),
            reviewed_by=job.reviewed_by,
            grants=[{"type": "rights.obligation", **o} for o in job.obligations],
            media_sha256=snap.sha256,
        )
        return self.publisher.publish(request).uri

    def _done(self, job: PublishJob, uri: str) -> JobResult:
        with self.db.session() as s:
            row = s.get(PublishJob, job.id, with_for_update=True)
            if row is None or row.status != "running" or row.claimed_by != self.owner:
                return JobResult(job.id, "lost", "another runner took the job over")
            row.status, row.asset_uri, row.finished_at, row.error = "done", uri, utcnow(), None
            action = s.get(ReviewAction, job.id)
            if action is not None:
                action.asset_uri = uri
            video = s.get(Video, job.video_id)
            assert video is not None
            video.state = "published"
            decision = s.get(DecisionRow, job.decision_id) if job.decision_id else None
            if decision is not None:  # decided on registries that may have changed since: re-check
                enqueue_if_stale(s, decision)
            enqueue(
                s,
                FEED_PUBLISH,
                job.video_id,
                VideoPublished(
                    video_id=job.video_id,
                    audience=Audience(job.audience),
                    labels=list(job.labels),
                    asset_uri=uri,
                    decision_id=job.id,
                    policy_version=job.policy_version,
                    obligations=[Obligation.model_validate(o) for o in job.obligations],
                ),
                job.id,
            )
            audit(
                s,
                "publisher",
                "publish_job.done",
                "video",
                job.video_id,
                job_id=job.id,
                asset_uri=uri,
                media_sha256=job.media_sha256,
            )
        return JobResult(job.id, "done", uri)

    def _retry(self, job: PublishJob, detail: str) -> JobResult:
        with self.db.session() as s:
            s.execute(
                update(PublishJob)
                .where(PublishJob.id == job.id, PublishJob.claimed_by == self.owner)
                .values(status="queued", error=detail[:2000], claimed_until=None)
            )
        return JobResult(job.id, "retry", detail)

    def _fail(self, job: PublishJob, code: str, detail: str) -> JobResult:
        """Nothing is published; the item goes back to the queue, urgent, saying why."""
        log.warning("publish job %s failed closed: %s", job.id, detail)
        with self.db.session() as s:
            row = s.get(PublishJob, job.id, with_for_update=True)
            if row is None or row.claimed_by != self.owner:
                return JobResult(job.id, "lost", "another runner took the job over")
            row.status, row.error, row.finished_at = "failed", f"{code}: {detail}"[:2000], utcnow()
            video = s.get(Video, job.video_id)
            assert video is not None
            video.state = "held"
            item = s.get(ReviewItem, job.item_id)
            if item is not None:
                item.status = "open"
                item.priority = 3000
                item.reasons = sorted({*item.reasons, f"publish_failed.{code}"})
                item.decided_at = None
                item.updated_at = utcnow()
            audit(
                s,
                "publisher",
                "publish_job.failed",
                "video",
                job.video_id,
                job_id=job.id,
                code=code,
                detail=detail[:500],
                media_sha256=job.media_sha256,
            )
        return JobResult(job.id, "failed", f"{code}: {detail}")


def _moderated(job: PublishJob, decision: DecisionRow | None) -> Decision:
    """The verdict a moderator's approval stands for (what the C2PA moderation assertion records)."""
    return Decision(
        outcome=Outcome.PUBLISH,
        audience=Audience(job.audience),
        reasons=[],
        creator_message=None,
        priority=None,
        labels=list(job.labels),
        policy=job.policy_version.split("@")[0],
        policy_version=job.policy_version,
        policy_digest=decision.policy_digest if decision else "",
        trace=[
            RuleHit(
                rule_id="moderator.approve",
                description="approved by a moderator (see the review action in the audit log)",
                action="label",
                mode="enforce",
            )
        ],
    )


class PublishJobRunner:
    """Background thread running publish jobs; ``kick()`` wakes it after an approval."""

    def __init__(
        self, jobs: PublishJobs, interval_s: float = 2.0, after_done: Callable[[], None] | None = None
    ) -> None:
        self.jobs = jobs
        self.interval_s = interval_s
        self.after_done = after_done  # e.g. wake the outbox relay: the video.published row is waiting
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.results: list[JobResult] = []

    def start(self) -> PublishJobRunner:
        self._thread = threading.Thread(target=self._run, name="publish-jobs", daemon=True)
        self._thread.start()
        return self

    def kick(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(30)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                while not self._stop.is_set():
                    result = self.jobs.run_once()
                    if result is None:
                        break
                    self.results = [*self.results[-99:], result]
                    if result.status == "done" and self.after_done is not None:
                        self.after_done()
            except Exception:
                log.exception("publish job runner: pass failed, will retry")
            self._wake.wait(self.interval_s)
            self._wake.clear()

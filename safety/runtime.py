"""Assemble the long-lived parts (database, policy, detectors, publisher) from settings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session

from classifiers import Detector
from classifiers.sessions import set_model_threads, set_worker_threads
from policies import load_policy
from safety.assets import LocalAssetStore
from safety.config import Settings
from safety.likeness.detector import LikenessResult, build_likeness_detector
from safety.likeness.reconcile import LikenessChecker
from safety.likeness.records import record_matches
from safety.media.snapshot import SnapshotStore
from safety.pipeline import Pipeline, PipelineResult
from safety.publishing import CopyPublisher, Publisher
from safety.registry.reconcile import Reconciler, stamp_decision
from safety.retention import SnapshotJanitor
from safety.review.publish_jobs import PublishJobRunner, PublishJobs
from safety.rights.gate import GateResult, RightsGate
from safety.rights.reconcile import RightsChecker
from safety.rights.registry import record_rights
from safety.rights.view import build_rights_detector
from safety.service import Moderator, Recorder, default_worker_id
from safety.store import Database, DecisionRow, Repository


@dataclass
class Runtime:
    settings: Settings
    db: Database
    pipeline: Pipeline
    moderator: Moderator

    def close(self) -> None:
        self.pipeline.close()
        self.db.dispose()


def build_publisher(settings: Settings, db: Database) -> Publisher:
    """The publish step every path shares (pipeline and moderator approvals): watermark, final
    H.264 encode and C2PA signing (last), unless provenance is switched off."""
    set_worker_threads(settings.worker_threads)  # its ffmpeg runs (e.g. in the API's approvals)
    assets = LocalAssetStore(settings.assets_dir)
    if not settings.provenance.enabled:
        return CopyPublisher(assets)
    from safety.provenance.publisher import ProvenancePublisher

    return ProvenancePublisher(assets, db, settings.provenance, data_dir=settings.data_dir)


def build_pipeline(settings: Settings, db: Database, publisher: Publisher | None = None) -> Pipeline:
    """The pipeline with its registry-backed detectors (likeness reads the cameo registry in ``db``)."""
    set_worker_threads(settings.worker_threads)  # ffmpeg calls and model sessions, before they load
    set_model_threads(settings.model_threads or None)
    policy = load_policy(settings.policy_file)
    shadow = load_policy(settings.shadow_policy_file) if settings.shadow_policy_file else None
    likeness = build_likeness_detector(settings, db, poll_s=settings.registry_poll_s)
    built: list[Detector] = [likeness]
    try:
        rights = build_rights_detector(db, settings.assets_dir, poll_s=settings.registry_poll_s)
        built.append(rights)
        return Pipeline(
            settings,
            policy,
            publisher or build_publisher(settings, db),
            shadow_policy=shadow,
            detectors=built,
            rights=RightsGate(rights.view),
        )
    except BaseException:
        for detector in built:
            detector.close()
        raise


def store_likeness(session: Session, row: DecisionRow, result: PipelineResult) -> None:
    for found in result.artifacts:
        if isinstance(found, LikenessResult):  # rejected videos never reach the feed: no re-check
            record_matches(session, row.video_id, row.id, found, keep_tracks=row.outcome != "rejected")


def store_rights(session: Session, row: DecisionRow, result: PipelineResult) -> None:
    for found in result.artifacts:
        if isinstance(found, GateResult):
            record_rights(session, row, found)


def stamp_registries(session: Session, row: DecisionRow, result: PipelineResult) -> None:
    stamp_decision(session, row)  # last: queues a re-check if a registry moved past what it read


def recorders_for(pipeline: Pipeline) -> list[Recorder]:
    """What each decision stores besides itself, in its own transaction."""
    return [store_likeness, store_rights, stamp_registries]


def build_reconciler(
    db: Database, *, interval_s: float = 0.25, on_acted: Callable[[list[str]], None] | None = None
) -> Reconciler:
    """The registry reconciler (one thread per worker and API process; they share the work)."""
    return Reconciler(db, [LikenessChecker(), RightsChecker()], interval_s=interval_s, on_acted=on_acted)


def publish_job_runner(
    settings: Settings, db: Database, publisher: Publisher, after_done: Callable[[], None] | None = None
) -> PublishJobRunner:
    """Moderator approvals are published by this runner (the same publisher as the pipeline)."""
    jobs = PublishJobs(
        db,
        publisher,
        SnapshotStore(settings.snapshots_dir),
        settings.media_limits,
        owner=f"api:{default_worker_id()}",
        claim_ttl=timedelta(seconds=settings.publish_job_claim_s),
    )
    return PublishJobRunner(jobs, after_done=after_done)


def snapshot_janitor(settings: Settings, db: Database) -> SnapshotJanitor:
    return SnapshotJanitor(
        db,
        SnapshotStore(settings.snapshots_dir),
        retention=timedelta(days=settings.snapshot_retention_days),
        appeal_window=timedelta(days=settings.appeal_window_days),
        interval_s=settings.snapshot_gc_interval_s,
    )


def open_database(settings: Settings, migrate: bool = True) -> Database:
    db = Database(settings.resolved_database_url)
    if migrate:
        db.upgrade()
    return db


def build_runtime(settings: Settings, worker_id: str | None = None, migrate: bool = True) -> Runtime:
    """Open the database (migrating it when behind, as every entry point does) and the pipeline."""
    db = open_database(settings, migrate)
    pipeline = build_pipeline(settings, db)
    return Runtime(
        settings, db, pipeline, Moderator(pipeline, Repository(db), worker_id, recorders_for(pipeline))
    )

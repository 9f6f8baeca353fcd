"""Assemble the long-lived parts (database, policy, detectors, publisher) from settings."""

from __future__ import annotations

from dataclasses import dataclass

from policies import load_policy
from safety.assets import LocalAssetStore
from safety.config import Settings
from safety.pipeline import Pipeline
from safety.publishing import CopyPublisher, Publisher
from safety.service import Moderator
from safety.store import Database, Repository


@dataclass
class Runtime:
    settings: Settings
    db: Database
    pipeline: Pipeline
    moderator: Moderator

    def close(self) -> None:
        self.pipeline.close()
        self.db.dispose()


def build_publisher(settings: Settings, db: Database | None = None) -> Publisher:
    """The publish step every path shares (pipeline and moderator approvals)."""
    return CopyPublisher(LocalAssetStore(settings.assets_dir))


def build_pipeline(
    settings: Settings, publisher: Publisher | None = None, db: Database | None = None
) -> Pipeline:
    policy = load_policy(settings.policy_file)
    shadow = load_policy(settings.shadow_policy_file) if settings.shadow_policy_file else None
    return Pipeline(settings, policy, publisher or build_publisher(settings, db), shadow_policy=shadow)


def build_runtime(settings: Settings, worker_id: str | None = None, migrate: bool = True) -> Runtime:
    """Open the database (migrating it when behind, as every entry point does) and the pipeline."""
    db = Database(settings.resolved_database_url)
    if migrate:
        db.upgrade()
    pipeline = build_pipeline(settings, db=db)
    return Runtime(settings, db, pipeline, Moderator(pipeline, Repository(db), worker_id))

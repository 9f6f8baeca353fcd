"""The runtime builders hand the thread budget over explicitly (issue 13): no environment writes."""

from __future__ import annotations

import os
from pathlib import Path

from classifiers.sessions import default_threads, set_model_threads, set_worker_threads, worker_threads
from safety.config import Settings
from safety.runtime import build_publisher
from safety.store import Database


def test_the_thread_budget_is_set_without_touching_the_environment(tmp_path: Path) -> None:
    before = dict(os.environ)
    set_model_threads(None)  # a pipeline built earlier in this process set the model budget
    settings = Settings(data_dir=tmp_path, worker_threads=3, provenance={"enabled": False})
    db = Database(settings.resolved_database_url)
    try:
        build_publisher(settings, db)
        assert worker_threads() == 3 and default_threads() == 3
        assert dict(os.environ) == before
        build_publisher(settings.model_copy(update={"worker_threads": None}), db)
        assert worker_threads() is None and default_threads() == 2
    finally:
        set_worker_threads(None)
        db.dispose()


def test_model_sessions_get_the_model_budget_not_the_worker_budget(tmp_path: Path) -> None:
    """Settings.model_threads (1 by default) sizes the model sessions; 0 gives them the worker's budget."""
    from classifiers.nsfw import OpenNsfwDetector
    from classifiers.sessions import set_model_threads
    from safety.runtime import build_pipeline

    def nsfw_threads(settings: Settings) -> int:
        db = Database(settings.resolved_database_url)
        db.upgrade()
        pipeline = build_pipeline(settings, db)
        try:
            nsfw = next(d for d in pipeline.detectors if isinstance(d, OpenNsfwDetector))
            return int(nsfw._session.get_session_options().intra_op_num_threads)
        finally:
            pipeline.close()
            db.dispose()

    try:
        settings = Settings(data_dir=tmp_path, worker_threads=3, provenance={"enabled": False})
        assert settings.model_threads == 1
        assert nsfw_threads(settings) == 1
        assert nsfw_threads(settings.model_copy(update={"model_threads": 0})) == 3
    finally:
        set_model_threads(None)
        set_worker_threads(None)

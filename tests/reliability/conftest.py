"""Fixtures of the reliability suite (issue #9, "Faults"): a tiny sample video."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # `import relhelp`, as worker processes do


def pytest_configure(config: pytest.Config) -> None:
    # Registered here, not in pyproject.toml: the 2,000-event burst (run with FEEDGUARD_SOAK=1).
    config.addinivalue_line("markers", "soak: long load runs, skipped unless FEEDGUARD_SOAK=1")


@pytest.fixture(scope="session")
def tiny_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1 s of 160x90 at 8 fps: two sampled frames, the cheapest video the whole pipeline runs on."""
    from safety.media.samples import make_video

    root = tmp_path_factory.mktemp("tiny")
    return make_video(root / "tiny.mp4", source="testsrc2", duration_s=1.0, width=160, height=90, fps=8)

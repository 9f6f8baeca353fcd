"""A worker killed mid-video leaves its working directory (with the speculative encode) behind; the next
pipeline on the host removes it, and never a live process's directory."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from fgtest import ROOT

from safety.workdirs import sweep_orphans, video_workdir

CHILD = """
import sys, time
from pathlib import Path
from safety.workdirs import video_workdir
with video_workdir(Path(sys.argv[1])) as tmp:
    (Path(tmp) / "speculative.mp4").write_bytes(b"x" * 1_000_000)
    print(tmp, flush=True)
    time.sleep(600)
"""


def test_a_killed_workers_directory_is_swept_and_a_live_one_kept(tmp_path: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tmp_path)], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    assert child.stdout is not None
    left = Path(child.stdout.readline().strip())
    assert left.is_dir() and left.name.startswith(f"feedguard-{child.pid}-")
    assert sweep_orphans(tmp_path) == 0  # still running: kept
    child.send_signal(signal.SIGKILL)
    child.wait(30)
    assert left.is_dir()  # nothing cleaned up after a SIGKILL ...
    with video_workdir(tmp_path) as mine:
        (tmp_path / "feedguard-notapid-x").mkdir()
        assert sweep_orphans(tmp_path) == 1  # ... until the next pipeline sweeps
        assert not left.exists() and Path(mine).is_dir() and (tmp_path / "feedguard-notapid-x").is_dir()

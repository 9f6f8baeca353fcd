"""One hardened way to run ffmpeg, ffprobe and fpcalc (issue 14, finding 4).

A rights holder's "audio track" that is really an HLS playlist (or an ffconcat list) made ffmpeg
read a file outside the media roots into a stored FLAC, and a missing path answered differently
(an existence oracle). Every invocation now goes through :mod:`safety.media.tools`: local files
only, an allow-list of demuxers, no playlists, concat or subfiles, bounded decode. The source
scan below fails when any code path runs those tools another way; the runtime guard refuses it.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from fgapi import Api
from fgtest import ROOT
from sqlalchemy import func, select

from safety.rights.models import RightsReference

LiveApi = object  # the live_api fixture (conftest)
TOOLS = ("ffmpeg", "ffprobe", "fpcalc")
SCANNED = ("safety", "classifiers", "streams", "policies", "scripts")
RUNNER = Path("safety/media/tools.py")
# Modules that may start processes other than the media tools, and why.
OTHER_PROCESSES = {
    Path("streams/broker.py"): "starts the local Tansu broker",
    Path("scripts/convert_blazeface.py"): "re-executes itself (python) with a pinned hash seed",
    Path("scripts/screen_latency.py"): "runs `git show` for the old reference's screen and policy (no media)",
}


def _ff(*args: str) -> None:
    subprocess.run(["ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-y", *args], check=True, timeout=60)


@pytest.fixture(scope="module")
def secrets_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Files outside every media root that an attacker would like to read."""
    root = tmp_path_factory.mktemp("outside")
    _ff("-f", "lavfi", "-i", "sine=frequency=523:duration=8", "-c:a", "mp2", "-f", "mpegts",
        str(root / "secret.ts"))  # fmt: skip
    _ff("-f", "lavfi", "-i", "sine=frequency=440:duration=8", str(root / "secret.wav"))
    return root


def _hls(target: str) -> bytes:
    return (
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:10\n#EXT-X-MEDIA-SEQUENCE:0\n"
        f"#EXTINF:8.0,\n{target}\n#EXT-X-ENDLIST\n"
    ).encode()


def _playlists(secrets_dir: Path) -> dict[str, tuple[bytes, bytes]]:
    """name -> (pointing at an existing file, pointing at a missing one)."""
    ts, wav, missing = secrets_dir / "secret.ts", secrets_dir / "secret.wav", secrets_dir / "nope.ts"
    return {
        "hls": (_hls(str(ts)), _hls(str(missing))),
        "hls-file-url": (_hls(ts.as_uri()), _hls(missing.as_uri())),
        "ffconcat": (
            f"ffconcat version 1.0\nfile '{wav}'\n".encode(),
            f"ffconcat version 1.0\nfile '{missing}'\n".encode(),
        ),
    }


@pytest.fixture
def holder(live_api: LiveApi, tmp_path: Path) -> tuple[Api, object, str]:
    api: Api = live_api(media_root=tmp_path / "media", api_rate_per_minute=1_000_000)  # type: ignore[operator]
    client = api.client(api.user("rights_holder", organisation_id="unverified-org"))  # never verified
    r = client.post("/v1/rights/characters", json={"slug": "owl", "name": "Owl"})
    assert r.status_code == 201, r.text
    return api, client, str(r.json()["id"])


@pytest.mark.parametrize("kind", ["audio", "clip"])
def test_playlists_uploaded_as_references_read_nothing(
    holder: tuple[Api, object, str], secrets_dir: Path, kind: str
) -> None:
    api, client, cid = holder
    wrong = {}
    for name, (existing, missing) in _playlists(secrets_dir).items():
        answers = []
        for body in (existing, missing):
            r = client.post(  # type: ignore[attr-defined]
                f"/v1/rights/characters/{cid}/references",
                files={"file": ("track.mp3" if kind == "audio" else "clip.mp4", body, "audio/mpeg")},
                data={"kind": kind, "label": name},
            )
            answers.append((r.status_code, r.json().get("type"), r.json().get("detail")))
        if answers[0][0] != 422 or answers[0] != answers[1]:  # refused, and the same either way
            wrong[name] = answers
    assert not wrong, wrong
    with api.db.session() as s:
        assert s.scalar(select(func.count()).select_from(RightsReference)) == 0
    stored = (
        [p for p in api.settings.assets_dir.rglob("*") if p.is_file()]
        if api.settings.assets_dir.exists()
        else []
    )
    assert stored == [], stored


def _scan_files() -> list[Path]:
    return sorted(p for d in SCANNED for p in (ROOT / d).rglob("*.py"))


def _calls(tree: ast.AST) -> list[str]:
    """Dotted names of every call and attribute access that can start a process."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            mod = node.module if isinstance(node, ast.ImportFrom) else None
            for alias in node.names:
                name = f"{mod}.{alias.name}" if mod else alias.name
                if name.split(".")[0] in ("subprocess", "pty", "av", "imageio_ffmpeg", "vpdq", "ffmpeg"):
                    found.append(f"import {name}")
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            dotted = f"{node.value.id}.{node.attr}"
            if node.value.id == "os" and node.attr.startswith(
                ("system", "popen", "exec", "spawn", "posix_spawn")
            ):
                found.append(dotted)
            if node.attr in ("VideoCapture", "VideoWriter"):
                found.append(dotted)
    return found


def test_every_media_tool_invocation_goes_through_the_runner() -> None:
    """No module but the runner names the tools or starts processes (the broker starts Tansu)."""
    problems = []
    for path in _scan_files():
        rel = path.relative_to(ROOT)
        tree = ast.parse(path.read_text(), str(rel))
        if rel == RUNNER:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                word = node.value.strip().split("/")[-1]
                if word in TOOLS:
                    problems.append(f"{rel}:{node.lineno} names {node.value!r}")
        calls = _calls(tree)
        if calls and rel not in OTHER_PROCESSES:
            problems.append(f"{rel}: {sorted(set(calls))}")
    assert not problems, "\n".join(problems)


def test_the_scan_sees_a_direct_call() -> None:
    """The scan itself can fail: a module that runs ffmpeg directly is reported."""
    tree = ast.parse("import subprocess\nsubprocess.run(['ffmpeg', '-i', 'x'])\nimport os\nos.system('x')")
    assert {"import subprocess", "os.system"} <= set(_calls(tree))


GUARDED = """
import os, subprocess, sys
from pathlib import Path
from safety.media import tools
tools.install_guard()
out = {}
for name, call in {
    "subprocess": lambda: subprocess.run(["ffmpeg", "-version"], capture_output=True),
    "absolute": lambda: subprocess.run(["/usr/bin/ffprobe", "-version"], capture_output=True),
    "shell": lambda: subprocess.run("ffmpeg -version", shell=True, capture_output=True),
    "os.system": lambda: os.system("fpcalc -version"),
    "posix_spawn": lambda: os.posix_spawnp("ffmpeg", ["ffmpeg", "-version"], dict(os.environ)),
    "env": lambda: subprocess.run(["env", "ffmpeg", "-version"], capture_output=True),
}.items():
    try:
        call()
        out[name] = "ran"
    except tools.UnsafeInvocation:
        out[name] = "refused"
out["runner"] = "ran" if tools.run(tools.ffmpeg("-version"), timeout_s=30).returncode == 0 else "failed"
out["other"] = "ran" if subprocess.run(["true"]).returncode == 0 else "failed"
print(out)
"""


def test_the_runtime_guard_refuses_every_other_way() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", GUARDED], capture_output=True, text=True, timeout=120, cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/local/bin:/usr/bin:/bin"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    got = eval(proc.stdout.strip().splitlines()[-1])  # a dict literal we printed ourselves
    assert got == {
        "subprocess": "refused",
        "absolute": "refused",
        "shell": "refused",
        "os.system": "refused",
        "posix_spawn": "refused",
        "env": "refused",
        "runner": "ran",
        "other": "ran",
    }


def test_worker_and_api_processes_install_the_guard() -> None:
    code = (
        "import sys; from safety.cli import main; from safety.media import tools;"
        "sys.argv=['feedguard','policy','check']; main(); print(tools.guard_installed())"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/local/bin:/usr/bin:/bin"},
    )  # fmt: skip
    assert proc.stdout.strip().splitlines()[-1] == "True", proc.stdout + proc.stderr


UNSAFE = [
    ["-i", "concat:/etc/passwd|/etc/hosts"],
    ["-i", "subfile,,start,0,end,100,,:/etc/passwd"],
    ["-i", "/tmp/x.mp4"],  # a bare path: ffmpeg would guess protocol and demuxer
    ["-f", "hls", "-i", "file:/tmp/x.m3u8"],
    ["-f", "concat", "-safe", "0", "-i", "file:/tmp/list.txt"],
    ["-f", "lavfi", "-i", "movie=/etc/passwd"],
    ["-f", "lavfi", "-i", "amovie=/tmp/x.wav"],
    ["-protocol_whitelist", "file,http", "-i", "file:/tmp/x.mp4"],
    ["-f", "lavfi", "-i", "color", "-f", "hls", "file:/tmp/out.m3u8"],
    ["-f", "lavfi", "-i", "color", "-f", "tee", "file:/tmp/a.mp4|http://x/y"],
    ["-f", "lavfi", "-i", "color", "http://127.0.0.1/upload"],
]


@pytest.mark.parametrize("args", UNSAFE, ids=[" ".join(a)[:40] for a in UNSAFE])
def test_the_runner_refuses_unsafe_arguments(args: list[str]) -> None:
    from safety.media import tools

    with pytest.raises(tools.UnsafeInvocation):
        tools.check_argv(["ffmpeg", *args])


def test_the_runner_builds_what_it_accepts(tmp_path: Path) -> None:
    from safety.media import tools

    argv = tools.ffmpeg(*tools.file_input(tmp_path / "a.mp4", tools.VIDEO_DEMUXERS, max_pixels=10),
                        "-f", "null", "-")  # fmt: skip
    tools.check_argv(argv)
    assert "-protocol_whitelist" in argv and argv[argv.index("-protocol_whitelist") + 1] == "file"
    assert "hls" not in argv[argv.index("-format_whitelist") + 1].split(",")

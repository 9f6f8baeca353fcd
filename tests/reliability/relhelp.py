"""Helpers of the reliability suite: light workers, a private PostgreSQL, an API process, RSS probes.

Importable by the tests (``from relhelp import ...``: conftest.py puts this folder on sys.path)
and by worker processes (``FEEDGUARD_EXTRA_DETECTORS=["relhelp:FailpointDetector"]``).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

import psycopg
from fgtest import ROOT, Message, WorkerProcess, read_topics, wait_for

from classifiers import Detector, DetectorInput, Modality, Signal
from safety.faults import failpoint
from streams.topics import DEAD_LETTERS, OUTCOME_TOPICS

HERE = Path(__file__).resolve().parent
LIGHT_POLICY = HERE / "light-policy.yaml"
HOLD_PROMPT = "i want to hurt myself"  # the light policy holds it (self_harm.review)
PYTHONPATH = os.pathsep.join([str(ROOT), str(ROOT / "tests"), str(HERE)])


# --- a detector that can be killed in the middle of the detect stage -----------------------


class FailpointDetector(Detector):
    """Reads nothing; ``FEEDGUARD_FAILPOINTS=detect.during[:N]`` (armed by ``armed_cli``) kills the
    worker inside it."""

    name: ClassVar[str] = "test.failpoint"
    version: ClassVar[str] = "0"
    consumes: ClassVar[frozenset[Modality]] = frozenset({Modality.TEXT})
    signal_names: ClassVar[tuple[str, ...]] = ()

    def detect(self, data: DetectorInput) -> list[Signal]:
        failpoint("detect.during")
        return []


# --- workers --------------------------------------------------------------------------------


def light_worker(
    bootstrap: str,
    database_url: str,
    data_dir: Path,
    media_root: Path,
    *,
    failpoints: str = "",
    provenance: bool = False,
    idle_exit: float | None = None,
    extra_detectors: list[str] | None = None,
    env: dict[str, str] | None = None,
    group: str = "fg-test",
) -> WorkerProcess:
    """A real worker process on the light policy (prompt screen + the built-in detectors)."""
    return WorkerProcess(
        bootstrap,
        database_url,
        data_dir,
        media_root,
        group=group,
        idle_exit=idle_exit,
        extra_detectors=extra_detectors,
        module="armed_cli",  # arms FEEDGUARD_FAILPOINTS, then runs the CLI
        env={
            "PYTHONPATH": PYTHONPATH,
            "FEEDGUARD_POLICY_FILE": str(LIGHT_POLICY),
            "FEEDGUARD_PROVENANCE__ENABLED": "true" if provenance else "false",
            "FEEDGUARD_FAILPOINTS": failpoints,
            **(env or {}),
        },
    )


def killed_by_failpoint(w: WorkerProcess, name: str, timeout_s: float = 90.0) -> None:
    """Wait for ``w`` to die of SIGKILL at failpoint ``name`` (and nothing else)."""
    code = w.wait(timeout_s)
    assert code == -signal.SIGKILL, f"exit {code}, not SIGKILL\n{w.log()[-3000:]}"
    assert f"failpoint {name} fired" in w.log(), w.log()[-3000:]


# --- database reads ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DecisionRecord:
    video_id: str
    id: str
    outcome: str
    emitted: bool
    worker_id: str
    created_at: datetime


def decisions(database_url: str) -> list[DecisionRecord]:
    """Every stored decision ([] before the schema exists)."""
    try:
        with psycopg.connect(database_url, connect_timeout=5) as conn:
            rows = conn.execute(
                "SELECT video_id, id, outcome, emitted_at IS NOT NULL, worker_id, created_at FROM decisions"
            ).fetchall()
    except (psycopg.errors.UndefinedTable, psycopg.OperationalError):
        return []
    return [DecisionRecord(*r) for r in rows]


def scalar(database_url: str, sql: str) -> Any:
    with psycopg.connect(database_url, connect_timeout=5) as conn:
        row = conn.execute(sql).fetchone()
    return row[0] if row else None


def decided_count(database_url: str) -> int:
    try:
        return int(scalar(database_url, "SELECT count(*) FROM decisions"))
    except (psycopg.errors.UndefinedTable, psycopg.OperationalError):
        return 0


# --- the exactly-once check every fault test ends with --------------------------------------


def assert_each_decided_once_and_announced_once(
    bootstrap: str, database_url: str, video_ids: list[str], quiet_s: float = 1.5
) -> list[Message]:
    """One decision per video, marked emitted; one outcome message per video carrying its
    decision_id (body and header); nothing dead-lettered. Returns the outcome messages."""
    rows = decisions(database_url)
    per_video = Counter(r.video_id for r in rows)
    assert sorted(per_video) == sorted(video_ids), f"lost: {set(video_ids) - set(per_video)}"
    assert set(per_video.values()) == {1}, f"decided twice: {[v for v, n in per_video.items() if n > 1]}"
    assert all(r.emitted for r in rows), [r.video_id for r in rows if not r.emitted]
    by_video = {r.video_id: r for r in rows}
    outcomes = read_topics(bootstrap, OUTCOME_TOPICS, until=len(video_ids), quiet_s=quiet_s)
    counts = Counter(m.key for m in outcomes)
    duplicates = {k: n for k, n in counts.items() if n > 1}
    assert not duplicates, f"announced more than once: {duplicates}"
    assert sorted(counts) == sorted(video_ids), f"never announced: {set(video_ids) - set(counts)}"
    for m in outcomes:
        assert m.key is not None
        decision_id = by_video[m.key].id
        assert m.value["decision_id"] == decision_id, (m.key, m.value)
        assert m.headers.get("decision_id") == decision_id.encode(), (m.key, m.headers)
    assert read_topics(bootstrap, [DEAD_LETTERS], timeout_s=1.0) == []
    return outcomes


# --- process memory -------------------------------------------------------------------------


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) in KiB, and Threads, of a live process from /proc (no psutil)."""
    out: dict[str, int] = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "Threads"):
                out[key] = int(value.split()[0])
    return out


# --- a private PostgreSQL cluster (the shared one at :5432 must never be stopped) -------------


class PrivatePostgres:
    """``initdb`` + ``pg_ctl`` on a free port, data and socket in a private temporary directory.

    As root the server runs as the ``postgres`` user (initdb refuses root)."""

    def __init__(self) -> None:
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
        if not bins:
            raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin")
        self.bin = Path(bins[-1]).parent
        from streams import free_port

        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="fg-pg-"))
        self.data = self.dir / "data"
        self._as: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
            self._as = ["runuser", "-u", "postgres", "--"]
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")

    def _run(self, tool: str, *args: str, timeout: float = 60) -> None:
        subprocess.run(
            [*self._as, str(self.bin / tool), *args],
            check=True,
            capture_output=True,
            timeout=timeout,
            cwd=self.dir,
        )

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", opts, "-l", str(self.dir / "log"), "-w", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def running(self) -> bool:
        try:
            with psycopg.connect(self.admin_url, connect_timeout=2):
                return True
        except psycopg.OperationalError:
            return False

    def create_database(self) -> str:
        name = f"fg_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def destroy(self) -> None:
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(subprocess.SubprocessError):
                self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


# --- the HTTP API as a process (its outbox relay can then be killed) -------------------------


class ApiProcess:
    """``python -m safety api`` as a child process, with the outbox relay on."""

    def __init__(
        self,
        bootstrap: str,
        database_url: str,
        data_dir: Path,
        media_root: Path,
        *,
        failpoints: str = "",
    ) -> None:
        from streams import free_port

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [
            sys.executable,
            "-m",
            "armed_cli",  # arms FEEDGUARD_FAILPOINTS, then runs the CLI
            "api",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--bootstrap-servers",
            bootstrap,
            "--database-url",
            database_url,
            "--data-dir",
            str(data_dir),
            "--media-root",
            str(media_root),
            "--log-format",
            "text",
        ]
        env = {
            **os.environ,
            "PYTHONPATH": PYTHONPATH,
            "FEEDGUARD_PROVENANCE__ENABLED": "false",
            "FEEDGUARD_FAILPOINTS": failpoints,
        }
        self.log_path = data_dir / f"api-{time.monotonic_ns()}.log"
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            cmd, env=env, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=ROOT
        )

    def wait_ready(self, timeout_s: float = 60) -> None:
        import httpx

        def up() -> bool:
            assert self.proc.poll() is None, self.log()
            try:
                return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(up, timeout_s, 0.1, "the API to answer")

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def wait(self, timeout_s: float) -> int:
        try:
            return self.proc.wait(timeout_s)
        finally:
            self._log.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


def new_user(database_url: str, role: str) -> str:
    """A user with ``role`` created directly in the database; returns its API key."""
    from safety.accounts import create_user, issue_key
    from safety.store import Database

    db = Database(database_url)
    try:
        with db.session() as s:
            user = create_user(s, f"{role}-{uuid.uuid4().hex[:8]}", role)
            return issue_key(s, user)
    finally:
        db.dispose()

"""Issue 8, first measurements: the whole feedguard pipeline against its physical floor.

One command, small defaults (< 10 min on 2 cores):

    python benchmarks/pipeline_bench.py                 # 6 x 10 s 720p24 clips, 1 and 2 workers, SQLite
    python benchmarks/pipeline_bench.py --n 12 --variants --pg --workers 1,2

What it does
1. Workload: N 10 s 1280x720 24 fps H.264 clips made with ffmpeg from offline sources
   (testsrc2, mandelbrot, smptebars, the shipped portrait via make_face_video), plus with
   --variants one 5 s 1080p and one 20 s 480p clip.
2. Floor per clip: ffmpeg decode only (``-f null``) and decode + the publish encode settings
   (libx264 CRF 20 preset veryfast yuv420p), ffmpeg's default threading (all cores).
3. feedguard end to end through Kafka: LocalBroker (Tansu), topics with 2 partitions, a fresh
   SQLite file (or a scratch PostgreSQL database with --pg) per run, worker processes started with
   ``python -m safety worker ... --idle-exit 5 --log-format json``; once every worker logged a
   partition assignment the N events are produced in one burst; outcomes are read back by a
   consumer in this process. Latency = outcome consumed - event produced (same clock).
   Peak RSS = VmHWM of each worker process (the Python process only, not its ffmpeg children).
4. Per-stage means from decisions.stage_ms.
5. Ratios against the floor.

Results are printed as markdown and appended to benchmarks/README.md (unless --no-append).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from kafka import KafkaConsumer  # noqa: E402

from safety.media.samples import make_face_video, make_video  # noqa: E402
from streams import LocalBroker, ensure_topics, make_producer  # noqa: E402
from streams.topics import OUTCOME_TOPICS, VIDEOS_GENERATED  # noqa: E402

README = REPO / "benchmarks" / "README.md"
HEADING = "## Pipeline vs. its physical floor (baseline, before optimisation)"
SOURCES = ["testsrc2", "mandelbrot", "smptebars", "face"]


@dataclass
class Clip:
    video_id: str
    path: Path
    source: str
    width: int
    height: int
    duration_s: float
    decode_s: float = 0.0
    encode_s: float = 0.0  # decode + libx264 encode
    decode_cpu_s: float = 0.0  # user + sys of the ffmpeg process
    encode_cpu_s: float = 0.0


@dataclass
class Run:
    workers: int
    wall_s: float = 0.0
    produced: dict[str, float] = field(default_factory=dict)
    consumed: dict[str, tuple[float, str]] = field(default_factory=dict)
    rss_kb: list[int] = field(default_factory=list)
    exit_codes: list[int | None] = field(default_factory=list)
    stages: dict[str, dict[str, float]] = field(default_factory=dict)
    outcomes: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    startup_s: float = 0.0
    cpu_s: list[float] = field(default_factory=list)  # worker user+sys incl. waited children
    cpu_base: list[float] = field(default_factory=list)  # the same when the burst was produced
    publish_split: list[tuple[float, float]] = field(default_factory=list)  # (encode s, total s)


# -- workload ---------------------------------------------------------------------------------
def make_workload(media: Path, n: int, variants: bool) -> list[Clip]:
    clips: list[Clip] = []
    specs = [(SOURCES[i % len(SOURCES)], 1280, 720, 10.0) for i in range(n)]
    if variants:
        specs += [("testsrc2", 1920, 1080, 5.0), ("mandelbrot", 854, 480, 20.0)]
    for i, (src, w, h, d) in enumerate(specs):
        vid = f"bench-{i:02d}-{src}-{h}p"
        path = media / f"{vid}.mp4"
        if src == "face":
            make_face_video(path, duration_s=d, width=w, height=h, fps=24)
        else:
            make_video(path, source=src, duration_s=d, width=w, height=h, fps=24)
        clips.append(Clip(vid, path, src, w, h, d))
    return clips


def _timed(cmd: list[str]) -> tuple[float, float]:
    """(wall s, cpu s) of one command."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)


def measure_floor(clips: list[Clip], repeats: int) -> None:
    for c in clips:
        dec = ["ffmpeg", "-nostdin", "-v", "error", "-i", str(c.path), "-f", "null", "-"]
        enc = [
            "ffmpeg", "-nostdin", "-v", "error", "-i", str(c.path),
            "-c:v", "libx264", "-crf", "20", "-preset", "veryfast", "-pix_fmt", "yuv420p",
            "-f", "null", "-",
        ]  # fmt: skip
        c.decode_s, c.decode_cpu_s = min(_timed(dec) for _ in range(repeats))
        c.encode_s, c.encode_cpu_s = min(_timed(enc) for _ in range(repeats))


# -- end to end -------------------------------------------------------------------------------
def _event(c: Clip) -> dict[str, Any]:
    return {
        "schema": "video.generated/v1",
        "video_id": c.video_id,
        "creator": {"id": "creator-adult-bench", "age_band": "adult"},
        "prompt": "a calm scene",
        "uri": c.path.resolve().as_uri(),
        "cameos": [],
        "remix_of": None,
        "created_at": datetime.now(UTC).isoformat(),
        "generator": "feedguard-bench",
    }


def _watch_rss(proc: subprocess.Popen[bytes], out: list[int], idx: int, cpu: list[float]) -> None:
    status = Path(f"/proc/{proc.pid}/status")
    stat = Path(f"/proc/{proc.pid}/stat")
    tick = os.sysconf("SC_CLK_TCK")
    while proc.poll() is None:
        try:
            for line in status.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    out[idx] = max(out[idx], int(line.split()[1]))
            f = stat.read_text().rsplit(")", 1)[1].split()
            cpu[idx] = max(cpu[idx], sum(int(x) for x in f[11:15]) / tick)  # utime stime cutime cstime
        except (OSError, ValueError, IndexError):
            pass
        time.sleep(0.2)


def _pump(stream: Any, lines: list[str], logf: Any) -> None:
    for raw in iter(stream.readline, b""):
        line = raw.decode(errors="replace")
        lines.append(line)
        logf.write(line)
        logf.flush()


def _scratch_pg(name: str, create: bool) -> str:
    import psycopg  # type: ignore[import-not-found]

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/test", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if create:
            conn.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def run_pipeline(clips: list[Clip], workers: int, root: Path, media: Path, pg: bool, timeout_s: float) -> Run:
    run = Run(workers=workers, rss_kb=[0] * workers, cpu_s=[0.0] * workers)
    rdir = root / f"run-w{workers}"
    rdir.mkdir(parents=True, exist_ok=True)
    pg_name = f"feedguard_bench_w{workers}_{os.getpid()}"
    db_url = _scratch_pg(pg_name, True) if pg else f"sqlite:///{rdir / 'feedguard.db'}"
    try:
        with LocalBroker() as broker:
            ensure_topics(broker.bootstrap, partitions=2)
            env = dict(os.environ, FEEDGUARD_SESSION_TIMEOUT_MS="2000", PYTHONPATH=str(REPO))
            procs: list[subprocess.Popen[bytes]] = []
            logs: list[list[str]] = []
            threads: list[threading.Thread] = []
            t_start = time.perf_counter()
            for i in range(workers):
                cmd = [
                    sys.executable, "-m", "safety", "worker",
                    "--bootstrap-servers", broker.bootstrap,
                    "--database-url", db_url,
                    "--data-dir", str(rdir / "data"),
                    "--media-root", str(media),
                    "--group", "feedguard-bench",
                    "--idle-exit", "5",
                    "--log-format", "json",
                ]  # fmt: skip
                logf = open(rdir / f"worker{i}.log", "w")  # noqa: SIM115
                p = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
                procs.append(p)
                lines: list[str] = []
                logs.append(lines)
                for target, a in (
                    (_pump, (p.stdout, lines, logf)),
                    (_watch_rss, (p, run.rss_kb, i, run.cpu_s)),
                ):
                    th = threading.Thread(target=target, args=a, daemon=True)
                    th.start()
                    threads.append(th)
                if i == 0 and workers > 1:
                    time.sleep(1.0)  # let the first one create the SQLite schema / migrations alone

            # outcome reader, from the start of the (fresh) outcome topics
            consumer = KafkaConsumer(
                *OUTCOME_TOPICS,
                bootstrap_servers=broker.bootstrap,
                auto_offset_reset="earliest",
                enable_auto_commit=False,
                group_id=None,
            )
            consumer.poll(timeout_ms=200)

            # wait until every worker has been assigned partitions (models loaded, group joined)
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:
                if all(any('"assigned' in ln or "assigned [" in ln for ln in lg) for lg in logs):
                    break
                if any(p.poll() is not None for p in procs):
                    break
                time.sleep(0.1)
            time.sleep(0.5 if workers == 1 else 1.5)  # let a second rebalance settle
            run.startup_s = time.perf_counter() - t_start

            run.cpu_base = list(run.cpu_s)  # start-up (models, migrations, group join) is not per video
            producer = make_producer(broker.bootstrap)
            t0 = time.time()
            for c in clips:
                run.produced[c.video_id] = time.time()
                producer.send(VIDEOS_GENERATED, key=c.video_id.encode(), value=json.dumps(_event(c)).encode())
            producer.flush()
            producer.close()

            wanted = {c.video_id for c in clips}
            deadline = time.monotonic() + timeout_s
            try:
                while wanted - run.consumed.keys() and time.monotonic() < deadline:
                    for records in consumer.poll(timeout_ms=200).values():
                        now = time.time()
                        for r in records:
                            k = r.key.decode()
                            if k in wanted and k not in run.consumed:
                                run.consumed[k] = (now, r.topic)
                    if all(p.poll() is not None for p in procs):
                        break
            finally:
                consumer.close()
            if run.consumed:
                run.wall_s = max(t for t, _ in run.consumed.values()) - t0
            missing = sorted(wanted - run.consumed.keys())
            if missing:
                run.errors.append(f"no outcome for {missing}")
            for p in procs:
                try:
                    p.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    p.terminate()  # SIGTERM: the worker finishes, commits, exits
                    try:
                        p.wait(timeout=30)
                    except subprocess.TimeoutExpired:
                        p.kill()
                        p.wait()
                run.exit_codes.append(p.returncode)
            for th in threads:
                th.join(2)
            run.stages, run.outcomes = read_stages(db_url, wanted)
            pat = re.compile(r"published (\S+): \d+ frames, encode ([\d.]+) s, total ([\d.]+) s")
            for lg in logs:
                for ln in lg:
                    m = pat.search(ln)
                    if m and m.group(1) in wanted:
                        run.publish_split.append((float(m.group(2)), float(m.group(3))))
    finally:
        if pg:
            try:
                _scratch_pg(pg_name, False)
            except Exception as exc:
                run.errors.append(f"dropping scratch db {pg_name}: {exc}")
    return run


def read_stages(db_url: str, wanted: set[str]) -> tuple[dict[str, dict[str, float]], dict[str, str]]:
    from sqlalchemy import create_engine, text

    eng = create_engine(db_url)
    stages: dict[str, dict[str, float]] = {}
    outcomes: dict[str, str] = {}
    with eng.connect() as conn:
        for vid, outcome, sm in conn.execute(text("SELECT video_id, outcome, stage_ms FROM decisions")):
            if vid not in wanted:
                continue
            if isinstance(sm, str):
                sm = json.loads(sm)
            stages[vid] = {k: float(v) for k, v in (sm or {}).items()}
            outcomes[vid] = outcome
    eng.dispose()
    return stages, outcomes


# -- report -----------------------------------------------------------------------------------
def pct(xs: list[float], p: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    k = (len(xs) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def _stage_order(keys: set[str]) -> list[str]:
    head = ["fetch", "probe", "sample"]
    det = sorted(k for k in keys if k.startswith("detect:"))
    tail = ["policy", "publish"]
    rest = sorted(keys - set(head) - set(det) - set(tail))
    return [k for k in head if k in keys] + det + [k for k in tail if k in keys] + rest


def report(clips: list[Clip], runs: list[Run], args: argparse.Namespace, cmdline: str, total_s: float) -> str:
    out: list[str] = []
    cpu = next(
        (ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
         if ln.startswith("model name")),
        platform.processor(),
    )  # fmt: skip
    db = "PostgreSQL (scratch db)" if args.pg else "SQLite"
    nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    out.append(f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on `nproc`={nproc}, CPU `{cpu}`, "
               f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GB RAM, "
               f"Python {platform.python_version()}, database {db}. "
               f"Command: `{cmdline}` (whole script {total_s:.0f} s).")  # fmt: skip
    out.append("")
    out.append(
        "**Workload and floor** (ffmpeg, default threading = all cores; best of "
        f"{args.floor_repeats}; encode = decode + libx264 CRF 20 veryfast yuv420p to null)"
    )
    out.append("")
    out.append(
        "| clip | res | s | decode wall s | decode CPU s | decode+encode wall s | decode+encode CPU s |"
    )
    out.append("|---|---|--:|--:|--:|--:|--:|")
    for c in clips:
        out.append(f"| {c.video_id} | {c.width}x{c.height} | {c.duration_s:g} | {c.decode_s:.2f} | "
                   f"{c.decode_cpu_s:.2f} | {c.encode_s:.2f} | {c.encode_cpu_s:.2f} |")  # fmt: skip
    m = {
        k: statistics.mean(getattr(c, k) for c in clips)
        for k in ("decode_s", "decode_cpu_s", "encode_s", "encode_cpu_s")
    }
    cells = " | ".join(f"**{m[k]:.2f}**" for k in ("decode_s", "decode_cpu_s", "encode_s", "encode_cpu_s"))
    out.append(f"| **mean** | | | {cells} |")
    ncpu = os.cpu_count() or 1
    out.append("")
    out.append(
        f"Throughput floor on {ncpu} cores if nothing but decode+encode ran and all cores were busy: "
        f"{m['encode_cpu_s'] / ncpu:.2f} s/video = {ncpu / m['encode_cpu_s']:.3f} videos/s."
    )
    out.append("")

    out.append("**End to end through Kafka** (burst of N events after the workers joined; latency = outcome "
               "consumed - event produced, so it includes queueing behind earlier videos)")  # fmt: skip
    out.append("")
    out.append(
        "| workers | decided | outcomes | wall s | videos/s | s/video | lat p50 s | p95 s | p99 s | "
        "peak RSS MB per worker | worker CPU s per video (after start-up) | startup s | exit codes |"
    )
    out.append("|--:|--:|---|--:|--:|--:|--:|--:|--:|---|--:|--:|---|")
    for r in runs:
        lats = [r.consumed[v][0] - r.produced[v] for v in r.consumed]
        n = len(r.consumed)
        vps = n / r.wall_s if r.wall_s else float("nan")
        oc: dict[str, int] = {}
        for o in r.outcomes.values():
            oc[o] = oc.get(o, 0) + 1
        ocs = ", ".join(f"{k} {v}" for k, v in sorted(oc.items())) or "-"
        cpu_per = (sum(r.cpu_s) - sum(r.cpu_base)) / n if n else float("nan")
        rss = " / ".join(f"{kb / 1024:.0f}" for kb in r.rss_kb)
        out.append(
            f"| {r.workers} | {n}/{len(clips)} | {ocs} | {r.wall_s:.1f} | {vps:.3f} | "
            f"{(r.wall_s / n if n else float('nan')):.2f} | {pct(lats, 50):.1f} | {pct(lats, 95):.1f} | "
            f"{pct(lats, 99):.1f} | {rss} | {cpu_per:.2f} | "
            f"{r.startup_s:.1f} | {r.exit_codes} |"
        )
    by_w = {r.workers: r for r in runs}
    if 1 in by_w and 2 in by_w and by_w[1].wall_s and by_w[2].wall_s:
        t1 = len(by_w[1].consumed) / by_w[1].wall_s
        t2 = len(by_w[2].consumed) / by_w[2].wall_s
        out.append("")
        out.append(f"Throughput ratio 2 workers / 1 worker: **{t2 / t1:.2f}x** (2 cores).")
    out.append("")

    # stage breakdown (first run with rows, usually the 1-worker run: no CPU contention)
    for r in runs:
        if not r.stages:
            continue
        keys: set[str] = set()
        for s in r.stages.values():
            keys |= set(s)
        order = _stage_order(keys)
        out.append(f"**Per-stage mean ms per video** (decisions.stage_ms, {r.workers} worker(s), "
                   f"{len(r.stages)} videos)")  # fmt: skip
        out.append("")
        out.append("| stage | mean ms | share |")
        out.append("|---|--:|--:|")
        tot = statistics.mean(sum(s.values()) for s in r.stages.values())
        for k in order:
            m = statistics.mean(s.get(k, 0.0) for s in r.stages.values())
            out.append(f"| {k} | {m:.0f} | {100 * m / tot:.0f}% |" if tot else f"| {k} | {m:.0f} | - |")
        out.append(f"| **sum of stages** | **{tot:.0f}** | |")
        if r.publish_split:
            enc = statistics.mean(e for e, _ in r.publish_split) * 1000
            pub = statistics.mean(t for _, t in r.publish_split) * 1000
            out.append("")
            out.append(
                f"Inside publish (worker log `published ...`): decode + watermark + badge + x264 encode "
                f"{enc:.0f} ms, then C2PA sign + read back + store {pub - enc:.0f} ms (total {pub:.0f} ms)."
            )
        out.append("")

        # ratios, per clip then averaged
        byid = {c.video_id: c for c in clips}
        e2e_ratio, det_ratio, stage_ratio = [], [], []
        per_video_wall = r.wall_s / len(r.consumed) if r.consumed else float("nan")
        for vid, s in r.stages.items():
            c = byid[vid]
            det = s.get("sample", 0.0) + sum(v for k, v in s.items() if k.startswith("detect:"))
            det_ratio.append(det / 1000 / c.decode_s)
            stage_ratio.append(sum(s.values()) / 1000 / c.encode_s)
        floor_enc = statistics.mean(c.encode_s for c in clips)
        e2e_ratio.append(per_video_wall / floor_enc)
        out.append(f"Ratios ({r.workers} worker(s)):")
        out.append("")
        out.append("| ratio | value |")
        out.append("|---|--:|")
        out.append(f"| wall-clock s/video (throughput) / mean decode+encode floor | {e2e_ratio[0]:.1f}x |")
        out.append(f"| pipeline stage time per video / its decode+encode floor (mean of per-clip) "
                   f"| {statistics.mean(stage_ratio):.1f}x |")  # fmt: skip
        out.append(f"| detection only (sample + detect:*) / its decode-only floor (mean of per-clip) "
                   f"| {statistics.mean(det_ratio):.1f}x |")  # fmt: skip
        n = len(r.consumed)
        if n:
            cpu_floor = statistics.mean(c.encode_cpu_s for c in clips)
            out.append(f"| worker CPU s per video / decode+encode CPU s per video | "
                       f"{(sum(r.cpu_s) - sum(r.cpu_base)) / n / cpu_floor:.1f}x |")  # fmt: skip
        out.append("")
    for r in runs:
        for e in r.errors:
            out.append(f"- {r.workers} worker(s): {e}")
    return "\n".join(out) + "\n"


def append_readme(body: str, observations: str) -> None:
    README.parent.mkdir(exist_ok=True)
    existing = README.read_text() if README.exists() else "# Benchmarks\n"
    section = f"\n{HEADING}\n\n{body}\n{observations}"
    if HEADING in existing:
        section = f"\n### Re-run\n\n{body}\n"
        # append a re-run under the existing section (at the end of the file if it is the last one)
        start = existing.index(HEADING)
        nxt = existing.find("\n## ", start + len(HEADING))
        existing = existing + section if nxt == -1 else existing[:nxt] + section + existing[nxt:]
        README.write_text(existing)
        return
    README.write_text(existing.rstrip("\n") + "\n" + section)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=6, help="number of 10 s 720p24 clips (default 6)")
    ap.add_argument("--variants", action="store_true", help="add a 5 s 1080p and a 20 s 480p clip")
    ap.add_argument("--workers", default="1,2", help="comma list of worker counts to run (default 1,2)")
    ap.add_argument(
        "--pg", action="store_true", help="scratch PostgreSQL db at 127.0.0.1:5432 instead of SQLite"
    )
    ap.add_argument("--floor-repeats", type=int, default=2, help="ffmpeg floor runs per clip (best of)")
    ap.add_argument("--timeout", type=float, default=600, help="seconds to wait for all outcomes per run")
    ap.add_argument("--keep", type=Path, help="keep media, logs and databases in this directory")
    ap.add_argument(
        "--no-append", action="store_true", help="print only; do not append to benchmarks/README.md"
    )
    args = ap.parse_args()
    started = time.perf_counter()
    cmdline = "python benchmarks/pipeline_bench.py " + " ".join(sys.argv[1:])

    root = args.keep or Path(tempfile.mkdtemp(prefix="feedguard-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    media = root / "media"
    media.mkdir(exist_ok=True)
    try:
        t = time.perf_counter()
        clips = make_workload(media, args.n, args.variants)
        print(f"made {len(clips)} clips in {time.perf_counter() - t:.1f} s ({root})", flush=True)
        t = time.perf_counter()
        measure_floor(clips, args.floor_repeats)
        print(f"floor measured in {time.perf_counter() - t:.1f} s", flush=True)
        runs = []
        for w in [int(x) for x in args.workers.split(",") if x.strip()]:
            t = time.perf_counter()
            r = run_pipeline(clips, w, root, media, args.pg, args.timeout)
            print(f"{w} worker(s): {len(r.consumed)}/{len(clips)} outcomes, wall {r.wall_s:.1f} s "
                  f"(run {time.perf_counter() - t:.1f} s) {r.errors or ''}", flush=True)  # fmt: skip
            runs.append(r)
        body = report(clips, runs, args, cmdline, time.perf_counter() - started)
        print("\n" + body)
        if not args.no_append:
            append_readme(body, OBSERVATIONS)
            print(f"appended to {README}")
        return 0 if all(not r.errors for r in runs) else 1
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


# Written by hand after the first run (see README); kept here so a re-run into a fresh README carries them.
OBSERVATIONS = ""

if __name__ == "__main__":
    raise SystemExit(main())

"""Issue 8: the whole feedguard pipeline against its physical floor.

One command (about 20 minutes on 2 cores):

    python benchmarks/pipeline_bench.py              # writes the results section of benchmarks/README.md
    python benchmarks/pipeline_bench.py --quick      # fewer configurations, prints only

What one run does, on the same clips:

1. Workload, made here with ffmpeg from offline sources: ``--n`` (6) 10 s 1280x720 24 fps H.264
   clips of varied content (a real face: the shipped astronaut portrait with a slow push-in; drawn
   cartoon characters walking through a scene; plain scenes: testsrc2, a photo pan, a mandelbrot
   zoom), plus a 5 s 1920x1080 and a 20 s 854x480 variant.
2. The floor per clip: ffmpeg decode only (``-f null``) and decode + the final encode at the
   project's settings (libx264, ProvenanceConfig's CRF and preset, yuv420p, MP4), wall and CPU,
   best of ``--floor-repeats``; once with ffmpeg's default threads (all cores) and once with
   ``-threads 1`` (one core: what each of two workers gets).
3. feedguard end to end through Kafka, per configuration (below): a local broker (Tansu) with
   2-partition topics, a fresh SQLite database, worker processes in one consumer group
   (``benchmarks/bench_worker.py``: the CLI worker plus timing probes); once every worker has
   its partitions, the events are produced in one burst and the outcomes consumed here.
   Latency = outcome consumed - event produced (one clock). Peak RSS = VmHWM of each worker
   process; the largest ffmpeg child is reported separately.
   Every configuration runs ``--e2e-rounds`` times, interleaved; the best round is reported.
4. A paced run (the best 2-worker configuration): events arrive one at a time at 70 % of the
   burst throughput, so latency percentiles show service time plus realistic queueing.
5. Per-stage breakdown (decisions.stage_ms; publish split from the publisher's log; database
   record and produce/commit from the probes) and the ratios against the floor.
Configurations: 1 worker with every core, 2 workers with half the cores each, 1 worker with half
the cores (same per-process budget), then the paced run. The worker's thread budget is
``FEEDGUARD_WORKER_THREADS`` (``Settings.worker_threads``).

The "before" rows and the ablation (each optimisation switched off alone) in benchmarks/README.md
are history: they were measured while production code still carried switches for them, which it
no longer does (issue 13); the optimisations that won are simply the code now.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
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

import numpy as np  # noqa: E402
from kafka import KafkaConsumer  # noqa: E402
from pipeline_report import report, write_readme  # noqa: E402

from classifiers.rights.synthetic import CARTOONS, background, draw_character, paste  # noqa: E402
from classifiers.sessions import set_worker_threads  # noqa: E402
from safety.media.samples import make_face_video, make_video  # noqa: E402
from safety.provenance.config import ProvenanceConfig  # noqa: E402
from streams import LocalBroker, ensure_topics, make_producer  # noqa: E402
from streams.topics import OUTCOME_TOPICS, VIDEOS_GENERATED  # noqa: E402

README = REPO / "benchmarks" / "README.md"
sys.path.insert(0, str(REPO / "benchmarks"))
NCPU = os.cpu_count() or 1
FPS = 24


# -- workload ---------------------------------------------------------------------------------
@dataclass
class Clip:
    video_id: str
    path: Path
    kind: str
    width: int
    height: int
    duration_s: float
    floor: dict[str, float] = field(default_factory=dict)  # name -> seconds (wall or cpu)


def _encode_raw(path: Path, width: int, height: int, frames: Any) -> None:
    cmd = ["ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24",
           "-s", f"{width}x{height}", "-r", str(FPS), "-i", "-", "-c:v", "libx264", "-preset", "veryfast",
           "-pix_fmt", "yuv420p", "-movflags", "+faststart", str(path)]  # fmt: skip
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE)
    assert proc.stdin is not None
    for frame in frames:
        proc.stdin.write(np.ascontiguousarray(frame).tobytes())
    proc.stdin.close()
    if proc.wait(300) != 0:
        raise RuntimeError(f"ffmpeg failed making {path}")


def make_cartoon_video(path: Path, name: str, width: int, height: int, duration_s: float, seed: int) -> None:
    """A drawn character (classifiers.rights.synthetic) walking across a drawn scene."""
    bg = background(seed, width, height)
    rgb, mask = draw_character(next(c for c in CARTOONS if c.name == name), 320)
    n = int(duration_s * FPS)

    def frames() -> Any:
        for i in range(n):
            bob = 0.5 + 0.08 * np.sin(i / 5.0)
            yield paste(bg, rgb, scale=0.5, x=0.1 + 0.8 * i / n, y=bob, mask=mask)[0]

    _encode_raw(path, width, height, frames())


def make_photo_video(path: Path, image: str, width: int, height: int, duration_s: float) -> None:
    """A slow pan and zoom over a natural photo shipped with scikit-image."""
    import cv2
    from skimage import data

    img = np.asarray(getattr(data, image)())
    big = cv2.resize(img, (int(width * 1.4), int(height * 1.4)), interpolation=cv2.INTER_CUBIC)
    n = int(duration_s * FPS)

    def frames() -> Any:
        bh, bw = big.shape[:2]
        for i in range(n):
            t = i / max(1, n - 1)
            zoom = 1.0 + 0.25 * t
            cw, ch = int(bw / 1.4 / zoom * 1.3), int(bh / 1.4 / zoom * 1.3)
            x0, y0 = int((bw - cw) * t), int((bh - ch) * (0.3 + 0.4 * t))
            yield cv2.resize(big[y0 : y0 + ch, x0 : x0 + cw], (width, height), interpolation=cv2.INTER_AREA)

    _encode_raw(path, width, height, frames())


def make_workload(media: Path, n: int, variants: bool) -> list[Clip]:
    kinds = ["face", "cartoon:pip", "testsrc2", "photo:coffee", "cartoon:barnacle", "mandelbrot"]
    specs = [(kinds[i % len(kinds)], 1280, 720, 10.0) for i in range(n)]
    if variants:
        specs += [("cartoon:mabel", 1920, 1080, 5.0), ("photo:chelsea", 854, 480, 20.0)]
    clips = []
    for i, (kind, w, h, d) in enumerate(specs):
        vid = f"bench-{i:02d}-{kind.replace(':', '-')}-{h}p"
        path = media / f"{vid}.mp4"
        if kind == "face":
            make_face_video(path, duration_s=d, width=w, height=h, fps=FPS)
        elif kind.startswith("cartoon:"):
            make_cartoon_video(path, kind.split(":")[1], w, h, d, seed=i)
        elif kind.startswith("photo:"):
            make_photo_video(path, kind.split(":")[1], w, h, d)
        else:
            make_video(path, source=kind, duration_s=d, width=w, height=h, fps=FPS)
        clips.append(Clip(vid, path, kind, w, h, d))
    return clips


# -- floor ------------------------------------------------------------------------------------
def _timed(cmd: list[str]) -> tuple[float, float]:
    """(wall s, cpu s) of one command."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)


def measure_floor(clips: list[Clip], repeats: int, out_dir: Path) -> None:
    cfg = ProvenanceConfig()
    for c in clips:
        for label, threads in (("", []), ("_t1", ["-threads", "1"])):
            dec = ["ffmpeg", "-nostdin", "-v", "error", *threads, "-i", str(c.path), "-f", "null", "-"]
            enc = ["ffmpeg", "-nostdin", "-v", "error", "-y", *threads, "-i", str(c.path),
                   "-c:v", "libx264", "-crf", str(cfg.crf), "-preset", cfg.preset, "-pix_fmt", "yuv420p",
                   *threads, "-movflags", "+faststart", str(out_dir / "floor.mp4")]  # fmt: skip
            d = min((_timed(dec) for _ in range(repeats)), key=lambda x: x[0])
            e = min((_timed(enc) for _ in range(repeats)), key=lambda x: x[0])
            m = min((_timed_mark(c.path, out_dir / "mark.mp4", bool(threads)) for _ in range(repeats)),
                    key=lambda x: x[0])  # fmt: skip
            o = min(
                (_timed_onepass(c.path, out_dir, bool(threads)) for _ in range(repeats)), key=lambda x: x[0]
            )
            smp = min((_timed_sample(c.path, bool(threads)) for _ in range(repeats)), key=lambda x: x[0])
            c.floor |= {
                f"onepass{label}": o[0],
                f"onepass_cpu{label}": o[1],
                f"sample{label}": smp[0],
                f"sample_cpu{label}": smp[1],
                f"dec{label}": d[0],
                f"dec_cpu{label}": d[1],
                f"enc{label}": e[0],
                f"enc_cpu{label}": e[1],
                f"mark{label}": m[0],
                f"mark_cpu{label}": m[1],
            }


def _timed_mark(src: Path, dest: Path, one_thread: bool) -> tuple[float, float]:
    """(wall s, cpu s) of the production final encode alone: one ffmpeg, decode + watermark + x264."""
    from safety.provenance.encode import encode_final, probe_source
    from safety.provenance.watermark import Embedder

    cfg = ProvenanceConfig()
    fmt = probe_source(src)
    emb = Embedder("0123456789abcdef", fmt.width, fmt.height, cfg.watermark_strength)
    set_worker_threads(1 if one_thread else None)
    try:
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        encode_final(src, dest, fmt, mark=emb, crf=cfg.crf, preset=cfg.preset)
        wall = time.perf_counter() - t
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    finally:
        set_worker_threads(None)
    return wall, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _self_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _timed_onepass(src: Path, out_dir: Path, one_thread: bool) -> tuple[float, float]:
    """(wall s, cpu s) of the one-pass decode alone (no detector): sampled frames + watermark + x264."""
    from safety.media import MediaLimits, probe
    from safety.provenance.onepass import EncodePlan, Sampling, sample_and_encode
    from safety.provenance.source import SourceFormat, probe_source
    from safety.provenance.watermark3 import Embedder

    cfg = ProvenanceConfig()
    limits = MediaLimits()
    info = probe(src, limits)
    fmt = SourceFormat.from_info(info) or probe_source(src)
    grain = out_dir / "grain.yuv"
    grain.write_bytes(
        Embedder("0123456789abcdef", fmt.width, fmt.height, cfg.watermark_strength).grain_frame()
    )
    plan = EncodePlan("bench", "0123456789abcdef", fmt, out_dir / "onepass.mp4", grain, cfg.crf, cfg.preset,
                      None, 600.0)  # fmt: skip
    set_worker_threads(1 if one_thread else None)
    try:
        c0, s0, t = _children_cpu(), _self_cpu(), time.perf_counter()
        sample_and_encode(info, plan, sampling=Sampling(), limits=limits)
        wall = time.perf_counter() - t
        return wall, _children_cpu() - c0 + _self_cpu() - s0
    finally:
        set_worker_threads(None)


def _timed_sample(src: Path, one_thread: bool) -> tuple[float, float]:
    """(wall s, cpu s) of today's sampling decode alone: what a held or rejected video costs when
    the encode waits for the verdict (``encode_mode=after_verdict``)."""
    from safety.media import MediaLimits, probe, sample_frames

    limits = MediaLimits()
    info = probe(src, limits)
    set_worker_threads(1 if one_thread else None)
    try:
        c0, s0, t = _children_cpu(), _self_cpu(), time.perf_counter()
        sample_frames(info, limits=limits)
        wall = time.perf_counter() - t
        return wall, _children_cpu() - c0 + _self_cpu() - s0
    finally:
        set_worker_threads(None)


# -- end to end -------------------------------------------------------------------------------
@dataclass
class Config:
    name: str
    workers: int
    threads: int | None  # FEEDGUARD_WORKER_THREADS
    paced: float | None = None  # events per second; None = one burst
    rounds: int = 2  # each clip this many times (distinct video ids)
    encode_mode: str = "speculative"  # FEEDGUARD_ENCODE_MODE: one pass, or "after_verdict" (two passes)
    model_threads: int = 1  # FEEDGUARD_MODEL_THREADS; 0 = the worker's budget (before issue 18's second pass)

    @property
    def label(self) -> str:
        t = f", {self.threads} thread{'s' if self.threads != 1 else ''}/worker" if self.threads else ""
        mode = f", paced {self.paced:.2f}/s" if self.paced else ""
        workers = f"{self.workers} worker{'s' if self.workers > 1 else ''}"
        passes = "one pass" if self.encode_mode == "speculative" else "two passes (before)"
        models = ", models on the worker's threads (before)" if self.model_threads == 0 else ""
        return f"{passes}: {workers}{t}{mode}{models}"


@dataclass
class Run:
    cfg: Config
    n_events: int = 0
    wall_s: float = 0.0
    produced: dict[str, float] = field(default_factory=dict)
    consumed: dict[str, tuple[float, str]] = field(default_factory=dict)
    rss_kb: list[int] = field(default_factory=list)
    child_rss_kb: list[int] = field(default_factory=list)
    cpu_s: list[float] = field(default_factory=list)
    cpu_base: list[float] = field(default_factory=list)
    exit_codes: list[int | None] = field(default_factory=list)
    stages: dict[str, dict[str, float]] = field(default_factory=dict)
    outcomes: dict[str, str] = field(default_factory=dict)
    extra: dict[str, dict[str, float]] = field(default_factory=dict)  # video -> publish split, record...
    errors: list[str] = field(default_factory=list)
    startup_s: float = 0.0
    load: tuple[float, float] = (0.0, 0.0)  # 1-min load average before / after
    other_rounds: list[float] = field(default_factory=list)  # videos/s of the rounds not shown

    @property
    def throughput(self) -> float:
        return len(self.consumed) / self.wall_s if self.wall_s else float("nan")

    def latencies(self) -> list[float]:
        return [self.consumed[v][0] - self.produced[v] for v in self.consumed]

    def cpu_per_video(self) -> float:
        n = len(self.consumed)
        return (sum(self.cpu_s) - sum(self.cpu_base)) / n if n else float("nan")


def _event(video_id: str, clip: Clip) -> dict[str, Any]:
    return {
        "schema": "video.generated/v1",
        "video_id": video_id,
        "creator": {"id": "creator-adult-bench", "age_band": "adult"},
        "prompt": "a calm scene",
        "uri": clip.path.resolve().as_uri(),
        "cameos": [],
        "remix_of": None,
        "created_at": datetime.now(UTC).isoformat(),
        "generator": "feedguard-bench",
    }


def _watch(proc: subprocess.Popen[bytes], run: Run, idx: int) -> None:
    status, stat = Path(f"/proc/{proc.pid}/status"), Path(f"/proc/{proc.pid}/stat")
    tick = os.sysconf("SC_CLK_TCK")
    while proc.poll() is None:
        try:
            for line in status.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    run.rss_kb[idx] = max(run.rss_kb[idx], int(line.split()[1]))
            f = stat.read_text().rsplit(")", 1)[1].split()
            run.cpu_s[idx] = max(run.cpu_s[idx], sum(int(x) for x in f[11:15]) / tick)
            run.child_rss_kb[idx] = max(run.child_rss_kb[idx], _children_hwm_kb(proc.pid))
        except (OSError, ValueError, IndexError):
            pass
        time.sleep(0.25)


def _children_hwm_kb(pid: int) -> int:
    """Largest VmHWM among ``pid``'s child processes (the ffmpegs); this kernel has no
    /proc/<pid>/task/<tid>/children, so the parent pid of every process is read."""
    best = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) != pid:
                continue
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    best = max(best, int(line.split()[1]))
        except (OSError, ValueError, IndexError):
            continue
    return best


def _pump(stream: Any, lines: list[str], logf: Any) -> None:
    for raw in iter(stream.readline, b""):
        line = raw.decode(errors="replace")
        lines.append(line)
        logf.write(line)
        logf.flush()


def _load() -> float:
    return os.getloadavg()[0]


PY_SPY: Path | None = None  # --py-spy: where each worker's profile goes


def _py_spy(pid: int, label: str) -> None:
    """Sample a worker (``py-spy record --native``, raw collapsed stacks) until it exits."""
    if PY_SPY is None:
        return
    PY_SPY.mkdir(parents=True, exist_ok=True)
    out = PY_SPY / f"{re.sub(r'[^a-z0-9]+', '-', label.lower()).strip('-')}-{pid}.txt"
    cmd = ["py-spy", "record", "-p", str(pid), "--native", "--threads", "--rate", "50", "--format", "raw",
           "-o", str(out)]  # fmt: skip
    subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def run_pipeline(clips: list[Clip], cfg: Config, root: Path, media: Path, timeout_s: float) -> Run:
    run = Run(cfg, rss_kb=[0] * cfg.workers, cpu_s=[0.0] * cfg.workers, child_rss_kb=[0] * cfg.workers)
    rdir = root / re.sub(r"[^a-z0-9]+", "-", cfg.label.lower()).strip("-")
    rdir.mkdir(parents=True, exist_ok=True)
    db_url = f"sqlite:///{rdir / 'feedguard.db'}"
    # Each round sends every clip; partition = (index + round) % 2, so over two rounds every clip is
    # decided once on each partition and both workers get the same work (keys alone could put
    # most of a small burst on one partition).
    events = [(f"{c.video_id}-r{r}", c, (i + r) % 2) for r in range(cfg.rounds) for i, c in enumerate(clips)]
    run.n_events = len(events)
    load0 = _load()
    with LocalBroker() as broker:
        ensure_topics(broker.bootstrap, partitions=2)
        env = dict(os.environ, FEEDGUARD_SESSION_TIMEOUT_MS="2000", PYTHONPATH=str(REPO))
        env.pop("FEEDGUARD_WORKER_THREADS", None)
        env["FEEDGUARD_ENCODE_MODE"] = cfg.encode_mode
        env["FEEDGUARD_MODEL_THREADS"] = str(cfg.model_threads)
        if cfg.threads:
            env["FEEDGUARD_WORKER_THREADS"] = str(cfg.threads)
        procs: list[subprocess.Popen[bytes]] = []
        logs: list[list[str]] = []
        threads: list[threading.Thread] = []
        t_start = time.perf_counter()
        for i in range(cfg.workers):
            cmd = [sys.executable, str(REPO / "benchmarks" / "bench_worker.py"), "worker",
                   "--bootstrap-servers", broker.bootstrap, "--database-url", db_url,
                   "--data-dir", str(rdir / "data"), "--media-root", str(media),
                   "--group", "feedguard-bench", "--idle-exit", "6", "--log-format", "json"]  # fmt: skip
            logf = open(rdir / f"worker{i}.log", "w")  # noqa: SIM115
            p = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            procs.append(p)
            _py_spy(p.pid, cfg.label)
            lines: list[str] = []
            logs.append(lines)
            for target, a in ((_pump, (p.stdout, lines, logf)), (_watch, (p, run, i))):
                th = threading.Thread(target=target, args=a, daemon=True)
                th.start()
                threads.append(th)
            if i == 0 and cfg.workers > 1:
                time.sleep(1.0)  # let the first one create the SQLite schema alone

        consumer = KafkaConsumer(
            *OUTCOME_TOPICS,
            bootstrap_servers=broker.bootstrap,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            group_id=None,
            fetch_max_wait_ms=50,
        )
        consumer.poll(timeout_ms=200)
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            if all(any('"assigned' in ln or "assigned [" in ln for ln in lg) for lg in logs):
                break
            if any(p.poll() is not None for p in procs):
                break
            time.sleep(0.1)
        time.sleep(0.5 if cfg.workers == 1 else 2.0)  # let a second rebalance settle
        run.startup_s = time.perf_counter() - t_start
        run.cpu_base = list(run.cpu_s)

        wanted = {v for v, _, _ in events}
        producer = make_producer(broker.bootstrap)
        stop = threading.Event()

        def produce() -> None:
            gap = 1.0 / cfg.paced if cfg.paced else 0.0
            t_next = time.time()
            for vid, clip, partition in events:
                if gap:
                    time.sleep(max(0.0, t_next - time.time()))
                    t_next += gap
                run.produced[vid] = time.time()
                value = json.dumps(_event(vid, clip)).encode()
                producer.send(VIDEOS_GENERATED, key=vid.encode(), value=value, partition=partition)
                if gap:
                    producer.flush()
                if stop.is_set():
                    return
            producer.flush()

        t0 = time.time()
        prod = threading.Thread(target=produce, daemon=True)
        prod.start()
        deadline = time.monotonic() + timeout_s
        try:
            while wanted - run.consumed.keys() and time.monotonic() < deadline:
                for records in consumer.poll(timeout_ms=100).values():
                    now = time.time()
                    for r in records:
                        k = r.key.decode()
                        if k in wanted and k not in run.consumed:
                            run.consumed[k] = (now, r.topic)
                if all(p.poll() is not None for p in procs):
                    break
        finally:
            stop.set()
            prod.join(5)
            producer.close()
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
    run.load = (load0, _load())
    run.stages, run.outcomes = read_stages(db_url, wanted)
    for lg in logs:
        for ln in lg:
            try:
                rec = json.loads(ln)
            except ValueError:
                continue
            vid = rec.get("video_id")
            if isinstance(rec.get("publish_ms"), dict) and vid in wanted:
                run.extra.setdefault(vid, {}).update(
                    {f"publish:{k}": float(v) for k, v in rec["publish_ms"].items()}
                )
            bench = rec.get("bench")
            if isinstance(bench, dict) and bench.get("video_id") in wanted:
                run.extra.setdefault(bench["video_id"], {}).update(
                    {k: float(v) for k, v in bench.items() if k.endswith("_ms")}
                )
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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=6, help="number of 10 s 720p24 clips (default 6)")
    ap.add_argument("--no-variants", action="store_true", help="leave out the 5 s 1080p and 20 s 480p clips")
    ap.add_argument(
        "--quick", action="store_true", help="only 'after' with 1 and 2 workers; print, do not write"
    )
    ap.add_argument("--no-paced", action="store_true", help="skip the paced-arrival run")
    ap.add_argument("--paced-rounds", type=int, default=2, help="times each clip is sent in the paced run")
    ap.add_argument("--floor-repeats", type=int, default=2, help="ffmpeg floor runs per clip (best of)")
    ap.add_argument("--timeout", type=float, default=900, help="seconds to wait for all outcomes per run")
    ap.add_argument("--keep", type=Path, help="keep media, logs and databases in this directory")
    ap.add_argument("--no-write", action="store_true", help="print only; do not write benchmarks/README.md")
    ap.add_argument("--e2e-rounds", type=int, default=2, help="rounds per Kafka configuration (best kept)")
    ap.add_argument(
        "--no-two-pass", action="store_true", help="skip today's two-pass path (encode_mode=after_verdict)"
    )
    ap.add_argument(
        "--py-spy", type=Path, help="record each worker with py-spy (raw stacks) into this directory"
    )
    ap.add_argument(
        "--no-model-threads-before",
        action="store_true",
        help="skip the one-pass run whose model sessions use the worker's threads (model_threads=0)",
    )
    args = ap.parse_args()
    global PY_SPY
    PY_SPY = args.py_spy
    started = time.perf_counter()
    cmdline = "python benchmarks/pipeline_bench.py" + "".join(f" {a}" for a in sys.argv[1:])

    root = args.keep or Path(tempfile.mkdtemp(prefix="feedguard-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    media = root / "media"
    media.mkdir(exist_ok=True)
    try:
        t = time.perf_counter()
        clips = make_workload(media, args.n, not args.no_variants)
        print(f"made {len(clips)} clips in {time.perf_counter() - t:.1f} s ({root})", flush=True)
        t = time.perf_counter()
        measure_floor(clips, args.floor_repeats, root)
        print(f"floor measured in {time.perf_counter() - t:.1f} s", flush=True)
        configs = []
        modes = ["speculative"] + ([] if args.no_two_pass else ["after_verdict"])
        for mode in modes:
            configs += [
                Config("w1", 1, NCPU, encode_mode=mode),
                Config("w2", 2, max(1, NCPU // 2), encode_mode=mode),
            ]
            if not args.quick:
                configs.append(Config("w1-t1", 1, max(1, NCPU // 2), encode_mode=mode))
        if not args.no_model_threads_before and NCPU > 1:  # last: the report picks the first match
            configs.append(Config("w1-mt", 1, NCPU, model_threads=0))
        tries: dict[str, list[Run]] = {}
        for rnd in range(args.e2e_rounds):  # rounds interleave the configurations
            for cfg in configs:
                t = time.perf_counter()
                r = run_pipeline(clips, cfg, root / f"round{rnd}", media, args.timeout)
                print(f"{cfg.label}: {len(r.consumed)}/{r.n_events} outcomes, {r.throughput:.3f} videos/s "
                      f"(run {time.perf_counter() - t:.1f} s, load {r.load[0]:.1f}/{r.load[1]:.1f}) "
                      f"{r.errors or ''}", flush=True)  # fmt: skip
                tries.setdefault(cfg.label, []).append(r)
        runs: list[Run] = []
        for attempts in tries.values():  # the least disturbed round of each configuration
            best_run = max(attempts, key=lambda r: (not r.errors, r.throughput))
            best_run.other_rounds = [r.throughput for r in attempts if r is not best_run]
            runs.append(best_run)
        if not (args.quick or args.no_paced):
            best = max(
                (r for r in runs if r.cfg.workers == 2 and r.cfg.encode_mode == "speculative"),
                key=lambda r: r.throughput,
            )
            cfg = Config("after-2-paced", 2, best.cfg.threads, paced=0.7 * best.throughput,
                         rounds=args.paced_rounds)  # fmt: skip
            t = time.perf_counter()
            r = run_pipeline(clips, cfg, root, media, args.timeout)
            print(f"{cfg.label}: {len(r.consumed)}/{r.n_events} outcomes "
                  f"(run {time.perf_counter() - t:.1f} s)", flush=True)  # fmt: skip
            runs.append(r)
        body = report(clips, runs, args, cmdline, time.perf_counter() - started)
        print("\n" + body)
        if not (args.no_write or args.quick):
            write_readme(body)
            print(f"wrote the results into {README}")
        return 0 if all(not r.errors for r in runs) else 1
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())

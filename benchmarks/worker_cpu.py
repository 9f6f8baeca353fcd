"""Issue 18: where a worker's CPU goes outside the pixel work, per video, measured part by part.

    python benchmarks/worker_cpu.py              # 3 bench clips (pipeline_bench's), 1 thread, table on stdout
    python benchmarks/worker_cpu.py --int8-nsfw  # also: what an int8 Open-NSFW would save (not shipped)

Everything runs on one thread per process (``worker_threads=1``, the 2-workers-on-2-cores setting)
and counts CPU seconds (``getrusage``: every thread of the process, or the children), not wall time:

* each frame detector's ``detect`` on the clip's sampled frames, fresh copies so no memo helps
  (what the prefetch and ``detect`` do between them for one video);
* ``probe`` (one ffprobe process) and the whole ``Moderator.handle`` in process (pipeline, one-pass
  ffmpeg, detectors, C2PA, database), split into this process and its children (the ffmpegs);
* an idle ``feedguard worker`` on a local broker: what its background threads (Kafka client,
  registry reconciler and views) cost per second, whatever the load.

``--int8-nsfw`` quantizes Open-NSFW (static QDQ, per channel, calibrated on skimage photos and
these clips' frames) and compares its CPU and scores with the shipped model on the sampled frames.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import numpy as np  # noqa: E402

from classifiers import DetectorInput, TextInput  # noqa: E402


def self_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def event(video_id: str, path: Path) -> Any:
    from safety.events import VideoGenerated

    return VideoGenerated.model_validate({
        "schema": "video.generated/v1", "video_id": video_id, "prompt": "a calm scene",
        "creator": {"id": "creator-adult-bench", "age_band": "adult"}, "uri": path.resolve().as_uri(),
        "cameos": [], "remix_of": None, "created_at": datetime.now(UTC).isoformat(), "generator": "bench",
    })  # fmt: skip


def detector_cpu(runtime: Any, clips: list[Any], reps: int) -> tuple[dict[str, float], dict[str, Any]]:
    """Mean CPU s per video of each detector (best of ``reps`` per clip), and the sampled frames."""
    from safety.media import probe, sample_frames
    from safety.pipeline import _context

    s = runtime.settings
    per: dict[str, list[float]] = {}
    frames: dict[str, Any] = {}
    for c in clips:
        info = probe(c.path, s.media_limits)
        batch = sample_frames(info, fps=s.sample_fps, scene_threshold=s.scene_threshold,
                              max_side=s.detector_max_side, limits=s.media_limits)  # fmt: skip
        frames[c.video_id] = batch
        ev = event(c.video_id, c.path)
        best: dict[str, float] = {}
        for _ in range(reps):
            fresh = dataclasses.replace(batch, frames=[f.copy() for f in batch.frames])
            data = DetectorInput(frames=fresh, text=TextInput(prompt=ev.prompt), context={
                **_context(ev, info), "video.id": ev.video_id, "cameos": [], "source_path": str(c.path),
                "media.sha256": "0" * 64})  # fmt: skip
            for d in runtime.pipeline.detectors:
                t = self_cpu()
                d.detect(data)
                best[d.name] = min(best.get(d.name, 1e9), self_cpu() - t)
        for k, v in best.items():
            per.setdefault(k, []).append(v)
    return {k: sum(v) / len(v) for k, v in per.items()}, frames


def probe_cpu(clips: list[Any], runtime: Any) -> float:
    from safety.media import probe

    t = children_cpu()
    for c in clips:
        probe(c.path, runtime.settings.media_limits)
    return (children_cpu() - t) / len(clips)


def handle_cpu(runtime: Any, clips: list[Any], rounds: int) -> tuple[float, float, dict[str, str]]:
    """Mean (self, children) CPU s of ``Moderator.handle`` per video over warm rounds."""
    own = kids = 0.0
    n = 0
    outcomes: dict[str, str] = {}
    for r in range(rounds + 1):  # round 0 warms caches and lazy imports
        for c in clips:
            s0, c0 = self_cpu(), children_cpu()
            handled = runtime.moderator.handle(event(f"{c.video_id}-{r}-{time.time_ns()}", c.path))
            if r:
                own, kids, n = own + self_cpu() - s0, kids + children_cpu() - c0, n + 1
                outcomes[c.video_id] = handled.row.outcome
    return own / n, kids / n, outcomes


def idle_worker_cpu(seconds: float, media: Path, tmp: Path) -> float:
    """CPU s per second of an idle CLI worker (one thread budget) after it joined its group."""
    from streams import LocalBroker, ensure_topics

    tick = os.sysconf("SC_CLK_TCK")

    def cpu(pid: int) -> float:
        f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / tick

    with LocalBroker() as broker:
        ensure_topics(broker.bootstrap, partitions=2)
        env = dict(os.environ, PYTHONPATH=str(REPO), FEEDGUARD_WORKER_THREADS="1")
        cmd = [sys.executable, "-m", "safety", "worker", "--bootstrap-servers", broker.bootstrap,
               "--database-url", f"sqlite:///{tmp / 'idle.db'}", "--data-dir", str(tmp / "idle"),
               "--media-root", str(media), "--group", "idle", "--idle-exit", str(seconds + 120)]  # fmt: skip
        proc = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(30)  # models loaded, group joined
            c0, t0 = cpu(proc.pid), time.monotonic()
            time.sleep(seconds)
            return (cpu(proc.pid) - c0) / (time.monotonic() - t0)
        finally:
            proc.terminate()
            proc.wait(30)


def int8_nsfw(frames: dict[str, Any], tmp: Path) -> dict[str, float]:
    """CPU per frame and score change of an int8 Open-NSFW against the shipped fp32 one."""
    import cv2
    import onnx
    import onnxruntime as ort
    from onnx import version_converter
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process
    from skimage import data

    from classifiers.nsfw import packaged_model_path, preprocess

    every = [f for b in frames.values() for f in b.frames]
    h, w = every[0].shape[:2]
    photos = [cv2.resize(np.ascontiguousarray(getattr(data, n)()[..., :3]), (w, h))
              for n in ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry")]  # fmt: skip
    calib = np.concatenate([preprocess(photos), preprocess(every[::6])])
    src = str(packaged_model_path())
    onnx.save(version_converter.convert_version(onnx.load(src), 13), str(tmp / "nsfw13.onnx"))
    quant_pre_process(str(tmp / "nsfw13.onnx"), str(tmp / "nsfw_pre.onnx"))

    class Reader(CalibrationDataReader):  # type: ignore[misc]
        def __init__(self) -> None:
            self.it = iter([{"input:0": calib[i : i + 1]} for i in range(len(calib))])

        def get_next(self) -> dict[str, Any] | None:
            return next(self.it, None)

    quantize_static(str(tmp / "nsfw_pre.onnx"), str(tmp / "nsfw_q8.onnx"), Reader(),
                    quant_format=QuantFormat.QDQ, per_channel=True, activation_type=QuantType.QUInt8,
                    weight_type=QuantType.QInt8)  # fmt: skip
    x = preprocess(every)
    out: dict[str, float] = {}
    scores = {}
    for name, path in (("fp32", src), ("int8", str(tmp / "nsfw_q8.onnx"))):
        options = ort.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = 1, 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        sess = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        sess.run(None, {"input:0": x[:4]})
        t = self_cpu()
        scores[name] = np.concatenate(
            [sess.run(None, {"input:0": x[i : i + 4]})[0][:, 1] for i in range(0, len(x), 4)]
        )
        out[f"{name}_ms_per_frame"] = (self_cpu() - t) / len(x) * 1000
    out["max_abs_delta"] = float(np.abs(scores["int8"] - scores["fp32"]).max())
    out["max_fp32_score"] = float(scores["fp32"].max())
    out["frames"] = float(len(x))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=3, help="10 s 720p clips (pipeline_bench's workload)")
    ap.add_argument("--reps", type=int, default=2, help="detector runs per clip (lowest CPU kept)")
    ap.add_argument("--rounds", type=int, default=1, help="warm rounds of Moderator.handle per clip")
    ap.add_argument("--idle-s", type=float, default=20.0, help="seconds to watch an idle worker (0: skip)")
    ap.add_argument("--int8-nsfw", action="store_true", help="also measure an int8 Open-NSFW (needs onnx)")
    ap.add_argument("--worker-threads", type=int, default=1, help="Settings.worker_threads (default 1)")
    ap.add_argument("--model-threads", type=int, help="Settings.model_threads (default: the setting's, 1)")
    ap.add_argument("--detectors-only", action="store_true", help="skip ffprobe, handle and the idle worker")
    args = ap.parse_args()
    from pipeline_bench import make_workload

    from safety.config import Settings
    from safety.runtime import build_runtime

    tmp = Path(tempfile.mkdtemp(prefix="feedguard-cpu-"))
    media = tmp / "media"
    media.mkdir()
    clips = make_workload(media, args.n, variants=False)
    extra = {} if args.model_threads is None else {"model_threads": args.model_threads}
    settings = Settings(
        data_dir=tmp / "data", media_roots=[media], worker_threads=args.worker_threads, **extra
    )
    runtime = build_runtime(settings)
    load0 = os.getloadavg()[0]
    try:
        dets, frames = detector_cpu(runtime, clips, args.reps)
        if args.detectors_only:
            print(f"model threads {settings.model_threads}, worker threads {settings.worker_threads}: "
                  f"detectors {sum(dets.values()):.3f} CPU s per video {json.dumps(dets)}")  # fmt: skip
            return 0
        ffprobe = probe_cpu(clips, runtime)
        own, kids, outcomes = handle_cpu(runtime, clips, args.rounds)
    finally:
        runtime.close()
    idle = idle_worker_cpu(args.idle_s, media, tmp) if args.idle_s > 0 else float("nan")
    n_frames = sum(len(b.frames) for b in frames.values()) / len(frames)
    print(f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, `python benchmarks/worker_cpu.py"
          f"{''.join(' ' + a for a in sys.argv[1:])}`: {len(clips)} clips of 10 s 1280x720, "
          f"{n_frames:.0f} sampled frames per video, {args.worker_threads} worker thread(s), "
          f"load {load0:.1f} / {os.getloadavg()[0]:.1f}; "
          f"outcomes {sorted(set(outcomes.values()))}.\n")  # fmt: skip
    print("| part | CPU s per video |\n|---|--:|")
    for k, v in sorted(dets.items(), key=lambda kv: -kv[1]):
        print(f"| detector `{k}` (detect on fresh frames) | {v:.3f} |")
    print(f"| **all frame and text detectors** | **{sum(dets.values()):.3f}** |")
    print(f"| ffprobe (the probe stage, one process) | {ffprobe:.3f} |")
    print(
        f"| `Moderator.handle` in process: this process (pipeline, detectors, C2PA, database) | {own:.3f} |"
    )
    print(f"| `Moderator.handle` in process: its children (ffprobe + the one-pass ffmpeg) | {kids:.3f} |")
    print(f"| the same, this process minus the detectors | {own - sum(dets.values()):.3f} |")
    print(f"| idle worker (Kafka client, reconciler, registry views): CPU s per second | {idle:.4f} |")
    if args.int8_nsfw:
        q = int8_nsfw(frames, tmp)
        saved = (q["fp32_ms_per_frame"] - q["int8_ms_per_frame"]) * n_frames / 1000
        print(f"\nint8 Open-NSFW (not shipped): {q['int8_ms_per_frame']:.1f} ms CPU per frame against "
              f"{q['fp32_ms_per_frame']:.1f} (fp32), {saved:.2f} CPU s per video less; largest score change "
              f"{q['max_abs_delta']:.4f} over {q['frames']:.0f} benign frames (highest fp32 score "
              f"{q['max_fp32_score']:.3f}).")  # fmt: skip
    print(json.dumps({"detectors": dets, "ffprobe": ffprobe, "handle_self": own, "handle_children": kids,
                      "idle_cpu_per_s": idle}))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Detection time of ``feedguard verify``'s watermark step on a 10 s 720p24 clip, in CPU seconds.

    nice -n 10 python benchmarks/wm_timing.py [--work /tmp/fg-wm-timing]

CPU seconds of this process plus its ffmpeg children (the machine is shared, so wall time says
little): the decode of the mean Y, U, V planes of up to 240 frames, then ``verify.detect_any``
(scheme 3, and the scheme 2 and 1 fallbacks when it finds nothing, as on the unmarked copy).
"""

from __future__ import annotations

import argparse
import resource
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import wm_clips  # noqa: E402

from safety.provenance import watermark as wm1  # noqa: E402
from safety.provenance import watermark3 as wm3  # noqa: E402
from safety.provenance.config import ProvenanceConfig  # noqa: E402
from safety.provenance.encode import encode_final, probe_source  # noqa: E402
from safety.provenance.verify import detect_any  # noqa: E402
from safety.provenance.wmread import detection_planes  # noqa: E402


def cpu() -> float:
    a, b = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", type=Path, default=Path("/tmp/fg-wm-timing"))
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    cfg = ProvenanceConfig()
    src = wm_clips.render("handheld-shake", args.work / "shake-10s.mp4", 10.0)
    fmt = probe_source(src)
    marked, plain = args.work / "marked-s3.mp4", args.work / "plain.mp4"
    if not marked.exists():
        emb = wm3.Embedder("0123456789abcdef", fmt.width, fmt.height, cfg.watermark_strength)
        encode_final(src, marked, fmt, mark=emb, crf=cfg.crf, preset=cfg.preset)
    if not plain.exists():
        encode_final(src, plain, fmt, mark=None, crf=cfg.crf, preset=cfg.preset)
    for path in (marked, plain):
        for _ in range(2):
            c0 = cpu()
            planes, frames = detection_planes(path)
            c1 = cpu()
            det, scheme = detect_any(planes, frames, wm1.DEFAULT_KEY)
            c2 = cpu()
            print(
                f"{path.name}: {frames} frames, id {det.watermark_id} ({scheme}); decode {c1 - c0:.2f} "
                f"+ detect {c2 - c1:.2f} = {c2 - c0:.2f} CPU s",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

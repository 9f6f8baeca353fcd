"""Watermark evaluation (issue 16): natural clips x attacks, costs, false positives, schemes 3, 2, 1.

    nice -n 10 python benchmarks/watermark_eval.py [--quick] [--cache /tmp/fg-wm-cache] [--seconds 6]
        [--clips a,b] [--attacks x,y] [--schemes 3,2] [--fp-stills 400] [--out benchmarks/WATERMARK.md]

Scheme 3 (published) gets every attack; schemes 2 and 1 get their costs and the attacks named by
``--s2-attacks`` / ``--s1-attacks`` (none by default: their full tables come from the run before
scheme 3, ``benchmarks/results/watermark_before_scheme3.json``, same command, clips and attacks).

Incremental and resumable: clips, final encodes, attacked copies and every detection result are
cached under ``--cache`` (results in ``results.jsonl``), so an interrupted run continues where it
stopped and a second run only renders the tables. ``--quick`` uses 4 s clips, four clips and a
subset of attacks (for a smoke run). Clips come from ``benchmarks/wm_clips.py`` (made offline).

Per clip: the production final encode (``encode_final`` with ProvenanceConfig defaults: libx264
CRF 20 veryfast) with and without the mark; bitrate cost and luma PSNR/SSIM of marked vs unmarked.
Then each attack (ffmpeg) is applied to the marked encode and ``verify.detect_any`` (what
``feedguard verify`` runs: scheme 2, then the scheme 1 fallback) reads the mean luma; a copy counts
as recovered only when the decoded id equals the embedded one. False positives: every attack on
the unmarked encodes, plus synthetic unmarked "videos" (random crops of scikit-image photos with
noise, still and moving) passed straight to the detector.
"""

from __future__ import annotations

import argparse
import json
import resource
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import wm_clips  # noqa: E402
import wm_report  # noqa: E402

from safety.provenance import watermark as wm1  # noqa: E402
from safety.provenance import watermark2 as wm2  # noqa: E402
from safety.provenance import watermark3 as wm3  # noqa: E402
from safety.provenance.config import ProvenanceConfig  # noqa: E402
from safety.provenance.encode import encode_final, probe_source  # noqa: E402
from safety.provenance.verify import detect_any  # noqa: E402
from safety.provenance.wmread import detection_planes  # noqa: E402

X264 = ["-c:v", "libx264", "-preset", "medium"]
FAST = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "23"]
CROP71 = "crop=iw*0.843:ih*0.843:iw*0.1:ih*0.04"  # 71 % of the area, off centre
HALF = "lutyuv=y=val*0.5"  # brightness x0.5 (luma values halved)


def _rot(deg: float, hide: bool) -> str:
    r = f"rotate={deg}*PI/180:fillcolor=black"
    if not hide:
        return r
    a = abs(deg) * np.pi / 180
    k = 1 / (np.cos(a) + np.sin(a) * 16 / 9)  # largest same-aspect crop inside the rotated frame
    return f"{r},crop=iw*{k:.4f}:ih*{k:.4f},scale=1280:720"


def _logo() -> str:
    return (
        "drawbox=x=iw-220:y=20:w=200:h=70:color=white@0.8:t=fill,"
        "drawbox=x=iw-210:y=30:w=60:h=50:color=red@0.9:t=fill,"
        "drawbox=x=40:y=ih-120:w=iw-80:h=70:color=black@0.55:t=fill"
    )


ATTACKS: dict[str, list[str]] = {
    "H.264 CRF 30": [*X264, "-crf", "30"],
    "H.264 CRF 40": [*X264, "-crf", "40"],
    "CRF 30 + crop 71% + brightness 0.5": ["-vf", f"{CROP71},{HALF}", *X264, "-crf", "30"],
    "CRF 40 + crop 71% + brightness 0.5": ["-vf", f"{CROP71},{HALF}", *X264, "-crf", "40"],
    "horizontal flip": ["-vf", "hflip", *FAST],
    "vertical flip": ["-vf", "vflip", *FAST],
    "rotate 2 deg (black corners)": ["-vf", _rot(2, False), *FAST],
    "rotate -5 deg (black corners)": ["-vf", _rot(-5, False), *FAST],
    "rotate 5 deg (cropped)": ["-vf", _rot(5, True), *FAST],
    "rotate -3 deg (cropped)": ["-vf", _rot(-3, True), *FAST],
    "downscale 50%": ["-vf", "scale=iw/2:ih/2", *FAST],
    "downscale to 240p": ["-vf", "scale=-2:240", *FAST],
    "crop 71% (off centre)": ["-vf", CROP71, *FAST],
    "letterbox 10%": ["-vf", "pad=iw:ih*1.1:0:(oh-ih)/2:black", *FAST],
    "pillarbox 10%": ["-vf", "pad=iw*1.1:ih:(ow-iw)/2:0:black", *FAST],
    "trim 2 s": ["-ss", "1.5", "-t", "2", *FAST],
    "trim 3 s": ["-ss", "1", "-t", "3", *FAST],
    "15 fps": ["-vf", "fps=15", *FAST],
    "speed 2x": ["-vf", "setpts=0.5*PTS", "-r", "24", *FAST],
    "colour grade (saturation 1.4 + gamma 1.3)": ["-vf", "eq=saturation=1.4:gamma=1.3", *FAST],
    "brightness x0.5": ["-vf", HALF, *FAST],
    # Not in issue 16's list, but a filter every editing app offers: it removes the colour planes.
    "greyscale (black-and-white filter)": ["-vf", "hue=s=0", *FAST],
    "logo + caption overlay": ["-vf", _logo(), *FAST],
    "screen capture (75% + JPEG)": [
        "-vf",
        "scale=iw*3/4:ih*3/4",
        "-c:v",
        "mjpeg",
        "-q:v",
        "5",
        "-f",
        "matroska",
    ],
    "VP9": [
        "-c:v",
        "libvpx-vp9",
        "-crf",
        "36",
        "-b:v",
        "0",
        "-deadline",
        "realtime",
        "-cpu-used",
        "8",
        "-f",
        "matroska",
    ],
    "HEVC (x265 CRF 28)": [
        "-c:v",
        "libx265",
        "-preset",
        "veryfast",
        "-crf",
        "28",
        "-x265-params",
        "log-level=error",
    ],
    "AV1 (SVT-AV1 CRF 40)": ["-c:v", "libsvtav1", "-preset", "12", "-crf", "40", "-f", "matroska"],
    "MPEG-4 part 2": ["-c:v", "mpeg4", "-q:v", "6", "-f", "matroska"],
}
QUICK_ATTACKS = [
    "H.264 CRF 40",
    "CRF 40 + crop 71% + brightness 0.5",
    "horizontal flip",
    "rotate 5 deg (cropped)",
    "downscale to 240p",
    "speed 2x",
]
QUICK_CLIPS = ["coffee-pan", "dark-grainy-sky", "handheld-shake", "dim-coins"]
S1_ATTACKS = [
    "H.264 CRF 40",
    "CRF 30 + crop 71% + brightness 0.5",
    "CRF 40 + crop 71% + brightness 0.5",
    "horizontal flip",
    "rotate 5 deg (cropped)",
    "downscale to 240p",
]
FP_ATTACKS = [
    "H.264 CRF 30",
    "CRF 40 + crop 71% + brightness 0.5",
    "rotate 5 deg (cropped)",
    "downscale to 240p",
    "screen capture (75% + JPEG)",
]


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-y", *args], check=True)


class Cache:
    """results.jsonl: one JSON object per finished measurement, keyed by ``key``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.path = root / "results.jsonl"
        self.rows: dict[str, dict[str, object]] = {}
        if self.path.exists():
            for line in self.path.read_text().splitlines():
                if line.strip():
                    row = json.loads(line)
                    self.rows[row["key"]] = row

    def get(self, key: str) -> dict[str, object] | None:
        return self.rows.get(key)

    def put(self, row: dict[str, object]) -> None:
        self.rows[str(row["key"])] = row
        with self.path.open("a") as f:
            f.write(json.dumps(row) + "\n")


def wid_for(clip: str, scheme: int) -> str:
    return wm1.watermark_id_for(f"bench:{clip}:{scheme}")


def final_encodes(clip: str, src: Path, cache: Cache, scheme: int) -> tuple[Path, Path]:
    """(marked, plain) production final encodes; the cost row is cached too."""
    cfg = ProvenanceConfig()
    plain = cache.root / f"{clip}.plain.mp4"
    marked = cache.root / f"{clip}.s{scheme}.mp4"
    fmt = probe_source(src)
    if not plain.exists():
        encode_final(src, plain, fmt, mark=None, crf=cfg.crf, preset=cfg.preset)
    key = f"cost|{clip}|s{scheme}"
    if not marked.exists() or cache.get(key) is None:
        strength = {3: cfg.watermark_strength, 2: 2.3, 1: 2.0}[scheme]  # 2.3: scheme 2's shipped default
        emb_cls = {3: wm3.Embedder, 2: wm2.Embedder, 1: wm1.Embedder}[scheme]
        emb = emb_cls(wid_for(clip, scheme), fmt.width, fmt.height, strength)
        tmp = marked.with_suffix(".part.mp4")
        t0 = time.perf_counter()
        encode_final(src, tmp, fmt, mark=emb, crf=cfg.crf, preset=cfg.preset)
        enc_s = time.perf_counter() - t0
        tmp.rename(marked)
        psnr, ssim, chroma_psnr = wm_report.quality(marked, plain, fmt.width, fmt.height)
        cost = (marked.stat().st_size / plain.stat().st_size - 1) * 100
        cache.put(
            {
                "key": key,
                "clip": clip,
                "scheme": scheme,
                "size_pct": cost,
                "psnr": psnr,
                "ssim": ssim,
                "chroma_psnr": chroma_psnr,
                "plain_kbps": plain.stat().st_size * 8 / 1000 / fmt.duration_s,
                "encode_s": enc_s,
            }
        )
    return marked, plain


def _cpu() -> float:
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def detect_row(path: Path, expect: str | None) -> dict[str, object]:
    t0 = _cpu()  # CPU seconds (ours + ffmpeg's): the machine is shared, wall time says little
    planes, frames = detection_planes(path)
    t1 = _cpu()
    det, scheme = detect_any(planes, frames, wm1.DEFAULT_KEY)
    t2 = _cpu()
    return {
        "found": det.watermark_id,
        "ok": expect is not None and det.watermark_id == expect,
        "wrong": det.watermark_id is not None and det.watermark_id != expect,
        "z": det.sync_z,
        "agreement": det.bit_agreement,
        "scheme_found": scheme,
        "decode_s": t1 - t0,
        "detect_s": t2 - t1,
    }


def attack(clip: str, src: Path, name: str, cache: Cache, kind: str) -> None:
    key = f"attack|{clip}|{kind}|{name}"
    if cache.get(key) is not None:
        return
    out = cache.root / f"{clip}.{kind}.attacked.mkv"
    ffmpeg("-i", str(src), *ATTACKS[name], "-an", str(out))
    expect = None if kind == "plain" else wid_for(clip, int(kind[1:]))
    row = {"key": key, "clip": clip, "kind": kind, "attack": name, **detect_row(out, expect)}
    out.unlink()
    cache.put(row)
    print(
        f"  {clip} {kind} {name}: {'OK' if row['ok'] else ('WRONG' if row['wrong'] else 'miss')} "
        f"z={row['z']} agree={row['agreement']}",
        flush=True,
    )


def fp_stills(cache: Cache, count: int, part: tuple[int, int] = (0, 1)) -> None:
    """Unmarked synthetic 'videos' (photo crops, noise, motion blur of a pan) straight to the detector;
    still ``i`` draws from its own generator, so a resumed or split run (``part`` k of n) makes the
    same stills."""
    import cv2

    names = [
        "astronaut",
        "coffee",
        "chelsea",
        "rocket",
        "coins",
        "camera",
        "moon",
        "page",
        "text",
        "horse",
        "grass",
        "gravel",
        "brick",
        "hubble_deep_field",
        "retina",
        "immunohistochemistry",
    ]
    for i in range(part[0], count, part[1]):
        key = f"fpstill|{i}"
        if cache.get(key) is not None:
            continue
        rng = np.random.default_rng([16, i])
        name = names[i % len(names)]
        try:
            img = wm_clips._img(name)
        except AttributeError:
            img = wm_clips._img("astronaut")
        ycc = cv2.cvtColor(np.clip(img, 0, 255).astype(np.uint8), cv2.COLOR_BGR2YCrCb).astype(np.float32)
        w = int(rng.choice([426, 640, 854, 1280])) // 2 * 2
        h = (w * 9 // 16 if rng.random() < 0.8 else w * 16 // 9 // 2) // 2 * 2
        big = cv2.resize(ycc, (w * 2, h * 2)) if ycc.shape[1] < w * 2 or ycc.shape[0] < h * 2 else ycc
        y, x = int(rng.integers(0, big.shape[0] - h + 1)), int(rng.integers(0, big.shape[1] - w + 1))
        gain, sigma, pan = rng.uniform(0.3, 1.1), rng.uniform(0.2, 4), int(rng.integers(1, 40))
        blurred = rng.random() < 0.5  # a pan averaged over frames
        planes = []
        for c, scale in ((0, 1), (2, 2), (1, 2)):  # Y, Cb (= U), Cr (= V); chroma at half size
            p = big[y : y + h, x : x + w, c]
            p = (p * gain if c == 0 else 128 + (p - 128) * gain) + rng.normal(0, sigma, (h, w))
            p = cv2.blur(p, (pan, 1)) if blurred else p
            p = cv2.resize(p, (w // scale, h // scale), interpolation=cv2.INTER_AREA) if scale > 1 else p
            planes.append(np.clip(p, 0, 255).astype(np.float32))
        t0 = time.perf_counter()
        det, scheme = detect_any((planes[0], planes[1], planes[2]), 24, wm1.DEFAULT_KEY)
        cache.put(
            {
                "key": key,
                "source": name,
                "found": det.watermark_id,
                "z": det.sync_z,
                "scheme_found": scheme,
                "detect_s": time.perf_counter() - t0,
            }
        )


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache", type=Path, default=Path("/tmp/fg-wm-cache"))
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--seconds", type=float, default=None)
    ap.add_argument("--clips", default=None)
    ap.add_argument("--attacks", default=None)
    ap.add_argument("--schemes", default="3,2")
    ap.add_argument("--s2-attacks", default="", help="attacks re-run on scheme 2 (comparison)")
    ap.add_argument(
        "--s1-attacks", default="", help=f"attacks re-run on scheme 1 (e.g. {','.join(S1_ATTACKS)})"
    )
    ap.add_argument("--fp-stills", type=int, default=400)
    ap.add_argument("--no-fp-attacks", action="store_true")
    ap.add_argument("--only-fp-stills", action="store_true", help="only the synthetic false-positive study")
    ap.add_argument("--fp-part", default="0/1", help="k/n: this process makes stills k, k+n, ...")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "WATERMARK.md")
    args = ap.parse_args()
    seconds = args.seconds or (4.0 if args.quick else 6.0)
    clips = args.clips.split(",") if args.clips else (QUICK_CLIPS if args.quick else list(wm_clips.CLIPS))
    attacks = args.attacks.split(",") if args.attacks else (QUICK_ATTACKS if args.quick else list(ATTACKS))
    schemes = [int(s) for s in args.schemes.split(",")]
    cache = Cache(args.cache / f"{int(seconds * 10)}ds")
    started = time.perf_counter()
    if args.only_fp_stills:
        k, n = (int(x) for x in args.fp_part.split("/"))
        fp_stills(cache, args.fp_stills, (k, n))
        return 0
    sources = {clip: wm_clips.render(clip, cache.root / f"{clip}.src.mp4", seconds) for clip in clips}
    only = {2: args.s2_attacks.split(","), 1: args.s1_attacks.split(",")}
    for scheme in schemes:  # scheme 3 first: partial runs already answer the main question
        for clip, src in sources.items():
            marked, _ = final_encodes(clip, src, cache, scheme)
            key = f"clean|{clip}|s{scheme}"
            if cache.get(key) is None:
                cache.put({"key": key, "clip": clip, **detect_row(marked, wid_for(clip, scheme))})
            for name in attacks if scheme == 3 else [a for a in attacks if a in only[scheme]]:
                attack(clip, marked, name, cache, f"s{scheme}")
    for clip in [] if args.no_fp_attacks else clips:
        for name in [a for a in FP_ATTACKS if a in attacks]:
            attack(clip, cache.root / f"{clip}.plain.mp4", name, cache, "plain")
    fp_stills(cache, args.fp_stills)
    text = wm_report.render(
        cache.rows, clips, attacks, schemes, seconds, time.perf_counter() - started, shlex.join(sys.argv[1:])
    )
    args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

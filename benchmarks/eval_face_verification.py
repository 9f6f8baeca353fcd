"""Face verification for likeness consent: true-match rate at fixed false-match rates, the threshold,
exact vs compressed index agreement, and timings. Offline: only faces that ship with packages.

    python benchmarks/eval_face_verification.py [--variants 24] [--json out.json]

Identities: the two real photographs of people at usable size in ``skimage.data`` (astronaut,
cameraman) and the 100 face crops of ``skimage.data.lfw_subset()`` (25x25 grey, Labeled Faces in
the Wild; identities unlabelled, a few people may repeat). Each source gets synthetic variants
(pose-like warps with facial relief, lighting, blur, JPEG, H.264 re-encode through ffmpeg, scale).
Genuine pairs are variants of the *same photo*; impostor pairs are variants of different photos.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from classifiers.base import Box
from classifiers.face_identity import FaceEmbedder
from classifiers.faces import FaceDetector
from safety.likeness.index import FaceIndex
from safety.likeness.samples import Portrait, Pose, portraits, posed, write_video
from safety.likeness.vectors import DEFAULT_THRESHOLDS, normalise
from safety.media import MediaLimits, probe, sample_frames

U8 = np.ndarray


def _lfw_portraits() -> list[Portrait]:
    """LFW crops (25 px, tight) pasted into a padded canvas so the face detector sees a whole head."""
    from skimage import data

    out = []
    for i, face in enumerate(data.lfw_subset()[:100]):
        big = cv2.resize((face * 255).astype(np.uint8), (150, 150), interpolation=cv2.INTER_CUBIC)
        canvas = cv2.copyMakeBorder(big, 75, 75, 75, 75, cv2.BORDER_REPLICATE)
        out.append(Portrait(f"lfw{i:03d}", cv2.cvtColor(canvas, cv2.COLOR_GRAY2RGB), (75, 75, 150, 150)))
    return out


def _variant(p: Portrait, rng: np.random.Generator, kind: str) -> U8:
    """One synthetic capture of the portrait: a pose, then one degradation."""
    pose = Pose(
        yaw=float(rng.uniform(-0.3, 0.3)),
        pitch=float(rng.uniform(-0.2, 0.2)),
        roll=float(rng.uniform(-10, 10)),
        scale=float(rng.uniform(0.85, 1.15)),
        dx=float(rng.uniform(-0.1, 0.1)),
        dy=float(rng.uniform(-0.1, 0.1)),
    )
    img = posed(p, pose, 320).astype(np.float32)
    if kind == "light":
        img = 255.0 * (img / 255.0) ** rng.uniform(0.6, 1.6) * rng.uniform(0.7, 1.2) + rng.uniform(-20, 20)
    elif kind == "blur":
        img = cv2.GaussianBlur(img, (0, 0), float(rng.uniform(1.0, 2.5)))
    elif kind == "scale":  # the face shrinks to ~35-70 px and is blown up again
        small = int(rng.uniform(90, 180))
        img = cv2.resize(cv2.resize(img, (small, small), interpolation=cv2.INTER_AREA), (320, 320))
    out = np.clip(img, 0, 255).astype(np.uint8)
    if kind == "jpeg":
        _ok, buf = cv2.imencode(
            ".jpg", cv2.cvtColor(out, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(rng.uniform(15, 50))]
        )
        out = cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    return out


KINDS = ("pose", "light", "blur", "jpeg", "scale", "h264")


def _captures(p: Portrait, n: int, seed: int, tmp: Path) -> list[tuple[str, U8]]:
    """``n`` variants; the h264 ones go through a real ffmpeg encode/decode at CRF 30-36."""
    rng = np.random.default_rng(seed)
    out: list[tuple[str, U8]] = []
    h264: list[U8] = []
    for i in range(n):
        kind = KINDS[i % len(KINDS)]
        if kind == "h264":
            h264.append(_variant(p, rng, "pose"))
        else:
            out.append((kind, _variant(p, rng, kind)))
    if h264:
        path = write_video(tmp / f"{p.name}.mp4", h264, fps=4, crf=int(rng.uniform(30, 36)))
        limits = MediaLimits()
        batch = sample_frames(probe(path, limits), fps=4, scene_threshold=None, max_side=320, limits=limits)
        out += [("h264", f) for f in batch.frames[: len(h264)]]
    return out


def _embed(
    items: list[tuple[str, U8]], faces: FaceDetector, embedder: FaceEmbedder, fallback_box: Box | None
) -> tuple[list[str], np.ndarray, int]:
    """Detect (as production does) and embed the largest face; LFW falls back to a fixed box."""
    kinds, vectors, missed = [], [], 0
    found = faces.detect([img for _, img in items])
    for (kind, img), fs in zip(items, found, strict=True):
        if fs:
            box = max(fs, key=lambda f: f.box.w * f.box.h).box
        elif fallback_box is not None:
            box = fallback_box
        else:
            missed += 1
            continue
        vectors.append(embedder.embed(img, [box])[0])
        kinds.append(kind)
    return kinds, normalise(np.array(vectors)), missed


def _rate_at(genuine: np.ndarray, impostor: np.ndarray, fmr: float) -> tuple[float, float]:
    """Threshold with at most ``fmr`` of impostor pairs at or above it, and the TMR there."""
    imp = np.sort(impostor)[::-1]
    allowed = int(np.floor(fmr * len(imp)))
    threshold = float(imp[allowed]) + 1e-6 if allowed < len(imp) else float(imp[-1])
    return threshold, float(np.mean(genuine >= threshold))


def _embed_all(
    people: list[Portrait], lfw: list[Portrait], variants: int
) -> tuple[np.ndarray, list[str], list[str], dict[str, int]]:
    faces, embedder = FaceDetector(), FaceEmbedder()
    ids: list[str] = []
    kinds: list[str] = []
    vecs: list[np.ndarray] = []
    missed: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for seed, p in enumerate(people + lfw):
            n = variants if p in people else max(6, variants // 3)
            fallback = None if p in people else Box(0.25, 0.25, 0.5, 0.5)
            k, v, miss = _embed(_captures(p, n, seed, Path(tmp)), faces, embedder, fallback)
            missed[p.name] = miss
            ids += [p.name] * len(k)
            kinds += k
            vecs.append(v)
    return np.vstack(vecs), ids, kinds, missed


def _gallery(x: np.ndarray, ident: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """As deployed: half of each identity's vectors enrolled, the rest probe; a probe's score for an
    identity is its best similarity to that identity's gallery. Returns genuine, impostor, real-photo mask."""
    names = list(dict.fromkeys(ident.tolist()))
    gallery, probes = {}, {}
    for n in names:
        rows = np.where(ident == n)[0]
        gallery[n], probes[n] = x[rows[: len(rows) // 2]], x[rows[len(rows) // 2 :]]
    genuine, impostor, real = [], [], []
    for n in names:
        for m in names:
            best = (probes[n] @ gallery[m].T).max(axis=1)
            if n == m:
                genuine += best.tolist()
                real += [not n.startswith("lfw")] * len(best)
            else:
                impostor += best.tolist()
    return np.array(genuine), np.array(impostor), np.array(real)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--variants", type=int, default=24, help="variants per real photo (LFW gets a third)")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--save-vectors", type=Path, help="write the vectors, identities and kinds (.npz)")
    ap.add_argument("--vectors", type=Path, help="reuse vectors saved by --save-vectors (skips embedding)")
    args = ap.parse_args()
    people = list(portraits().values())
    lfw = _lfw_portraits()
    missed: dict[str, int] = {}
    started = time.perf_counter()
    if args.vectors:
        saved = np.load(args.vectors)
        x, ids, kinds = saved["x"], [str(i) for i in saved["ids"]], [str(k) for k in saved["kinds"]]
    else:
        x, ids, kinds, missed = _embed_all(people, lfw, args.variants)
    if args.save_vectors:
        np.savez(args.save_vectors, x=x, ids=np.array(ids), kinds=np.array(kinds))
    embed_s = time.perf_counter() - started
    ident = np.array(ids)
    sims = x @ x.T
    iu = np.triu_indices(len(x), 1)
    same = ident[iu[0]] == ident[iu[1]]
    real = np.isin(ident, [p.name for p in people])
    real_pair = real[iu[0]] & real[iu[1]]
    genuine_all, impostor = sims[iu][same], sims[iu][~same]
    genuine_real = sims[iu][same & real_pair]
    report: dict[str, Any] = {
        "identities": {"real_photos": len(people), "lfw_crops": len(lfw)},
        "vectors": len(x),
        "genuine_pairs": {"all": int(same.sum()), "real_photos": int((same & real_pair).sum())},
        "impostor_pairs": int((~same).sum()),
        "missed_detections_real_photos": {p.name: missed.get(p.name) for p in people},
        "genuine_cos": {"min": float(genuine_all.min()), "p01": float(np.percentile(genuine_all, 1))},
        "impostor_cos": {"max": float(impostor.max()), "p99.9": float(np.percentile(impostor, 99.9))},
        "by_kind_min_cos_real": {
            k: float(sims[iu][same & real_pair & (np.array(kinds)[iu[1]] == k)].min()) for k in KINDS
        },
        "embed_s": round(embed_s, 1),
    }
    for fmr in (1e-3, 1e-4):
        thr, tmr = _rate_at(genuine_all, impostor, fmr)
        report[f"fmr_{fmr:g}"] = {
            "threshold_cos": round(thr, 4),
            "tmr_all": round(tmr, 4),
            "tmr_real_photos": round(float(np.mean(genuine_real >= thr)), 4),
        }
    g_gen, g_imp, g_real = _gallery(x, ident)
    report["gallery"] = {"genuine_probes": len(g_gen), "impostor_comparisons": len(g_imp)}
    for fmr in (1e-3, 1e-4):
        thr, tmr = _rate_at(g_gen, g_imp, fmr)
        report["gallery"][f"fmr_{fmr:g}"] = {
            "threshold_cos": round(thr, 4),
            "tmr_all": round(tmr, 4),
            "tmr_real_photos": round(float(np.mean(g_gen[g_real] >= thr)), 4),
        }
    chosen = DEFAULT_THRESHOLDS.threshold
    report["shipped_threshold"] = {
        "threshold_cos": chosen,
        "pairs_fmr": float(np.mean(impostor >= chosen)),
        "pairs_tmr_real_photos": round(float(np.mean(genuine_real >= chosen)), 4),
        "gallery_fmr": float(np.mean(g_imp >= chosen)),
        "gallery_tmr_all": round(float(np.mean(g_gen >= chosen)), 4),
        "gallery_tmr_real_photos": round(float(np.mean(g_gen[g_real] >= chosen)), 4),
    }
    report["index"] = _index_checks(x, ident)
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


def _index_checks(
    x: np.ndarray, ident: np.ndarray, threshold: float = DEFAULT_THRESHOLDS.threshold
) -> dict[str, Any]:
    """Exact vs IVF-SQ8 on the evaluation vectors (same matches?), then timings at larger sizes."""
    exact, comp = FaceIndex(x, kind="exact"), FaceIndex(x, kind="compressed")
    se, ie = exact.search(x, 5)
    sc, ic = comp.search(x, 5)

    def matches(s: np.ndarray, i: np.ndarray) -> list[set[str]]:
        return [
            {str(ident[j]) for v, j in zip(sr, ir, strict=True) if j >= 0 and v >= threshold}
            for sr, ir in zip(s, i, strict=True)
        ]

    me, mc = matches(se, ie), matches(sc, ic)
    differ = [q for q in range(len(x)) if me[q] != mc[q]]
    # a difference can only come from a similarity that SQ8 moved across the threshold
    edge = max((float(np.min(np.abs(se[q] - threshold))) for q in differ), default=0.0)
    agree = 1.0 - len(differ) / len(x)
    top1_gap = float(np.max(np.abs(se[:, 0] - sc[:, 0])))
    rng = np.random.default_rng(0)
    timings = []
    for n in (1_000, 10_000, 100_000):
        base = x[rng.integers(0, len(x), n)] + rng.normal(0, 0.05, (n, x.shape[1])).astype(np.float32)
        q = normalise(x[rng.integers(0, len(x), 200)])
        for kind in ("exact", "compressed"):
            idx = FaceIndex(base, kind=kind)  # type: ignore[arg-type]
            t = time.perf_counter()
            for row in q:
                idx.search(row[None, :], 8)
            timings.append(
                {
                    "n": n,
                    "kind": kind,
                    "build_s": round(idx.build_s, 3),
                    "query_ms": round((time.perf_counter() - t) / len(q) * 1000, 3),
                    "mb": round(idx.memory_bytes() / 2**20, 1),
                }
            )
    return {
        "queries": len(x),
        "same_matches_fraction": round(agree, 5),
        "differing_queries": len(differ),
        "differences_within_cos_of_threshold": round(edge, 6),
        "max_top1_cos_gap": round(top1_gap, 5),
        "timings": timings,
    }


if __name__ == "__main__":
    main()

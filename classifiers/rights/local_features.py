"""A character or logo that is only PART of a scene: ORB keypoints, ratio test, RANSAC, geometry checks.

Whole-image hashes miss a reference pasted small into a new background; keypoints do not care.
Reference descriptors are computed once per image (at three scales, so a small appearance in the
frame still meets keypoints of the right size, and mirrored, since ORB is not mirror-invariant) and
cached in the :class:`ReferenceIndex`. A frame's descriptors are matched against all references at
once, so a descriptor shared by two characters (identical cartoon eyes) fails the ratio test instead
of voting for both. Candidates are verified with a RANSAC similarity (a pasted or animated character
rarely undergoes strong perspective, and a 4-DOF model has far fewer degenerate solutions than a
homography), refined by a homography whose projected outline must be convex, orientation-preserving
and of plausible size; inliers must also cover a fair part of the reference, not one detail.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import faiss
import numpy as np
import numpy.typing as npt

from classifiers.base import Box
from classifiers.image_ops import clip_box
from classifiers.rights.references import Arrays, Character, ReferenceIndex, rgb_and_mask

U8 = npt.NDArray[np.uint8]
F32 = npt.NDArray[np.float32]
METHOD = "orb/3"  # bump when the cached features change shape or meaning
REF_SIDE, REF_SCALES = 400, ((1.0, 600), (0.5, 300), (0.25, 150))  # (scale, keypoints)
UPSCALE = 2.0  # frames are <= 512 px: doubling gives small appearances keypoints of their own
THUMB = 64  # side of the thumbnail kept per reference for the appearance check
MIN_AGREEMENT, GOOD_AGREEMENT = 0.45, 0.6  # correlation (LocalFeatureMatcher._appearance); TPs seen >= 0.56
INLIER_MID, INLIER_SLOPE = 14.0, 3.0  # logistic on verified inliers (benchmarks/CHARACTER_DETECTION.md)
EXACT_MAX = 200_000  # reference descriptors (~100 images) searched exhaustively; an IVF index above
IVF_TRAIN_PER_LIST, IVF_NPROBE = 30, 16


@dataclass(frozen=True, slots=True)
class LocalMatch:
    """A reference found inside one frame, with where it is."""

    character_id: str
    image: int
    mirrored: bool
    score: float
    inliers: int
    coverage: float  # share of the reference's area spanned by the inliers
    agreement: float  # correlation of the whole placed reference with the frame (0..1)
    frame_index: int
    box: Box
    quad: tuple[tuple[float, float], ...]  # projected reference corners, normalised


def _orb(n_features: int) -> cv2.Feature2D:
    return cv2.ORB.create(nfeatures=n_features, scaleFactor=1.2, nlevels=8, edgeThreshold=15, patchSize=15)


def reference_features(char: Character) -> Arrays:
    """Keypoints (in a REF_SIDE-long reference frame) and descriptors of every image, plain and mirrored."""
    pts, descs, image, flip, sizes = [], [], [], [], []
    fill: list[float] = []
    thumbs, thumb_masks = [], []
    for n, img in enumerate(char.images):
        rgb, mask = rgb_and_mask(img)
        f0 = REF_SIDE / max(rgb.shape[:2])
        base = np.asarray(cv2.resize(rgb, None, fx=f0, fy=f0, interpolation=cv2.INTER_AREA), dtype=np.uint8)
        base_mask = (
            None
            if mask is None
            else np.asarray(cv2.resize(mask, (base.shape[1], base.shape[0])), dtype=np.uint8)
        )
        h, w = base.shape[:2]
        sizes.append((w, h))
        fill.append(1.0 if base_mask is None else max(0.05, float((base_mask > 127).mean())))
        thumb, thumb_mask = _thumbnail(base, base_mask)
        thumbs.append(thumb)
        thumb_masks.append(thumb_mask)
        for mirrored in (False, True):
            gray = cv2.cvtColor(base[:, ::-1] if mirrored else base, cv2.COLOR_RGB2GRAY)
            m = None if base_mask is None else (base_mask[:, ::-1] if mirrored else base_mask)
            for s, n_features in REF_SCALES:
                orb = _orb(n_features)
                g = cv2.resize(gray, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
                ms = (
                    None
                    if m is None
                    else cv2.dilate(cv2.resize(m, (g.shape[1], g.shape[0])), np.ones((7, 7)))
                )
                kps, d = orb.detectAndCompute(np.ascontiguousarray(g), ms)
                if d is None:
                    continue
                # In the (possibly mirrored) image's own coordinates: what a mirrored copy shows.
                xy = np.asarray([k.pt for k in kps], dtype=np.float32) / s
                pts.append(xy)
                descs.append(d)
                image += [n] * len(d)
                flip += [int(mirrored)] * len(d)
    if not descs:
        return {
            "pts": np.zeros((0, 2), np.float32),
            "desc": np.zeros((0, 32), np.uint8),
            "image": np.zeros(0, np.int64),
            "flip": np.zeros(0, np.int64),
            "sizes": np.asarray(sizes, np.float32).reshape(-1, 2),
            "fill": np.asarray(fill, np.float32),
            "thumbs": np.zeros((0, THUMB, THUMB, 3), np.uint8),
            "thumb_masks": np.zeros((0, THUMB, THUMB), np.uint8),
        }
    return {
        "pts": np.concatenate(pts),
        "desc": np.concatenate(descs),
        "image": np.asarray(image, dtype=np.int64),
        "flip": np.asarray(flip, dtype=np.int64),
        "sizes": np.asarray(sizes, dtype=np.float32).reshape(-1, 2),
        "fill": np.asarray(fill, dtype=np.float32),
        "thumbs": np.asarray(thumbs, dtype=np.uint8).reshape(-1, THUMB, THUMB, 3),
        "thumb_masks": np.asarray(thumb_masks, dtype=np.uint8).reshape(-1, THUMB, THUMB),
    }


class LocalFeatureMatcher:
    """Keypoint matching of frames against all reference images; :meth:`sync` after index updates."""

    def __init__(
        self,
        references: ReferenceIndex,
        *,
        n_features: int = 1000,
        ratio: float = 0.8,
        max_frames: int = 8,
        min_votes: int = 8,
        min_inliers: int = 8,
        min_coverage: float = 0.10,  # shared details (identical cartoon eyes) cover ~6-9 %
    ) -> None:
        self.references = references
        self.ratio, self.max_frames = ratio, max_frames
        self.min_votes, self.min_inliers, self.min_coverage = min_votes, min_inliers, min_coverage
        self.n_features = n_features
        self._orb = _orb(n_features)
        self._detector = _orb(3 * n_features)  # over-detect, then keep a spatially spread subset
        self._index: faiss.IndexBinary = faiss.IndexBinaryFlat(256)
        self._revision = -1
        self.sync()

    def sync(self) -> None:
        """Re-stack the cached descriptors of all characters (only changed ones are recomputed)."""
        if self._revision == self.references.revision:
            return
        pts, desc, group, flip = [], [], [], []
        self._groups: list[tuple[str, int]] = []
        self._sizes: list[tuple[float, float]] = []
        self._fill: list[float] = []
        self._thumbs: list[tuple[U8, U8]] = []
        for char in self.references:
            feats = self.references.features(METHOD, char.character_id, reference_features)
            base = len(self._groups)
            for n, (w, h) in enumerate(feats["sizes"]):
                self._groups.append((char.character_id, n))
                self._sizes.append((float(w), float(h)))
                self._fill.append(float(feats["fill"][n]))
                self._thumbs.append((feats["thumbs"][n], feats["thumb_masks"][n]))
            pts.append(feats["pts"])
            desc.append(feats["desc"])
            group.append(feats["image"] + base)
            flip.append(feats["flip"])
        self._pts = np.concatenate(pts) if pts else np.zeros((0, 2), np.float32)
        self._desc = np.concatenate(desc) if desc else np.zeros((0, 32), np.uint8)
        self._group = np.concatenate(group) if group else np.zeros(0, np.int64)
        self._flip = np.concatenate(flip) if flip else np.zeros(0, np.int64)
        self._index = descriptor_index(self._desc)
        self._revision = self.references.revision

    def match(self, frames: Sequence[U8]) -> list[LocalMatch]:
        """Best verified match per (character, frame), over up to ``max_frames`` evenly spaced frames."""
        if not len(self._desc) or not frames:
            return []
        picks = np.unique(
            np.linspace(0, len(frames) - 1, min(self.max_frames, len(frames))).round().astype(int)
        )
        out: list[LocalMatch] = []
        for i in picks.tolist():
            out.extend(self.match_frame(frames[i], i))
        return sorted(out, key=lambda m: -m.score)

    def match_frame(self, frame: U8, frame_index: int = 0) -> list[LocalMatch]:
        """Verified references in one RGB frame, best per character."""
        gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        up = UPSCALE if max(gray.shape) * UPSCALE <= 1024 else 1.0
        big = cv2.resize(gray, None, fx=up, fy=up, interpolation=cv2.INTER_LINEAR) if up != 1.0 else gray
        picked = _spread(self._detector.detect(big, None), big.shape[1], big.shape[0], self.n_features)
        kps, desc = self._orb.compute(big, picked)
        if desc is None or len(desc) < self.min_votes:
            return []
        frame_xy = np.asarray([k.pt for k in kps], dtype=np.float32) / up
        votes: dict[tuple[int, int], list[tuple[int, int]]] = defaultdict(list)
        dists, ids = self._index.search(np.ascontiguousarray(desc, dtype=np.uint8), 3)
        for q in range(len(desc)):
            row = [(int(d), int(i)) for d, i in zip(dists[q], ids[q], strict=True) if i >= 0]
            if not row:
                continue
            first_d, first = row[0]
            g = int(self._group[first])
            other = next((d for d, i in row[1:] if int(self._group[i]) != g), None)
            # Ratio against the nearest descriptor of ANOTHER reference: the same point at another
            # scale or mirrored is not a rival, a different character with the same detail is.
            if (other is None and first_d <= 40) or (other is not None and first_d < self.ratio * other):
                votes[(g, int(self._flip[first]))].append((q, first))
        best: dict[str, LocalMatch] = {}
        _h, _w = gray.shape
        ranked = sorted(votes.items(), key=lambda kv: -len(kv[1]))[:6]
        for (g, mirrored), pairs in ranked:
            if len(pairs) < self.min_votes:
                break
            found = self._verify(g, bool(mirrored), pairs, frame_xy, frame, frame_index)
            if found and (found.character_id not in best or best[found.character_id].score < found.score):
                best[found.character_id] = found
        return list(best.values())

    def _verify(
        self, g: int, mirrored: bool, pairs: list[tuple[int, int]], frame_xy: F32, frame: U8, fi: int
    ) -> LocalMatch | None:
        h, w = frame.shape[:2]
        src = self._pts[[t for _, t in pairs]]
        dst = frame_xy[[q for q, _ in pairs]]
        sim, mask = cv2.estimateAffinePartial2D(
            src, dst, method=cv2.RANSAC, ransacReprojThreshold=4.0, maxIters=2000, confidence=0.995
        )
        if sim is None:
            return None
        sel = mask.ravel().astype(bool)
        inliers = min(
            len({q for (q, _), k in zip(pairs, sel, strict=True) if k}),
            len({(round(float(x)), round(float(y))) for x, y in src[sel]}),
        )
        rw, rh = self._sizes[g]
        scale = math.sqrt(abs(float(np.linalg.det(sim[:, :2]))))
        side = max(rw, rh) * scale
        if inliers < self.min_inliers or not 0.06 * min(w, h) <= side <= 3.0 * max(w, h):
            return None
        hull = cv2.convexHull(src[sel].reshape(-1, 1, 2))
        coverage = min(
            1.0, float(cv2.contourArea(hull)) / (rw * rh * self._fill[g])
        )  # of the character's area
        if coverage < self.min_coverage:
            return None
        corners = np.asarray([[0, 0], [rw, 0], [rw, rh], [0, rh]], dtype=np.float32).reshape(-1, 1, 2)
        quad = cv2.transform(corners, sim).reshape(-1, 2)
        transform = np.vstack([sim, [0.0, 0.0, 1.0]])
        homography, _ = cv2.findHomography(src[sel], dst[sel], cv2.RANSAC, 4.0)
        if homography is not None:
            proj = cv2.perspectiveTransform(corners, homography).reshape(-1, 2)
            area, sim_area = abs(cv2.contourArea(proj)), abs(cv2.contourArea(quad))
            if (
                cv2.isContourConvex(proj.astype(np.float32).reshape(-1, 1, 2))
                and float(np.linalg.det(homography[:2, :2])) > 0
                and 0.5 <= area / max(sim_area, 1e-6) <= 2.0
            ):
                quad, transform = proj, homography
        norm = np.asarray(quad, dtype=np.float32) / np.asarray([w, h], dtype=np.float32)
        box = clip_box(
            float(norm[:, 0].min()), float(norm[:, 1].min()), float(norm[:, 0].max()), float(norm[:, 1].max())
        )
        agreement = self._appearance(g, mirrored, transform, frame)
        if agreement < MIN_AGREEMENT:
            return None
        score = (
            inlier_score(inliers) * min(1.0, math.sqrt(coverage / 0.2)) * min(1.0, agreement / GOOD_AGREEMENT)
        )
        cid, image = self._groups[g]
        corners_out = tuple((float(x), float(y)) for x, y in norm)
        return LocalMatch(cid, image, mirrored, score, inliers, coverage, agreement, fi, box, corners_out)

    def _appearance(self, g: int, mirrored: bool, transform: npt.NDArray[np.float64], frame: U8) -> float:
        """How well the WHOLE reference agrees with the frame where it was placed: normalised correlation
        of L, a and b over the reference's mask. Keypoints may all sit on a shared detail (the same hat);
        a different character then disagrees everywhere else, in colour or shape. Gain and offset per
        channel cancel out, so a colour-graded copy still agrees."""
        thumb, mask = self._thumbs[g]
        if mirrored:
            thumb, mask = _mirror_thumb(thumb, mask, self._sizes[g])
        k = THUMB / REF_SIDE
        to_frame = transform @ np.diag([1 / k, 1 / k, 1.0])
        seen = cv2.warpPerspective(
            frame, to_frame, (THUMB, THUMB), flags=cv2.INTER_AREA | cv2.WARP_INVERSE_MAP
        )
        inside = cv2.warpPerspective(
            np.full(frame.shape[:2], 255, np.uint8),
            to_frame,
            (THUMB, THUMB),
            flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP,
        )
        sel = (mask > 127) & (inside > 0)
        if sel.sum() < 50:
            return 0.0
        lab_ref = cv2.cvtColor(thumb, cv2.COLOR_RGB2LAB)[sel].astype(np.float64)
        lab_seen = cv2.cvtColor(seen, cv2.COLOR_RGB2LAB)[sel].astype(np.float64)
        lab_ref -= lab_ref.mean(axis=0)
        lab_seen -= lab_seen.mean(axis=0)
        var = (lab_ref * lab_ref).sum(axis=0)
        ncc = (lab_ref * lab_seen).sum(axis=0) / (np.sqrt(var * (lab_seen * lab_seen).sum(axis=0)) + 1e-9)
        # Channels weighted by how much the reference varies in them: a grey photo is judged on
        # lightness alone, a cartoon mostly on its colours (red where the reference is green disagrees).
        return max(0.0, float((ncc * var).sum() / (var.sum() + 1e-9)))


def descriptor_index(desc: U8, *, exact_max: int = EXACT_MAX, seed: int = 0) -> faiss.IndexBinary:
    """All reference descriptors in one Hamming index: exact (SIMD popcount) up to ``exact_max``,
    an inverted file above it, so per-frame cost grows with the probed lists, not the registry."""
    if len(desc) <= exact_max:
        index: faiss.IndexBinary = faiss.IndexBinaryFlat(256)
    else:
        nlist = int(min(65_536, math.sqrt(len(desc))))
        ivf = faiss.IndexBinaryIVF(faiss.IndexBinaryFlat(256), 256, nlist)
        rng = np.random.default_rng(seed)
        sample = desc[rng.choice(len(desc), min(len(desc), IVF_TRAIN_PER_LIST * nlist), replace=False)]
        ivf.train(np.ascontiguousarray(sample))
        ivf.nprobe = IVF_NPROBE
        index = ivf
    if len(desc):
        index.add(np.ascontiguousarray(desc, dtype=np.uint8))
    return index


def _spread(kps: Sequence[cv2.KeyPoint], w: int, h: int, n: int, cells: int = 4) -> list[cv2.KeyPoint]:
    """The ``n`` strongest keypoints with at most a fair share per grid cell, then the best of the rest.

    Burnt-in captions and busy textures have the strongest corners; without a cap they take all
    the keypoints and a character elsewhere in the frame gets none.
    """
    ranked = sorted(kps, key=lambda k: -k.response)
    cap = max(1, n // (cells * cells))
    counts: dict[tuple[int, int], int] = defaultdict(int)
    chosen, rest = [], []
    for k in ranked:
        cell = (min(cells - 1, int(k.pt[0] * cells / w)), min(cells - 1, int(k.pt[1] * cells / h)))
        if counts[cell] < cap:
            counts[cell] += 1
            chosen.append(k)
        else:
            rest.append(k)
    return (chosen + rest)[:n]


def _thumbnail(base: U8, mask: U8 | None) -> tuple[U8, U8]:
    """The reference at THUMB / REF_SIDE scale, top-left in a THUMB x THUMB canvas, and its mask."""
    k = THUMB / REF_SIDE
    h, w = base.shape[:2]
    tw, th = max(1, round(w * k)), max(1, round(h * k))
    thumb = np.zeros((THUMB, THUMB, 3), np.uint8)
    thumb_mask = np.zeros((THUMB, THUMB), np.uint8)
    thumb[:th, :tw] = cv2.resize(base, (tw, th), interpolation=cv2.INTER_AREA)
    m = np.full((h, w), 255, np.uint8) if mask is None else mask
    thumb_mask[:th, :tw] = cv2.resize(m, (tw, th), interpolation=cv2.INTER_AREA)
    return thumb, thumb_mask


def _mirror_thumb(thumb: U8, mask: U8, size: tuple[float, float]) -> tuple[U8, U8]:
    tw = max(1, round(size[0] * THUMB / REF_SIDE))
    t, m = thumb.copy(), mask.copy()
    t[:, :tw], m[:, :tw] = thumb[:, :tw][:, ::-1], mask[:, :tw][:, ::-1]
    return t, m


def inlier_score(inliers: int) -> float:
    """Verified inliers -> 0..1: ~8 is chance level, 14 is the midpoint, 25+ is near-certain."""
    return 1.0 / (1.0 + math.exp(-(inliers - INLIER_MID) / INLIER_SLOPE))

"""Invisible watermark, scheme 3: scheme 2's tiled spread-spectrum pattern carried by chroma.

Why (measurements: benchmarks/WATERMARK.md):

* A still additive mark over moving content is re-coded in every P-frame. In luma (scheme 2) that
  cost +22 % median / +68 % worst in size, and lowering its strength did not buy it back (0.9
  levels still cost +28 % on a pan): the rounded pattern turns into sparse +-1 steps that x264
  still codes. What limits detection is the content left in the detector's high-pass residual,
  and natural video has far less fine detail in chroma than in luma (residual RMS on the eval
  clips: luma 0.6-19 levels, chroma 0.0-0.7; a still grass texture that hid scheme 2 completely
  has none). The same tile in U (+) and V (-) reaches a detection margin that luma needs several
  times the energy for, at a third of scheme 2's size cost, and a chroma offset of a level or two
  at this scale is far less visible than a luma one (the eye resolves colour much more coarsely).
* Cells are 1/30 of the short side (12 chroma pixels at 720p, 4 after a downscale to 240p): chroma
  is stored at half resolution, and lower frequencies are cheaper under motion.
* Luma is left untouched: a luma copy at a strength the bitrate goal allows rounds mostly to 0
  and added nothing measurable to detection. Hence a video converted to grey loses the mark.
* Everything else is scheme 2: 32x32-cell tile, pilot, keyed CRC-24 + K=7 code with soft Viterbi,
  geometry search over flips, rotation and scale, one ``grainmerge`` frame inside the final ffmpeg.
  Its own layout domain (``v3:``) keeps schemes 2 and 1 readable as fallbacks, never confusable.
"""

from __future__ import annotations

import cv2
import numpy as np

from safety.provenance import watermark2 as wm2
from safety.provenance.watermark import DEFAULT_KEY, U8, Detection, effective_strength

__all__ = ["ALGORITHM", "V3", "Embedder", "detect", "residual"]

V3 = wm2.Scheme("org.feedguard.watermark.ss-chroma.3", 30, 0.5, b"v3:")
ALGORITHM = V3.algorithm

F32 = wm2.F32
Planes = tuple[F32, F32, F32]


class Embedder(wm2.Embedder):
    """Scheme 3's mark: U += offset, V -= offset (99th percentile of |offset| = ``strength`` at
    720p, boosted below it like scheme 1); Y unchanged."""

    scheme = V3
    algorithm = ALGORITHM

    def __init__(
        self, watermark_id: str, width: int, height: int, strength: float, key: bytes = DEFAULT_KEY
    ) -> None:
        peak = effective_strength(strength, width, height)
        full = wm2.pattern(watermark_id, width, height, peak, key, V3)
        half = cv2.resize(full, (width // 2, height // 2), interpolation=cv2.INTER_AREA)
        self.chroma = np.clip(np.rint(half), -127, 127).astype(np.int16)
        self.plus: U8 = np.zeros((height, width), dtype=np.uint8)  # luma: nothing added
        self.minus: U8 = self.plus
        self.watermark_id = watermark_id

    def apply(self, luma: U8) -> None:
        raise NotImplementedError("scheme 3 marks chroma: it is added by ffmpeg (grain_frame) only")

    def grain_frame(self) -> bytes:
        """Y = 128 (no change), U = 128 + offset, V = 128 - offset, for ``blend=grainmerge``."""
        h, w = self.plus.shape
        y = np.full(w * h, 128, dtype=np.uint8)
        u = (128 + self.chroma).astype(np.uint8)
        v = (128 - self.chroma).astype(np.uint8)
        return y.tobytes() + u.tobytes() + v.tobytes()


def residual(planes: Planes) -> F32:
    """Scheme 2's weighted high-pass residual of U minus that of V, on one sample grid."""
    ru = wm2._residual(planes[1].astype(np.float32), V3)
    rv = wm2._residual(planes[2].astype(np.float32), V3)
    if rv.shape != ru.shape:  # rounding of odd sizes; same grid otherwise
        rv = np.asarray(
            cv2.resize(rv, (ru.shape[1], ru.shape[0]), interpolation=cv2.INTER_NEAREST), np.float32
        )
    out: F32 = (ru - rv).astype(np.float32)
    return out


def detect(
    planes: Planes, frames: int = 1, key: bytes = DEFAULT_KEY, candidates: int = wm2.CANDIDATES
) -> Detection:
    """Find and decode scheme 3's mark in the mean Y, U, V planes (any size, flip, rotation, crop)."""
    return wm2.decode_residual(residual(planes), frames, key, candidates, V3)

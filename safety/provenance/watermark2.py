"""Invisible watermark, scheme 2: a coarse tiled spread-spectrum luma pattern found under flips,
rotation, crops, scaling and heavy compression.

Why this design (measurements: benchmarks/WATERMARK.md):

* Same payload coding as scheme 1 (64-bit id + keyed CRC-24, K=7 convolutional code, soft
  Viterbi), so a CRC mismatch still means "no watermark", never a wrong id.
* Cells are 1/45 of the short side, twice as large as scheme 1's, smooth (cubic)
  and only mildly high-passed (0.5 vs 0.7): lower spatial frequencies survive a downscale
  to 240 px and heavy re-encodes better and cost the encoder less where content moves under the
  still mark (measured: median +22 % size vs scheme 1's +33 % on the same clips, still above the
  +10 % goal; CRF 40 on static or smooth content is still lost half the time).
* The pattern is still constant over the video (one ``grainmerge`` frame inside the final ffmpeg,
  or :meth:`Embedder.apply` per Y plane), so trims, frame-rate and speed changes cost nothing.
* The detector removes the content (5x5 median on a grid of ``BASE_SPC`` samples per cell), keeps
  the sign, and for every candidate scale and rotation resamples once and folds the frame onto one
  tile. The pilot is correlated with the tile in the four mirror orientations (identity, h-flip,
  v-flip, both = 180 degrees), so flips cost four small FFTs. The best candidates are decoded.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from safety.provenance.watermark import (
    CODED_BITS,
    DEFAULT_KEY,
    Detection,
    _Layout,
    decode_bits,
    encode_bits,
    shape_cells,
)
from safety.provenance.watermark import Embedder as _V1Embedder
from safety.provenance.watermark import _layout as _v1_layout
from safety.provenance.watermark import tile_values as _v1_tile_values

__all__ = ["ALGORITHM", "V2", "Embedder", "Scheme", "detect", "pattern"]


@dataclass(frozen=True)
class Scheme:
    """What differs between published versions of this mark: cell size, shaping, layout domain.
    A new version gets a new domain (its pilot is then noise to the others' detectors)."""

    algorithm: str
    cells_per_side: int  # cells along the frame's short side
    shape: float  # high-pass shaping of the cell grid (see watermark.shape_cells)
    domain: bytes  # separates the versions' layouts drawn from the same key


V2 = Scheme("org.feedguard.watermark.ss-luma.2", 45, 0.5, b"v2:")
ALGORITHM = V2.algorithm
TILE = 32  # cells per tile side
MEDIAN = 5  # content predictor: median over MEDIAN x MEDIAN residual samples
WEIGHT_WINDOW = 7  # residual samples over which the local texture RMS is measured
FLOOR = 0.3  # luma levels added to that RMS (a flat, mark-less area must not weigh without bound)
SPC = 3  # detector samples per cell
BASE_SPC = 4.0  # samples per cell of the residual before resampling (>= SPC / smallest scale)
# Visible fraction of the original short side (crop < 1 < padding), geometric 1.2 % steps.
SCALES = tuple(float(x) for x in np.round(np.exp(np.arange(np.log(0.62), np.log(1.2), 0.012)), 4))
ANGLES = tuple(float(a) for a in np.arange(-6.0, 6.01, 0.5))
FLIPS = ((False, False), (True, False), (False, True), (True, True))  # (horizontal, vertical)
REFINE = 12  # coarse candidates whose neighbourhood is searched at full resolution
CANDIDATES = 16  # best-ranked geometries that go to the Viterbi decoder

F32 = npt.NDArray[np.float32]


def _layout(key: bytes, scheme: Scheme = V2) -> _Layout:
    return _v1_layout(key, scheme.domain)


def tile_values(watermark_id: str, key: bytes = DEFAULT_KEY, scheme: Scheme = V2) -> F32:
    return _v1_tile_values(watermark_id, key, scheme.domain)


def pattern(
    watermark_id: str,
    width: int,
    height: int,
    strength: float,
    key: bytes = DEFAULT_KEY,
    scheme: Scheme = V2,
) -> F32:
    """The luma offset for a ``width`` x ``height`` frame, 99th percentile of |offset| = ``strength``."""
    cells = shape_cells(tile_values(watermark_id, key, scheme), scheme.shape)
    cell_px = min(width, height) / scheme.cells_per_side
    rows = int(np.ceil(height / cell_px)) + 2
    cols = int(np.ceil(width / cell_px)) + 2
    grid = np.tile(cells, (rows // TILE + 1, cols // TILE + 1))[:rows, :cols]
    up = cv2.resize(grid, (round(cols * cell_px), round(rows * cell_px)), interpolation=cv2.INTER_CUBIC)
    out = up[:height, :width]
    return (out * (strength / float(np.percentile(np.abs(out), 99)))).astype(np.float32)


class Embedder(_V1Embedder):
    """One video's mark: scheme 1's embedder (``apply``, ``grain_frame``) with scheme 2's pattern."""

    scheme = V2
    algorithm = V2.algorithm

    @classmethod
    def pattern(cls, watermark_id: str, width: int, height: int, strength: float, key: bytes) -> F32:
        return pattern(watermark_id, width, height, strength, key, cls.scheme)


# ----------------------------------------------------------------------------- detection


def _residual(mean: F32, scheme: Scheme = V2) -> F32:
    """Sign of (content - 5x5 median) on a grid of ``BASE_SPC`` samples per nominal cell, weighted
    by 1 / (local residual RMS + ``FLOOR``): a sign in strong texture is nearly a coin toss, one in
    a smooth area mostly the mark's. Measured on 20 hard attacked copies (CRF 30/40 + crop +
    brightness, CRF 40, 240p): 11 read vs 9 with the plain sign."""
    h, w = mean.shape
    f = scheme.cells_per_side * BASE_SPC / min(h, w)
    size = (max(8, round(w * f)), max(8, round(h * f)))
    small = cv2.resize(mean, size, interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_CUBIC)
    r = small - cv2.medianBlur(small, MEDIAN)
    out: F32 = (np.sign(r) / (local_rms(r) + FLOOR)).astype(np.float32)
    return out


def local_rms(r: F32) -> F32:
    """RMS over ``WEIGHT_WINDOW`` squares. The box filter keeps running sums, which can leave a
    -1e-17 where the residual is exactly zero after large values (an HEVC copy did): clamped,
    or its square root is NaN and the whole correlation with it."""
    out: F32 = np.sqrt(np.maximum(cv2.blur(r * r, (WEIGHT_WINDOW, WEIGHT_WINDOW)), 0.0)).astype(np.float32)
    return out


def _warp(res: F32, scale: float, angle: float) -> F32:
    """Resample so one cell is ``SPC`` samples and undo a rotation of ``angle`` degrees."""
    h, w = res.shape
    z = scale * SPC / BASE_SPC
    ow, oh = max(8, round(w * z)), max(8, round(h * z))
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, z)
    m[0, 2] += ow / 2 - w / 2
    m[1, 2] += oh / 2 - h / 2
    warped: F32 = np.asarray(
        cv2.warpAffine(res, m, (ow, oh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT), np.float32
    )
    return warped


def _fold(img: F32) -> F32:
    n = TILE * SPC
    h, w = img.shape
    padded = np.zeros((-(-h // n) * n, -(-w // n) * n), dtype=np.float32)
    padded[:h, :w] = img
    folded: F32 = padded.reshape(padded.shape[0] // n, n, padded.shape[1] // n, n).sum(axis=(0, 2))
    folded -= folded.mean(axis=0, keepdims=True)
    folded -= folded.mean(axis=1, keepdims=True)
    return folded


@functools.cache
def _pilot_spectra(key: bytes, scheme: Scheme) -> npt.NDArray[np.complex64]:
    """conj(rfft2) of the pilot at ``SPC`` samples per cell, in each of the four orientations."""
    up = np.kron(_layout(key, scheme).pilot, np.ones((SPC, SPC), dtype=np.float32))
    return np.stack([np.conj(np.fft.rfft2(_oriented(up, f))) for f in FLIPS]).astype(np.complex64)


def _oriented(folded: F32, flip: tuple[bool, bool]) -> F32:
    out = folded
    if flip[0]:
        out = out[:, ::-1]
    if flip[1]:
        out = out[::-1, :]
    return np.ascontiguousarray(out)


@dataclass(frozen=True)
class _Candidate:
    z: float
    scale: float
    angle: float
    flip: int
    dy: int
    dx: int


def _score(res: F32, scale: float, angle: float, key: bytes, scheme: Scheme) -> list[_Candidate]:
    """Pilot correlation of one geometry in the four orientations: peak z-score and shift each."""
    folded = _fold(_warp(res, scale, angle))
    n = folded.shape[0]
    corr = np.fft.irfft2(np.fft.rfft2(folded)[None] * _pilot_spectra(key, scheme), s=(n, n)).reshape(
        len(FLIPS), -1
    )
    idx = np.argmax(corr, axis=1)
    peak = corr[np.arange(len(FLIPS)), idx]
    z = (peak - corr.mean(axis=1)) / (corr.std(axis=1) + 1e-9)
    return [_Candidate(float(z[f]), scale, angle, f, *divmod(int(idx[f]), n)) for f in range(len(FLIPS))]


def _search(res: F32, key: bytes, scheme: Scheme) -> list[_Candidate]:
    """Coarse grid over scale x angle (every other step), then the full grid around the best."""
    coarse: list[_Candidate] = []
    for scale in SCALES[::2]:
        for angle in ANGLES[::2]:
            coarse += _score(res, scale, angle, key, scheme)
    coarse.sort(key=lambda c: c.z, reverse=True)
    seen: set[tuple[float, float]] = set()
    found = list(coarse)
    for c in coarse[:REFINE]:
        si, ai = SCALES.index(c.scale), ANGLES.index(c.angle)
        for s in SCALES[max(0, si - 1) : si + 2]:
            for a in ANGLES[max(0, ai - 1) : ai + 2]:
                if (s, a) not in seen and (s != c.scale or a != c.angle):
                    seen.add((s, a))
                    found += _score(res, s, a, key, scheme)
    found.sort(key=lambda c: c.z, reverse=True)
    return found


def soft_bits(res: F32, cand: _Candidate, key: bytes, scheme: Scheme = V2) -> F32:
    """De-spread the tile at the candidate's geometry into one soft value per coded bit."""
    folded = _fold(_warp(res, cand.scale, cand.angle))
    aligned = _oriented(np.roll(folded, (-cand.dy, -cand.dx), axis=(0, 1)), FLIPS[cand.flip])
    cells = aligned.reshape(TILE, SPC, TILE, SPC).mean(axis=(1, 3))
    lay = _layout(key, scheme)
    mask = lay.bit_of_cell >= 0
    soft = np.bincount(lay.bit_of_cell[mask], weights=(cells * lay.chip)[mask], minlength=CODED_BITS)
    return (soft / (float(np.std(soft)) + 1e-9)).astype(np.float32)


def detect(
    mean_luma: F32,
    frames: int = 1,
    key: bytes = DEFAULT_KEY,
    candidates: int = CANDIDATES,
    scheme: Scheme = V2,
) -> Detection:
    """Find and decode the mark in an averaged luma image (any size, flip, small rotation, crop)."""
    return decode_residual(_residual(mean_luma.astype(np.float32), scheme), frames, key, candidates, scheme)


def decode_residual(res: F32, frames: int, key: bytes, candidates: int, scheme: Scheme) -> Detection:
    """Search the geometry on a weighted residual, then Viterbi-decode the best candidates."""
    ranked = _search(res, key, scheme)
    for cand in ranked[:candidates]:
        soft = soft_bits(res, cand, key, scheme)
        wm_id = decode_bits(soft, key)
        if wm_id is not None:
            agreement = float(np.mean((soft > 0) == (encode_bits(wm_id, key) > 0)))
            confidence = max(0.0, min(1.0, (2 * agreement - 1) * min(1.0, cand.z / 10.0)))
            return Detection(
                wm_id, round(confidence, 3), round(cand.z, 2), round(agreement, 4), cand.scale, frames
            )
    return Detection(None, 0.0, round(ranked[0].z, 2), 0.0, None, frames)

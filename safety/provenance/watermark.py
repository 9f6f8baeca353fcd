"""Invisible watermark: a tiled spread-spectrum pattern added to luma, constant over the video.

Why this design (see benchmarks/PROVENANCE.md for the measurements behind it):

* The 64-bit watermark id plus a CRC-24 is convolutionally coded (188 bits); each coded bit is
  spread over ~4 cells of a 32x32-cell tile with pseudo-random +/-1 chips, and a quarter of the
  cells carry a known pilot. The tile repeats over the frame; a cell is 1/90 of the frame's short
  side, so a uniform resize leaves the geometry unchanged and a crop becomes a cyclic shift plus a
  small scale change. Cells are cubic-interpolated (mid/low frequencies survive H.264 and scaling).
* The pattern is computed once per video and added to every frame's Y plane with two saturating
  uint8 operations (chroma untouched): well under 1 ms per 720p frame.
* The detector averages luma over frames (content moves, the mark does not), subtracts a median
  prediction of the content, and for each candidate scale folds the residual onto one tile. An FFT
  cross-correlation with the pilot finds the shift; chips are de-spread into soft bits and a
  Viterbi decoder recovers the id. A CRC mismatch means "no watermark", never a wrong id.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import zlib
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

__all__ = [
    "ALGORITHM",
    "Detection",
    "Embedder",
    "LumaAccumulator",
    "detect",
    "watermark_id_for",
]

ALGORITHM = "org.feedguard.watermark.ss-luma.1"
"""Name used in the manifest's ``c2pa.soft-binding`` assertion."""

CELLS_PER_SIDE = 90  # cells along the frame's short side
TILE = 32  # cells per tile side
SAMPLES_PER_CELL = 3  # detector resolution
DEFAULT_KEY = b"feedguard-watermark-v1"  # public: set ProvenanceConfig.watermark_key in production
# Fractions of the original short side still visible (crop < 1 < padding) tried by the detector.
SCALES = (*(round(0.8 + 0.01 * i, 2) for i in range(21)), 1.03, 1.06, 1.1)
MIN_SYNC_Z = 5.0  # pilot peak (std units) before bits are decoded; unmarked clips peak at 4-5

F32 = npt.NDArray[np.float32]
U8 = npt.NDArray[np.uint8]


def watermark_id_for(decision_id: str, key: bytes = DEFAULT_KEY) -> str:
    """A deterministic 64-bit id (16 hex digits) per decision, so a retried publish is identical.

    HMAC-SHA256 keyed with the configured watermark secret: without it nobody can compute the id
    of a decision (or of a video whose decision id leaks) and look its record up or forge a mark.
    """
    return hmac.new(key, b"watermark-id:" + decision_id.encode(), hashlib.sha256).hexdigest()[:16]


# ----------------------------------------------------------------------------- payload coding
# 64-bit id + CRC-24, convolutionally coded (K=7, rate 1/2, generators 171/133 octal, the NASA
# code) and decoded with soft-decision Viterbi. Soft decoding matters: spread-spectrum errors are
# scattered single bits, which a byte-oriented Reed-Solomon code handles poorly.

_G = (0o171, 0o133)
_K = 7
_STATES = 1 << (_K - 1)


def _crc(payload: bytes, key: bytes) -> bytes:
    return (zlib.crc32(key + payload) & 0xFFFFFF).to_bytes(3, "big")


@functools.cache
def _trellis() -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    """For each next state: its two predecessor states and the +/-1 outputs on those branches."""
    pred = np.zeros((_STATES, 2), dtype=np.int64)
    out = np.zeros((_STATES, 2, 2), dtype=np.float32)
    for ns in range(_STATES):
        u = ns >> (_K - 2)
        for b in (0, 1):
            s = ((ns << 1) & (_STATES - 1)) | b
            reg = (u << (_K - 1)) | s
            pred[ns, b] = s
            out[ns, b] = [2 * (bin(reg & g).count("1") & 1) - 1 for g in _G]
    return pred, out


def _conv_encode(bits: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    state, out = 0, []
    for u in [*bits.tolist(), *([0] * (_K - 1))]:
        reg = (u << (_K - 1)) | state
        out += [bin(reg & g).count("1") & 1 for g in _G]
        state = reg >> 1
    return np.array(out, dtype=np.uint8)


def _viterbi(soft: F32) -> npt.NDArray[np.uint8]:
    pred, out = _trellis()
    steps = soft.size // 2
    metric = np.full(_STATES, -np.inf, dtype=np.float64)
    metric[0] = 0.0
    choice = np.zeros((steps, _STATES), dtype=np.int8)
    for t in range(steps):
        cand = metric[pred] + out[:, :, 0] * soft[2 * t] + out[:, :, 1] * soft[2 * t + 1]
        choice[t] = np.argmax(cand, axis=1)
        metric = cand[np.arange(_STATES), choice[t]]
    bits = np.zeros(steps, dtype=np.uint8)
    ns = 0  # the tail drives the encoder back to state 0
    for t in range(steps - 1, -1, -1):
        bits[t] = ns >> (_K - 2)
        ns = int(pred[ns, choice[t, ns]])
    return bits[: steps - (_K - 1)]


PAYLOAD_BITS = (8 + 3) * 8
CODED_BITS = 2 * (PAYLOAD_BITS + _K - 1)


def encode_bits(watermark_id: str, key: bytes = DEFAULT_KEY) -> npt.NDArray[np.int8]:
    """Id -> coded bits as +/-1."""
    raw = bytes.fromhex(watermark_id)
    if len(raw) != 8:
        raise ValueError("watermark id must be 16 hex digits")
    bits = np.unpackbits(np.frombuffer(raw + _crc(raw, key), dtype=np.uint8))
    return (_conv_encode(bits).astype(np.int8) * 2 - 1).astype(np.int8)


def decode_bits(soft: F32, key: bytes = DEFAULT_KEY) -> str | None:
    """Soft coded bits (positive = 1) -> id, or None when the CRC does not check out."""
    data = np.packbits(_viterbi(soft)).tobytes()
    payload, crc = data[:8], data[8:11]
    return payload.hex() if crc == _crc(payload, key) else None


# ----------------------------------------------------------------------------- tile layout


@dataclass(frozen=True)
class _Layout:
    pilot: F32  # TILE x TILE, +/-1 on pilot cells, 0 elsewhere
    bit_of_cell: npt.NDArray[np.int32]  # -1 on pilot cells
    chip: F32  # +/-1 chip sign per cell


@functools.cache
def _layout(key: bytes = DEFAULT_KEY, domain: bytes = b"") -> _Layout:
    """Which cells are pilot, which bit each data cell carries, and the chips: all from the key
    (``domain`` separates schemes: scheme 2 draws its own layout from the same key)."""
    rng = np.random.default_rng(int.from_bytes(hashlib.sha256(domain + key).digest()[:8], "big"))
    n = TILE * TILE
    order = rng.permutation(n)
    n_pilot = n // 4
    bit_of_cell = np.full(n, -1, dtype=np.int32)
    data_cells = order[n_pilot:]
    bit_of_cell[data_cells] = np.arange(data_cells.size, dtype=np.int32) % CODED_BITS
    chip = rng.choice(np.array([-1.0, 1.0], dtype=np.float32), size=n)
    pilot = np.zeros(n, dtype=np.float32)
    pilot[order[:n_pilot]] = chip[order[:n_pilot]]
    return _Layout(pilot.reshape(TILE, TILE), bit_of_cell.reshape(TILE, TILE), chip.reshape(TILE, TILE))


def tile_values(watermark_id: str, key: bytes = DEFAULT_KEY, domain: bytes = b"") -> F32:
    """One tile of cell values in {-1, +1}: pilot chips plus data chips times their bit."""
    lay = _layout(key, domain)
    bits = encode_bits(watermark_id, key).astype(np.float32)
    data = np.where(lay.bit_of_cell >= 0, lay.chip * bits[np.maximum(lay.bit_of_cell, 0)], 0.0)
    return (lay.pilot + data).astype(np.float32)


def shape_cells(cells: F32, factor: float = 0.7) -> F32:
    """Remove ``factor`` x each cell's 3x3 (cyclic) neighbourhood mean: less low-frequency energy,
    less visible (and content hides the mark from the detector there anyway)."""
    local = sum(np.roll(np.roll(cells, dy, 0), dx, 1) for dy in (-1, 0, 1) for dx in (-1, 0, 1)) / 9.0
    return (cells - factor * local).astype(np.float32)


def pattern(watermark_id: str, width: int, height: int, strength: float, key: bytes = DEFAULT_KEY) -> F32:
    """The luma offset for a ``width`` x ``height`` frame (float; peak about ``strength``)."""
    cells = shape_cells(tile_values(watermark_id, key))
    cell_px = min(width, height) / CELLS_PER_SIDE
    rows = int(np.ceil(height / cell_px)) + 2
    cols = int(np.ceil(width / cell_px)) + 2
    grid = np.tile(cells, (rows // TILE + 1, cols // TILE + 1))[:rows, :cols]
    up = cv2.resize(grid, (round(cols * cell_px), round(rows * cell_px)), interpolation=cv2.INTER_CUBIC)
    out = up[:height, :width]
    return (out * (strength / float(np.percentile(np.abs(out), 99)))).astype(np.float32)


def effective_strength(strength: float, width: int, height: int) -> float:
    """``strength`` is for 720p; smaller frames get up to 1.5x (measured, benchmarks/PROVENANCE.md).

    A cell spans fewer pixels on a small frame, so each carries less evidence, while the encoder's
    own divergence (which caps PSNR) is smaller there: 360p needed 3.0 to survive CRF 32 on the
    fractal clip and still measured 40.7 dB; 720p survives at 2.0, where 3.0 would cost 39.5 dB.
    """
    boost: float = (720 / min(width, height)) ** 0.6
    return strength * min(1.5, max(1.0, boost))


class Embedder:
    """Adds one video's pattern to Y planes in place: ``cv2.add`` then ``cv2.subtract``, saturating."""

    def __init__(
        self, watermark_id: str, width: int, height: int, strength: float, key: bytes = DEFAULT_KEY
    ) -> None:
        peak = effective_strength(strength, width, height)
        offset = np.rint(self.pattern(watermark_id, width, height, peak, key))
        self.plus: U8 = np.clip(offset, 0, 255).astype(np.uint8)
        self.minus: U8 = np.clip(-offset, 0, 255).astype(np.uint8)
        self.watermark_id = watermark_id

    @staticmethod
    def pattern(watermark_id: str, width: int, height: int, strength: float, key: bytes) -> F32:
        """The scheme's signed luma offsets; a later scheme's embedder overrides only this."""
        return pattern(watermark_id, width, height, strength, key)

    def apply(self, luma: U8) -> None:
        cv2.add(luma, self.plus, dst=luma)
        cv2.subtract(luma, self.minus, dst=luma)

    def grain_frame(self) -> bytes:
        """The mark as one raw yuv420p frame for ffmpeg's ``blend=all_mode=grainmerge``.

        grainmerge computes ``clip(A + B - 128)`` per plane, so ``Y = 128 + offset`` and
        ``U = V = 128`` give exactly :meth:`apply` (add then subtract, saturating; only one of
        ``plus``/``minus`` is non-zero per pixel) with chroma untouched, bit for bit, inside the
        encoding ffmpeg: no raw frames cross a pipe into Python and back.
        """
        if not self.grain_exact:
            raise ValueError("offsets beyond +-127 cannot be expressed as one grainmerge frame")
        h, w = self.plus.shape
        frame = np.full(w * h * 3 // 2, 128, dtype=np.uint8)
        frame[: w * h] = (128 + self.plus.astype(np.int16) - self.minus.astype(np.int16)).reshape(-1)
        return frame.tobytes()

    @property
    def grain_exact(self) -> bool:
        """Whether :meth:`grain_frame` reproduces :meth:`apply` (always, at any allowed strength)."""
        return int(self.plus.max(initial=0)) <= 127 and int(self.minus.max(initial=0)) <= 127


# ----------------------------------------------------------------------------- detection


class LumaAccumulator:
    """Running sum of Y planes; the mean is what the detector reads."""

    def __init__(self) -> None:
        self.total: npt.NDArray[np.float64] | None = None
        self.count = 0

    def add(self, luma: U8) -> None:
        if self.total is None:
            self.total = np.zeros(luma.shape, dtype=np.float64)
        self.total += luma
        self.count += 1

    def mean(self) -> F32:
        if self.total is None:
            raise ValueError("no frames")
        return (self.total / self.count).astype(np.float32)


@dataclass(frozen=True)
class Detection:
    """``watermark_id`` is set only when the CRC checked out; ``confidence`` is 0..1."""

    watermark_id: str | None
    confidence: float
    sync_z: float
    bit_agreement: float
    scale: float | None
    frames: int

    @property
    def found(self) -> bool:
        return self.watermark_id is not None


@functools.cache
def _pilot_template(key: bytes = DEFAULT_KEY) -> npt.NDArray[np.complex64]:
    m = SAMPLES_PER_CELL
    up = np.kron(_layout(key).pilot, np.ones((m, m), dtype=np.float32))
    return np.conj(np.fft.fft2(up)).astype(np.complex64)


def _prepare(mean: F32, scale: float) -> F32:
    """Resample so one cell is ``SAMPLES_PER_CELL`` samples, then keep the sign of the residual.

    A 5x5 median predicts the content (edges included) far better than a Gaussian low-pass, and
    the sign of what is left weighs every sample alike, so strong textures cannot swamp the fold.
    Measured on re-encoded clips this beat Gaussian high-pass + local whitening (lowest bit
    agreement 0.95 vs 0.90 on synthetic clips, 0.99 vs 0.88 on natural ones).
    """
    h, w = mean.shape
    factor = CELLS_PER_SIDE * scale * SAMPLES_PER_CELL / min(h, w)
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    small = cv2.resize(mean, size, interpolation=cv2.INTER_AREA if factor < 1 else cv2.INTER_CUBIC)
    residual: F32 = np.sign(small - cv2.medianBlur(small, 5)).astype(np.float32)
    return residual


def _fold(img: F32) -> F32:
    n = TILE * SAMPLES_PER_CELL
    h, w = img.shape
    padded = np.zeros((-(-h // n) * n, -(-w // n) * n), dtype=np.float32)
    padded[:h, :w] = img
    folded: F32 = padded.reshape(padded.shape[0] // n, n, padded.shape[1] // n, n).sum(axis=(0, 2))
    # Straight horizontal/vertical content edges fold into whole rows/columns; the mark has none.
    folded -= folded.mean(axis=0, keepdims=True)
    folded -= folded.mean(axis=1, keepdims=True)
    return folded


def _sync(folded: F32, key: bytes = DEFAULT_KEY) -> tuple[float, int, int]:
    corr = np.fft.ifft2(np.fft.fft2(folded) * _pilot_template(key)).real
    idx = int(np.argmax(corr))
    dy, dx = divmod(idx, corr.shape[1])
    z = (float(corr.flat[idx]) - float(corr.mean())) / (float(corr.std()) + 1e-9)
    return z, dy, dx


def _soft_bits(folded: F32, dy: int, dx: int, key: bytes = DEFAULT_KEY) -> F32:
    m = SAMPLES_PER_CELL
    aligned = np.roll(folded, (-dy, -dx), axis=(0, 1))
    cells = aligned.reshape(TILE, m, TILE, m).mean(axis=(1, 3))
    lay = _layout(key)
    mask = lay.bit_of_cell >= 0
    soft = np.bincount(lay.bit_of_cell[mask], weights=(cells * lay.chip)[mask], minlength=CODED_BITS)
    norm = float(np.std(soft)) + 1e-9
    return (soft / norm).astype(np.float32)


def detect(mean_luma: F32, frames: int = 1, max_candidates: int = 4, key: bytes = DEFAULT_KEY) -> Detection:
    """Find and decode the mark in an averaged luma image (any resolution, crop or scale).

    ``key`` must be the one used to embed: without it the pilot and chips are noise, which is
    what keeps others from reading, forging or precisely removing the mark.
    """
    ranked: list[tuple[float, float, F32, int, int]] = []
    for scale in SCALES:
        folded = _fold(_prepare(mean_luma, scale))
        z, dy, dx = _sync(folded, key)
        ranked.append((z, scale, folded, dy, dx))
    ranked.sort(key=lambda r: r[0], reverse=True)
    best_z = ranked[0][0]
    for z, scale, folded, dy, dx in ranked[:max_candidates]:
        if z < MIN_SYNC_Z:
            break
        soft = _soft_bits(folded, dy, dx, key)
        wm_id = decode_bits(soft, key)
        if wm_id is not None:
            agreement = float(np.mean((soft > 0) == (encode_bits(wm_id, key) > 0)))
            confidence = max(0.0, min(1.0, (2 * agreement - 1) * min(1.0, z / 10.0)))
            return Detection(wm_id, round(confidence, 3), round(z, 2), round(agreement, 4), scale, frames)
    return Detection(None, 0.0, round(best_z, 2), 0.0, None, frames)

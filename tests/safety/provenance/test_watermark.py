"""The watermark's parts in memory: payload coding, embedding arithmetic, geometry search."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from safety.provenance import watermark as wm
from safety.provenance.config import ProvenanceConfig

STRENGTH = 2.0  # scheme 1 strength (ProvenanceConfig now sets scheme 2's)
WID = "0123456789abcdef"


def scene(h: int, w: int, frames: int, seed: int = 0) -> np.ndarray:
    """Smooth random 'content' drifting over time, plus per-frame sensor-like noise."""
    rng = np.random.default_rng(seed)
    cells = rng.uniform(30, 220, (h // 40 + 4, w // 40 + 4)).astype(np.float32)
    base = cv2.resize(cells, (w + 160, h + 160), interpolation=cv2.INTER_CUBIC)
    out = [base[3 * i : 3 * i + h, 2 * i : 2 * i + w] + rng.normal(0, 3, (h, w)) for i in range(frames)]
    return np.clip(np.stack(out), 0, 255).astype(np.uint8)


def marked_mean(h: int, w: int, frames: int = 24, wid: str = WID, seed: int = 0) -> np.ndarray:
    video = scene(h, w, frames, seed)
    emb = wm.Embedder(wid, w, h, STRENGTH)
    acc = wm.LumaAccumulator()
    for frame in video:
        frame = frame.copy()
        emb.apply(frame)
        acc.add(frame)
    return acc.mean()


def test_watermark_id_is_a_deterministic_64_bit_value() -> None:
    a, b = wm.watermark_id_for("decision-1"), wm.watermark_id_for("decision-2")
    assert a == wm.watermark_id_for("decision-1") and a != b
    assert len(a) == 16 and int(a, 16) >= 0


def test_watermark_id_is_keyed_with_the_configured_secret() -> None:
    """Security issue 14: ids were derived with the public key even when a secret was configured."""
    import hashlib
    import hmac

    key = ProvenanceConfig(watermark_key="s3cret").watermark_key_bytes  # type: ignore[arg-type]
    keyed = wm.watermark_id_for("decision-1", key)
    assert keyed != wm.watermark_id_for("decision-1"), "the public default key must not give the same id"
    assert keyed != hashlib.sha256(wm.DEFAULT_KEY + b":decision-1").hexdigest()[:16]
    assert keyed == hmac.new(b"s3cret", b"watermark-id:decision-1", hashlib.sha256).hexdigest()[:16]
    assert wm.watermark_id_for("decision-1", b"other") != keyed


def test_payload_survives_noise_and_random_input_never_decodes() -> None:
    rng = np.random.default_rng(7)
    ids = [rng.bytes(8).hex() for _ in range(40)]
    for wid in ids:  # raw bit error rate about 5 % at this noise level
        soft = wm.encode_bits(wid).astype(np.float32) + rng.normal(0, 0.6, wm.CODED_BITS).astype(np.float32)
        assert wm.decode_bits(soft) == wid
    # CRC-24 after Viterbi: a false id from noise has probability ~6e-8 per attempt.
    assert all(wm.decode_bits(rng.normal(0, 1, wm.CODED_BITS).astype(np.float32)) is None for _ in range(300))


def test_embedding_is_faint_saturating_and_luma_only() -> None:
    emb = wm.Embedder(WID, 640, 360, STRENGTH)
    peak = wm.effective_strength(STRENGTH, 640, 360)
    assert peak == pytest.approx(1.5 * STRENGTH) and wm.effective_strength(STRENGTH, 1920, 1080) == STRENGTH
    offset = emb.plus.astype(np.float64) - emb.minus
    assert np.abs(offset).max() <= peak + 1
    psnr = 10 * np.log10(255**2 / np.mean(offset**2))
    assert psnr > 44, f"pattern alone is {psnr:.1f} dB; the 40 dB budget must leave room for the encoder"
    white = np.full((360, 640), 254, np.uint8)
    black = np.full((360, 640), 1, np.uint8)
    emb.apply(white)
    emb.apply(black)
    assert white.min() >= 254 - peak - 1 and white.max() == 255, "clipped, never wrapped around"
    assert black.max() <= 1 + peak + 1 and black.min() == 0


@pytest.mark.parametrize(
    ("name", "transform"),
    [
        ("identity", lambda m: m),
        ("downscale 50%", lambda m: cv2.resize(m, (320, 180), interpolation=cv2.INTER_AREA)),
        ("upscale 150%", lambda m: cv2.resize(m, (m.shape[1] * 3 // 2, m.shape[0] * 3 // 2))),
        ("centre crop 10%", lambda m: m[18:342, 32:608]),
        ("corner crop 15%", lambda m: m[:306, 96:]),
        ("crop 7%, then 75%", lambda m: cv2.resize(m[12:347, 22:617], (446, 251))),
        ("width-only crop", lambda m: m[:, 100:540]),
    ],
)
def test_geometry_search_finds_the_mark(name: str, transform: object) -> None:
    mean = marked_mean(360, 640)
    det = wm.detect(np.ascontiguousarray(transform(mean)), 24)  # type: ignore[operator]
    assert det.watermark_id == WID, f"{name}: {det}"
    assert det.confidence > 0.5


def test_unmarked_or_differently_keyed_content_is_not_detected() -> None:
    acc = wm.LumaAccumulator()
    for frame in scene(360, 640, 24, seed=3):
        acc.add(frame)
    det = wm.detect(acc.mean(), 24)
    assert not det.found and det.watermark_id is None and det.confidence == 0.0
    other = marked_mean(360, 640, wid="fedcba9876543210", seed=4)
    assert wm.detect(other, 24).watermark_id == "fedcba9876543210"


def test_a_secret_key_is_needed_to_read_the_mark() -> None:
    key = ProvenanceConfig(watermark_key="s3cret").watermark_key_bytes  # type: ignore[arg-type]
    video = scene(360, 640, 24, seed=5)
    emb = wm.Embedder(WID, 640, 360, STRENGTH, key)
    acc = wm.LumaAccumulator()
    for frame in video:
        frame = frame.copy()
        emb.apply(frame)
        acc.add(frame)
    assert wm.detect(acc.mean(), 24, key=key).watermark_id == WID
    assert not wm.detect(acc.mean(), 24).found, "the public default key sees nothing"
    assert not wm.detect(acc.mean(), 24, key=b"other").found

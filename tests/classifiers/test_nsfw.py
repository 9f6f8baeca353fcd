"""Open-NSFW on real benign frames (real inference), and the optional NudeNet region detector."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator

import cv2
import numpy as np
import pytest
from skimage import data

from classifiers import DetectorInput, FrameBatch
from classifiers.nsfw import SEEN_BOX, OpenNsfwDetector, preprocess


def video_frame(img: np.ndarray, width: int = 512, height: int = 288) -> np.ndarray:
    """A benign photo as a 16:9 video frame (RGB uint8), like the pipeline's sampled frames."""
    rgb = np.stack([img] * 3, axis=-1) if img.ndim == 2 else img[..., :3]
    return np.ascontiguousarray(cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA))


BENIGN = {
    name: video_frame(getattr(data, name)())
    for name in ("astronaut", "coffee", "chelsea", "rocket", "camera")
}


def batch(frames: list[np.ndarray]) -> DetectorInput:
    h, w = frames[0].shape[:2]
    return DetectorInput(frames=FrameBatch(frames, [0.5 * i for i in range(len(frames))], w, h))


@pytest.fixture(scope="module")
def nsfw() -> Iterator[OpenNsfwDetector]:
    det = OpenNsfwDetector(intra_op_num_threads=2)
    yield det
    det.close()


def test_benign_frames_score_low(nsfw: OpenNsfwDetector) -> None:
    raw = nsfw.frame_scores(list(BENIGN.values()))
    assert raw.shape == (len(BENIGN),)
    assert float(raw.max()) < 0.2, dict(zip(BENIGN, raw.round(3), strict=True))
    [signal] = nsfw.detect(batch(list(BENIGN.values())))
    assert signal.name == "frames.sexual" and signal.detector == "open_nsfw"
    assert signal.score < 0.2
    assert signal.score == pytest.approx(float(raw.max()), abs=1e-6)  # identity calibration, max aggregate


def test_batch_equals_single(nsfw: OpenNsfwDetector) -> None:
    frames = list(BENIGN.values())
    batched = nsfw.frame_scores(frames)
    single = np.array([nsfw.frame_scores([f])[0] for f in frames])
    np.testing.assert_allclose(batched, single, atol=1e-5)


def test_evidence_points_at_top_frames(nsfw: OpenNsfwDetector) -> None:
    frames = list(BENIGN.values())
    [signal] = nsfw.detect(batch(frames))
    raw = nsfw.frame_scores(frames)
    assert [e.frame_index for e in signal.evidence] == list(np.argsort(-raw, kind="stable")[:3])
    first = signal.evidence[0]
    assert first.box == SEEN_BOX and first.t == 0.5 * first.frame_index and first.label == "sexual"


def test_preprocess_matches_the_reference_layout() -> None:
    x = preprocess([BENIGN["astronaut"]])
    assert x.shape == (1, 224, 224, 3) and x.dtype == np.float32
    plain = preprocess([np.full((288, 512, 3), (10, 20, 30), dtype=np.uint8)], jpeg_roundtrip=False)
    np.testing.assert_allclose(plain[0, 0, 0], [30 - 104, 20 - 117, 10 - 123])  # BGR minus Caffe means


def test_options_and_close() -> None:
    with pytest.raises(ValueError, match="aggregate"):
        OpenNsfwDetector(aggregate="median")
    det = OpenNsfwDetector(aggregate="mean_top2", calibration={"method": "platt", "a": 1.0, "b": -2.0})
    [signal] = det.detect(batch([BENIGN["coffee"], BENIGN["rocket"]]))
    assert 0.0 <= signal.score < 0.05
    assert det.detect(DetectorInput(frames=FrameBatch([], [], 512, 288)))[0].score == 0.0
    det.close()
    with pytest.raises(RuntimeError, match="closed"):
        det.detect(batch([BENIGN["coffee"]]))


def test_nudenet_missing_names_the_extra_and_licence(monkeypatch: pytest.MonkeyPatch) -> None:
    from classifiers import nudenet_regions

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "nudenet" else real(name, *a)
    )
    with pytest.raises(ModuleNotFoundError, match=r"feedguard\[nudenet\].*AGPL-3.0"):
        nudenet_regions.NudeNetRegions()


@pytest.mark.skipif(importlib.util.find_spec("nudenet") is None, reason="optional extra feedguard[nudenet]")
def test_nudenet_regions_on_benign_frames() -> None:
    from classifiers.nudenet_regions import NudeNetRegions

    det = NudeNetRegions()
    frames = [BENIGN["astronaut"], BENIGN["rocket"], BENIGN["chelsea"]]
    regions = det.regions(frames)
    assert any(label == "FACE_FEMALE" for label, _, _ in regions[0])  # a face is a region, not nudity
    signals = {s.name: s for s in det.detect(batch(frames))}
    assert set(signals) == {"frames.nudity_exposed", "frames.nudity_covered"}
    assert signals["frames.nudity_exposed"].score < 0.25 and signals["frames.nudity_covered"].score < 0.25
    det.close()

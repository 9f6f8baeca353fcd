"""The minor-likely signal with real face detection and the real age network, on adult faces.

No face image of a known minor ships offline, so only the negative side is tested (see
benchmarks/IMAGE_DETECTORS.md): the astronaut (an adult) must score low.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from skimage import data

from classifiers import DetectorInput, FrameBatch
from classifiers.minors import CHIP, MinorLikelyDetector, age_model_files, align_chip

ASTRONAUT = data.astronaut()
CAMERA = np.ascontiguousarray(np.stack([data.camera()] * 3, axis=-1))


def batch(frames: list[np.ndarray]) -> DetectorInput:
    h, w = frames[0].shape[:2]
    return DetectorInput(frames=FrameBatch(frames, [float(i) for i in range(len(frames))], w, h))


@pytest.fixture(scope="module")
def minors() -> Iterator[MinorLikelyDetector]:
    det = MinorLikelyDetector()
    yield det
    det.close()


def test_astronaut_is_an_adult(minors: MinorLikelyDetector) -> None:
    [face] = minors.estimate([ASTRONAUT])
    assert 20 < face.age < 50
    assert face.p_minor < 0.05
    [signal] = minors.detect(batch([ASTRONAUT, np.ascontiguousarray(ASTRONAUT[:, ::-1])]))
    assert signal.name == "frames.minor_likely" and signal.score < 0.1
    assert len(signal.evidence) == 2 and {e.frame_index for e in signal.evidence} == {0, 1}
    first = signal.evidence[0]
    assert (
        first.box is not None
        and 0.3 < first.box.x < 0.5
        and first.label
        and first.label.startswith("face age~")
    )


def test_no_face_gives_zero_and_no_evidence(minors: MinorLikelyDetector) -> None:
    plain = np.full((288, 512, 3), 200, dtype=np.uint8)
    [signal] = minors.detect(batch([plain, plain]))
    assert signal.score == 0.0 and signal.evidence == ()


def test_small_faces_are_skipped() -> None:
    det = MinorLikelyDetector(min_face_px=400)  # the astronaut's face is ~105 px
    assert det.estimate([ASTRONAUT]) == []
    det.close()


def test_minor_age_threshold_is_monotone(minors: MinorLikelyDetector) -> None:
    older = MinorLikelyDetector(minor_age=40)
    p18 = [f.p_minor for f in minors.estimate([ASTRONAUT, CAMERA])]
    p40 = [f.p_minor for f in older.estimate([ASTRONAUT, CAMERA])]
    assert all(b >= a for a, b in zip(p18, p40, strict=True)) and max(p40) > max(p18)
    older.close()


def test_chip_is_framed_on_the_face(minors: MinorLikelyDetector) -> None:
    [[face]] = minors.faces.detect([ASTRONAUT])
    chip = align_chip(ASTRONAUT, face)
    assert chip.shape == (CHIP, CHIP, 3) and chip.dtype == np.uint8
    # skin in the middle of the chip, not the white background or the orange suit
    r, g, b = chip[28:36, 24:40].reshape(-1, 3).mean(axis=0)
    assert r > g > b and r > 150


def test_age_model_ships_in_our_package_and_is_checked() -> None:
    path, ages = age_model_files()
    assert path.name == "age-v1.onnx" and len(ages) == 81 and ages[18] == 18.0
    assert "classifiers/models/third_party" in path.as_posix()

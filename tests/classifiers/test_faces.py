"""BlazeFace (converted ONNX, numpy anchor decoding) on real images: boxes where the face is."""

from __future__ import annotations

from collections.abc import Iterator

import cv2
import numpy as np
import pytest
from skimage import data

from classifiers.base import Box
from classifiers.faces import KEYPOINT_NAMES, FaceDetector, _anchors, _weighted_nms

ASTRONAUT = data.astronaut()
# Eileen Collins' face in the 512x512 astronaut photo, by eye: forehead to chin, ear to ear (pixels)
ASTRONAUT_FACE = Box(175 / 512, 75 / 512, 100 / 512, 100 / 512)
PLAIN = np.full((288, 512, 3), (40, 120, 200), dtype=np.uint8)


def iou(a: Box, b: Box) -> float:
    ix = max(0.0, min(a.x + a.w, b.x + b.w) - max(a.x, b.x))
    iy = max(0.0, min(a.y + a.h, b.y + b.h) - max(a.y, b.y))
    inter = ix * iy
    return inter / (a.w * a.h + b.w * b.h - inter)


@pytest.fixture(scope="module")
def faces() -> Iterator[FaceDetector]:
    with FaceDetector() as det:
        yield det


def test_astronaut_face_found_with_box_and_keypoints(faces: FaceDetector) -> None:
    [found] = faces.detect([ASTRONAUT])
    assert len(found) == 1
    face = found[0]
    assert face.score > 0.8
    assert iou(face.box, ASTRONAUT_FACE) > 0.6, face.box
    assert len(face.keypoints) == len(KEYPOINT_NAMES) == 6
    for x, y in face.keypoints[:4]:  # eyes, nose, mouth lie inside the box
        assert face.box.x < x < face.box.x + face.box.w and face.box.y < y < face.box.y + face.box.h
    assert face.keypoint("right_eye")[0] < face.keypoint("left_eye")[0]  # subject's right is image left
    assert face.keypoint("nose_tip")[1] < face.keypoint("mouth")[1]


def test_no_face_on_plain_noise_or_object_frames(faces: FaceDetector) -> None:
    noise = np.random.default_rng(0).integers(0, 256, (288, 512, 3), dtype=np.uint8)
    rocket = cv2.resize(data.rocket(), (512, 341))
    assert faces.detect([PLAIN, noise]) == [[], []]
    assert faces.detect([rocket]) == [[]]


def test_letterboxed_16x9_frame_maps_back_to_frame_coordinates(faces: FaceDetector) -> None:
    frame = np.zeros((288, 512, 3), dtype=np.uint8)
    frame[:, 112:400] = cv2.resize(ASTRONAUT, (288, 288), interpolation=cv2.INTER_AREA)
    [[face]] = faces.detect([frame])
    expected = Box(
        (112 + ASTRONAUT_FACE.x * 288) / 512, ASTRONAUT_FACE.y, ASTRONAUT_FACE.w * 288 / 512, ASTRONAUT_FACE.h
    )
    assert iou(face.box, expected) > 0.6, face.box


def test_batch_equals_single_and_order_is_kept(faces: FaceDetector) -> None:
    flipped = np.ascontiguousarray(ASTRONAUT[:, ::-1])
    batched = faces.detect([ASTRONAUT, np.zeros_like(ASTRONAUT), flipped])
    assert [len(f) for f in batched] == [1, 0, 1]
    single = faces.detect([flipped])[0][0]
    assert batched[2][0].box.x == pytest.approx(single.box.x, abs=1e-5)
    assert batched[2][0].box.x + batched[2][0].box.w == pytest.approx(1 - batched[0][0].box.x, abs=0.03)


def test_short_range_variant_and_options() -> None:
    with FaceDetector(model="short_range") as det:
        [[face]] = det.detect([ASTRONAUT])
        assert iou(face.box, ASTRONAUT_FACE) > 0.6
    with FaceDetector(min_face_size=0.5) as det:
        assert det.detect([ASTRONAUT]) == [[]]  # the face is ~20 % of the frame
    with pytest.raises(ValueError, match="face model"):
        FaceDetector(model="back_camera")


def test_anchor_layout_matches_mediapipe() -> None:
    short = _anchors(128, (8, 16), {8: 2, 16: 6})
    full = _anchors(192, (4,), {4: 1})
    assert short.shape == (896, 2) and full.shape == (2304, 2)
    np.testing.assert_allclose(short[0], short[1])  # two anchors share the first 8 px cell
    np.testing.assert_allclose(short[0], [0.5 / 16, 0.5 / 16])
    np.testing.assert_allclose(full[-1], [47.5 / 48, 47.5 / 48])


def test_weighted_nms_merges_overlapping_candidates() -> None:
    boxes = np.array([[0.1, 0.1, 0.3, 0.3], [0.12, 0.1, 0.32, 0.3], [0.6, 0.6, 0.8, 0.8]], dtype=np.float32)
    kps = np.zeros((3, 6, 2), dtype=np.float32)
    scores = np.array([0.9, 0.9, 0.7], dtype=np.float32)
    merged = _weighted_nms(boxes, kps, scores, 0.3, 10)
    assert len(merged) == 2
    np.testing.assert_allclose(merged[0][0], [0.11, 0.1, 0.31, 0.3], atol=1e-6)
    assert merged[1][2] == pytest.approx(0.7)

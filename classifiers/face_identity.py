"""Face identity embeddings for likeness consent: dlib's ResNet (128-d) on 5-point-aligned crops.

Boxes come from :class:`classifiers.faces.FaceDetector` (BlazeFace); dlib's own detectors are
never used (slow). The 5-point landmark model is used for alignment, not the 68-point one (whose
training data is commonly licensed non-commercially). Weights ship in ``face_recognition_models``
(dlib's models, released by their author into the public domain); nothing is downloaded.

Same person: euclidean distance ~0.2-0.4; different people: ~0.8. The match threshold is
calibrated in ``benchmarks/`` and set by the caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from classifiers.base import Box, Frame
from classifiers.model_files import model_path

EMBEDDING_DIM = 128
MODEL_NAME = "dlib-resnet-v1+5pt"


class FaceEmbedder:
    """``embed(frame, boxes) -> (n, 128) float32``; one instance per worker (models load once)."""

    def __init__(self, *, padding: float = 0.25, jitters: int = 0) -> None:
        import dlib

        self._dlib: Any = dlib
        self._shape = dlib.shape_predictor(str(model_path("dlib_shape5")))
        self._net = dlib.face_recognition_model_v1(str(model_path("dlib_face_resnet")))
        self.padding = padding
        self.jitters = jitters

    def embed(self, frame: Frame, boxes: Sequence[Box]) -> npt.NDArray[np.float32]:
        """Embed each box of one RGB frame. Boxes are normalised (0..1) as detectors report them."""
        if not boxes:
            return np.zeros((0, EMBEDDING_DIM), np.float32)
        h, w = frame.shape[:2]
        img = np.ascontiguousarray(frame)
        shapes = self._dlib.full_object_detections()
        for b in boxes:
            left, top = max(0, int(b.x * w)), max(0, int(b.y * h))
            right, bottom = min(w - 1, int((b.x + b.w) * w)), min(h - 1, int((b.y + b.h) * h))
            shapes.append(self._shape(img, self._dlib.rectangle(left, top, right, bottom)))
        chips = self._dlib.get_face_chips(img, shapes, size=150, padding=self.padding)
        vectors = self._net.compute_face_descriptor(chips, self.jitters)
        return np.asarray([np.asarray(v, np.float32) for v in vectors], np.float32)


def distance(a: npt.NDArray[np.float32], b: npt.NDArray[np.float32]) -> float:
    return float(np.linalg.norm(a - b))

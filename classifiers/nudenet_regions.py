"""Optional: *where* nudity is, from NudeNet's YOLOv8 region detector (``nudenet==3.4.2``, ``320n.onnx``).

Never a default: the nudenet wheel's metadata says MIT but it carries an AGPL-3.0 licence file, so an
operator opts in with the ``feedguard[nudenet]`` extra and by naming this detector in the policy.
Only the model file is used; pre/post-processing is ours (batched, padded like NudeNet: pad
right/bottom, RGB, /255, 320x320, class-agnostic NMS at IoU 0.45).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import cv2
import numpy as np

from classifiers.base import Detector, DetectorInput, Evidence, Frame, Modality, Signal
from classifiers.calibration import Calibration
from classifiers.image_ops import (
    F32,
    Letterbox,
    clip_box,
    cpu_session,
    nms,
    resize_batch,
    stack_frames,
    to_tensor,
)

Region = tuple[str, float, tuple[float, float, float, float]]
"""``(label, score, (x1, y1, x2, y2))`` with corners normalised to the frame."""

LABELS = (
    "FEMALE_GENITALIA_COVERED",
    "FACE_FEMALE",
    "BUTTOCKS_EXPOSED",
    "FEMALE_BREAST_EXPOSED",
    "FEMALE_GENITALIA_EXPOSED",
    "MALE_BREAST_EXPOSED",
    "ANUS_EXPOSED",
    "FEET_EXPOSED",
    "BELLY_COVERED",
    "FEET_COVERED",
    "ARMPITS_COVERED",
    "ARMPITS_EXPOSED",
    "FACE_MALE",
    "BELLY_EXPOSED",
    "MALE_GENITALIA_EXPOSED",
    "ANUS_COVERED",
    "FEMALE_BREAST_COVERED",
    "BUTTOCKS_COVERED",
)
"""NudeNet 3.x class order (the model's output rows 4..21)."""

DEFAULT_SIGNALS = {
    "FEMALE_BREAST_EXPOSED": "frames.nudity_exposed",
    "FEMALE_GENITALIA_EXPOSED": "frames.nudity_exposed",
    "MALE_GENITALIA_EXPOSED": "frames.nudity_exposed",
    "BUTTOCKS_EXPOSED": "frames.nudity_exposed",
    "ANUS_EXPOSED": "frames.nudity_exposed",
    "FEMALE_BREAST_COVERED": "frames.nudity_covered",
    "FEMALE_GENITALIA_COVERED": "frames.nudity_covered",
    "BUTTOCKS_COVERED": "frames.nudity_covered",
    "ANUS_COVERED": "frames.nudity_covered",
}
"""Intimate regions only: belly, armpits, feet, male chest and faces feed no signal by default."""

EXTRA_HINT = (
    "nudenet_regions needs the optional extra feedguard[nudenet] (pip install 'nudenet==3.4.2'); "
    "note that the nudenet wheel carries an AGPL-3.0 licence file, so it is never installed by default"
)


def nudenet_model_path() -> Path:
    """``320n.onnx`` inside the installed nudenet wheel, located without importing nudenet's code."""
    spec = importlib.util.find_spec("nudenet")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(EXTRA_HINT)
    path = Path(next(iter(spec.submodule_search_locations))) / "320n.onnx"
    if not path.is_file():
        raise FileNotFoundError(f"{path} missing: {EXTRA_HINT}")
    return path


class NudeNetRegions(Detector):
    """Region labels with boxes -> ``frames.nudity_exposed`` / ``frames.nudity_covered`` (max over frames)."""

    name: ClassVar[str] = "nudenet_regions"
    version: ClassVar[str] = "1.0.0"
    consumes: ClassVar[frozenset[Modality]] = frozenset({Modality.FRAMES})
    signal_names: ClassVar[tuple[str, ...]] = ("frames.nudity_covered", "frames.nudity_exposed")

    def __init__(
        self,
        *,
        min_score: float = 0.25,
        iou_threshold: float = 0.45,
        input_size: int = 320,
        signals: Mapping[str, str] | None = None,
        evidence_regions: int = 10,
        calibration: Mapping[str, Any] | None = None,
        intra_op_num_threads: int = 2,
        batch_size: int = 16,
    ) -> None:
        path = nudenet_model_path()
        self.signal_map = dict(DEFAULT_SIGNALS if signals is None else signals)
        unknown = sorted(set(self.signal_map) - set(LABELS))
        if unknown:
            raise ValueError(f"unknown NudeNet labels {unknown}; known: {', '.join(LABELS)}")
        self.min_score, self.iou_threshold = float(min_score), float(iou_threshold)
        self.input_size = int(input_size)
        self.evidence_regions = max(0, int(evidence_regions))
        self.batch_size = max(1, int(batch_size))
        self.calibration = Calibration.resolve(calibration)
        self._session: Any = cpu_session(path, intra_op_num_threads=intra_op_num_threads)
        self._input = self._session.get_inputs()[0].name

    def produces(self) -> tuple[str, ...]:
        return tuple(sorted(set(self.signal_map.values())))

    def regions(self, frames: Sequence[Frame]) -> list[list[Region]]:
        """Per frame: the regions left after NMS, best first; all frames in batches of ``batch_size``."""
        if self._session is None:
            raise RuntimeError("detector is closed")
        if not frames:
            return []
        batch = stack_frames(frames)
        n, h, w, _ = batch.shape
        side = max(h, w)
        padded = np.zeros((n, side, side, 3), dtype=np.uint8)  # pad right/bottom first, then resize,
        padded[:, :h, :w] = batch  # exactly as NudeNet does: its scores move with the padding order
        boxed = resize_batch(padded, self.input_size, self.input_size, interpolation=cv2.INTER_LINEAR)
        lb = Letterbox(self.input_size, self.input_size / side, 0.0, 0.0, w, h)
        x = to_tensor(boxed, scale=1 / 255, channel_order="BGR")  # what NudeNet 3.4 really feeds its model
        outs = [
            self._session.run(None, {self._input: x[i : i + self.batch_size]})[0]
            for i in range(0, len(x), self.batch_size)
        ]
        pred = np.concatenate(outs).transpose(0, 2, 1).astype(np.float32)  # N x anchors x (4 + classes)
        return [self._decode(p, lb) for p in pred]

    def _decode(self, pred: F32, lb: Letterbox) -> list[Region]:
        cls_scores = pred[:, 4:]
        best = cls_scores.argmax(axis=1)
        score = cls_scores[np.arange(len(best)), best]
        keep = score >= self.min_score
        if not keep.any():
            return []
        b: F32 = (pred[keep, :4] / self.input_size).astype(np.float32)
        s, c = score[keep], best[keep]
        half = b[:, 2:] / 2
        corners = np.concatenate([lb.to_frame(b[:, :2] - half), lb.to_frame(b[:, :2] + half)], 1)
        kept = nms(corners, s, self.iou_threshold)
        out: list[Region] = []
        for i in kept:
            x1, y1, x2, y2 = (float(v) for v in corners[i])
            out.append((LABELS[int(c[i])], float(s[i]), (x1, y1, x2, y2)))
        return out

    def detect(self, data: DetectorInput) -> list[Signal]:
        if data.frames is None:
            raise ValueError(f"{self.name} needs frames")
        per_signal: dict[str, list[Evidence]] = {name: [] for name in self.produces()}
        best = dict.fromkeys(self.produces(), 0.0)
        for i, found in enumerate(self.regions(data.frames.frames)):
            for label, score, (x1, y1, x2, y2) in found:
                signal = self.signal_map.get(label)
                if signal is None:
                    continue
                p = self.calibration.one(score)
                best[signal] = max(best[signal], p)
                box = clip_box(x1, y1, x2, y2)
                t = float(data.frames.timestamps[i])
                ev = Evidence(frame_index=i, t=t, box=box, label=label, score=round(p, 4))
                per_signal[signal].append(ev)
        signals = []
        for name, evidence in sorted(per_signal.items()):
            evidence.sort(key=lambda e: -(e.score or 0.0))
            signals.append(self._signal(name, best[name], evidence[: self.evidence_regions]))
        return signals

    def close(self) -> None:
        self._session = None

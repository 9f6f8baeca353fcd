"""Enrolment: turn a short verification recording into a few face vectors, or say clearly why not.

The recording must show one person (several faces in many frames is refused), in enough sharp,
large, confident frames, turning their head a little (landmark geometry must vary: a photo held
up to the camera mostly does not), with every sampled face agreeing on who it is. This is a
consistency and liveness *heuristic*, not anti-spoofing: the platform's recorder is trusted to be
a live capture. Only vectors and summary figures leave this module; frames stay in memory.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from classifiers.base import Frame, FrameBatch
from classifiers.face_identity import FaceEmbedder
from classifiers.faces import Face, FaceDetector
from safety.likeness.vectors import EMBEDDING_MODEL, F32, normalise
from safety.media import MediaLimits, probe, sample_frames


class EnrolmentError(ValueError):
    """``code`` is stable (``no_face``, ``several_people``, ``too_few_frames``, ``pose_variety``,
    ``inconsistent_identity``); the message is a sentence for the person enrolling."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Enrolment:
    vectors: F32  # (n, 128), unit length
    quality: list[float]
    meta: dict[str, Any]


@dataclass(frozen=True, slots=True)
class EnrolConfig:
    fps: float = 4.0
    max_side: int = 640
    min_score: float = 0.6  # detector confidence for a face to count at all
    min_face_px: int = 64  # short side of the face box in pixels, for a usable frame
    min_sharpness: float = 10.0  # variance of the Laplacian on the face crop at 96 px
    min_usable: int = 5
    max_vectors: int = 8
    several_fraction: float = 0.2  # frames with 2+ faces, of frames with any face
    max_pair_distance: float = 0.45  # unit vectors: cos >= 0.90 between every two samples
    min_pose_spread: float = 0.05  # range of yaw or pitch proxies (fractions of eye distance)
    min_vector_spread: float = 0.02  # identical vectors in every frame: a still image
    max_duration_s: float = 30.0


def enrol_from_video(
    path: Path,
    *,
    faces: FaceDetector,
    embedder: FaceEmbedder,
    config: EnrolConfig = EnrolConfig(),
    require_liveness: bool = True,
) -> Enrolment:
    """Probe and sample ``path`` (the caller deletes it), then :func:`enrol_from_frames`."""
    limits = MediaLimits(max_duration_s=config.max_duration_s, max_sampled_frames=int(config.fps * 30) + 8)
    info = probe(path, limits)
    batch = sample_frames(info, fps=config.fps, scene_threshold=None, max_side=config.max_side, limits=limits)
    return enrol_from_frames(
        batch, faces=faces, embedder=embedder, config=config, require_liveness=require_liveness
    )


def enrol_from_frames(
    batch: FrameBatch,
    *,
    faces: FaceDetector,
    embedder: FaceEmbedder,
    config: EnrolConfig = EnrolConfig(),
    require_liveness: bool = True,
) -> Enrolment:
    per_frame = [[f for f in found if f.score >= config.min_score] for found in faces.detect(batch.frames)]
    with_face = [i for i, found in enumerate(per_frame) if found]
    if not with_face:
        raise EnrolmentError("no_face", "No face was found in the recording. Face the camera in good light.")
    several = sum(1 for i in with_face if len(per_frame[i]) > 1)
    if several >= max(2, math.ceil(config.several_fraction * len(with_face))):
        raise EnrolmentError(
            "several_people",
            f"Several people are visible in {several} of {len(with_face)} frames; record yourself alone.",
        )
    usable: list[tuple[int, Face, float]] = []
    for i in with_face:
        if len(per_frame[i]) != 1:
            continue
        face = per_frame[i][0]
        frame = batch.frames[i]
        h, w = frame.shape[:2]
        if min(face.box.w * w, face.box.h * h) < config.min_face_px:
            continue
        sharp = _sharpness(frame, face)
        if sharp >= config.min_sharpness:
            usable.append((i, face, sharp))
    if len(usable) < config.min_usable:
        raise EnrolmentError(
            "too_few_frames",
            f"Only {len(usable)} frames show a large, sharp face (at least {config.min_usable} needed); "
            "hold the camera closer and steady.",
        )
    poses = np.array([_pose(f, batch.frames[i]) for i, f, _ in usable])
    pose_spread = float(max(np.ptp(poses[:, 0]), np.ptp(poses[:, 1])))
    picks = [usable[int(j)] for j in np.unique(np.linspace(0, len(usable) - 1, config.max_vectors).round())]
    vectors = normalise(np.vstack([embedder.embed(batch.frames[i], [f.box]) for i, f, _ in picks]))
    d = np.linalg.norm(vectors[:, None, :] - vectors[None, :, :], axis=2)
    max_distance = float(d.max())
    if max_distance > config.max_pair_distance:
        raise EnrolmentError(
            "inconsistent_identity",
            "The faces in the recording do not all look like the same person; record yourself alone.",
        )
    if require_liveness and (pose_spread < config.min_pose_spread or max_distance < config.min_vector_spread):
        raise EnrolmentError(
            "pose_variety",
            "The face hardly moves; turn your head slowly left, right, up and down while recording.",
        )
    quality = [round(float(f.score) * min(1.0, sharp / 100.0), 4) for _, f, sharp in picks]
    meta = {
        "model": EMBEDDING_MODEL,
        "frames_sampled": len(batch.frames),
        "frames_with_face": len(with_face),
        "usable_frames": len(usable),
        "vectors": len(vectors),
        "pose_spread": round(pose_spread, 4),
        "max_pair_distance": round(max_distance, 4),
    }
    return Enrolment(vectors=vectors, quality=quality, meta=meta)


def _sharpness(frame: Frame, face: Face) -> float:
    """Variance of the Laplacian of the face crop at a fixed size: blur and heavy compression lower it."""
    h, w = frame.shape[:2]
    x0, y0 = max(0, int(face.box.x * w)), max(0, int(face.box.y * h))
    x1, y1 = min(w, int((face.box.x + face.box.w) * w)), min(h, int((face.box.y + face.box.h) * h))
    if x1 - x0 < 4 or y1 - y0 < 4:
        return 0.0
    crop = cv2.cvtColor(np.ascontiguousarray(frame[y0:y1, x0:x1]), cv2.COLOR_RGB2GRAY)
    crop = cv2.resize(crop, (96, 96), interpolation=cv2.INTER_AREA)
    return float(cv2.Laplacian(crop, cv2.CV_64F).var())


def _pose(face: Face, frame: Frame) -> tuple[float, float]:
    """Yaw and pitch proxies from keypoints in the eye-aligned frame (roll removed): nose offset
    from the eye midpoint over eye distance, and nose height between eyes and mouth."""
    h, w = frame.shape[:2]
    pts = np.array(face.keypoints[:4], np.float64) * (w, h)
    right_eye, left_eye, nose, mouth = pts
    axis = left_eye - right_eye
    eye_dist = float(np.linalg.norm(axis)) or 1.0
    ux = axis / eye_dist
    uy = np.array([-ux[1], ux[0]])
    mid = (right_eye + left_eye) / 2
    yaw = float((nose - mid) @ ux) / eye_dist
    mouth_depth = float((mouth - mid) @ uy) or 1.0
    pitch = float((nose - mid) @ uy) / mouth_depth
    return yaw, pitch

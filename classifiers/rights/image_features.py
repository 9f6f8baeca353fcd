"""A weaker, optional visual cue: global CNN features (ImageNet MobileNetV2, 1280-d) of references vs frames.

Hashes need near-identical pixels and keypoints need texture; pooled CNN features still see a
redrawn or restyled copy as similar, but also see two different cartoons of one style as
similar, so the cue is only ever a hint (scores stay below the match band unless the copy is close).
The model is exported by ``scripts/export_mobilenet_features.py`` from weights of unknown licence:
it is OFF by default and must be enabled explicitly with a model path.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from classifiers.base import Box
from classifiers.image_ops import clip_box, cpu_session, to_tensor
from classifiers.rights.references import Arrays, Character, ReferenceIndex, rgb_and_mask

U8 = npt.NDArray[np.uint8]
F32 = npt.NDArray[np.float32]
METHOD = "mobilenet_v2/1"
DEFAULT_MODEL = Path(__file__).resolve().parent / "models" / "mobilenet_v2_features.onnx"
MEAN, STD, SIDE = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), 224
# Cosine -> score. Whole-frame copies measured 0.85-0.92, unrelated pictures 0.38-0.65, but a different
# cartoon of the same style up to 0.88: the score is capped in the review band, never a match alone.
COSINE_MID, COSINE_SLOPE, MAX_SCORE = 0.84, 0.02, 0.7
CROPS = ((0.0, 0.0, 1.0, 1.0), (0.2, 0.2, 0.6, 0.6), (0.0, 0.0, 0.6, 0.6), (0.4, 0.0, 0.6, 0.6),
         (0.0, 0.4, 0.6, 0.6), (0.4, 0.4, 0.6, 0.6))  # fmt: skip
"""Whole frame, centre and four corner windows (x, y, w, h): a character filling part of the frame."""


@dataclass(frozen=True, slots=True)
class FeatureMatch:
    """A reference whose global features resemble a frame (or a window of it)."""

    character_id: str
    image: int
    cosine: float
    score: float
    frame_index: int
    box: tuple[float, float, float, float]


def cosine_score(cosine: float) -> float:
    """Logistic around COSINE_MID, capped at MAX_SCORE (a hint for a person, never a verdict)."""
    return MAX_SCORE / (1.0 + math.exp(-(cosine - COSINE_MID) / COSINE_SLOPE))


class ImageFeatureMatcher:
    """Cosine similarity of MobileNetV2 features; needs the exported ONNX model (see module doc)."""

    def __init__(
        self, references: ReferenceIndex, model_path: str | Path = DEFAULT_MODEL, *, max_frames: int = 4,
        threads: int = 1, min_score: float = 0.2,
    ) -> None:  # fmt: skip
        if not Path(model_path).is_file():
            raise FileNotFoundError(f"{model_path} missing: run scripts/export_mobilenet_features.py")
        self.references, self.max_frames, self.min_score = references, max_frames, min_score
        self._session = cpu_session(model_path, intra_op_num_threads=threads)
        self._revision = -1
        self.sync()

    def embed(self, images: Sequence[U8]) -> F32:
        """L2-normalised 1280-d features of RGB images (squashed to 224 x 224, as for hashing)."""
        if not images:
            return np.zeros((0, 1280), np.float32)
        resized = [
            cv2.resize(np.ascontiguousarray(im), (SIDE, SIDE), interpolation=cv2.INTER_AREA) for im in images
        ]
        batch = np.asarray(np.stack(resized), dtype=np.uint8)
        x = to_tensor(batch, mean=MEAN, std=STD, scale=1 / 255)
        return np.asarray(self._session.run(None, {"image": x})[0], dtype=np.float32)

    def _reference(self, char: Character) -> Arrays:
        return {"vectors": self.embed([rgb_and_mask(img)[0] for img in char.images])}

    def sync(self) -> None:
        """Re-stack cached reference features after index updates."""
        if self._revision == self.references.revision:
            return
        vectors, owners = [], []
        for char in self.references:
            feats = self.references.features(METHOD, char.character_id, self._reference)["vectors"]
            vectors.append(feats)
            owners += [(char.character_id, i) for i in range(len(feats))]
        self._matrix = np.concatenate(vectors) if vectors else np.zeros((0, 1280), np.float32)
        self._owners = owners
        self._revision = self.references.revision

    def match(self, frames: Sequence[U8]) -> list[FeatureMatch]:
        """Best window per (character, frame) scoring at least ``min_score``, best first."""
        if not len(self._matrix) or not frames:
            return []
        picks = np.unique(
            np.linspace(0, len(frames) - 1, min(self.max_frames, len(frames))).round().astype(int)
        )
        windows, where = [], []
        for i in picks.tolist():
            h, w = frames[i].shape[:2]
            for x, y, cw, ch in CROPS:
                windows.append(frames[i][int(y * h) : int((y + ch) * h), int(x * w) : int((x + cw) * w)])
                where.append((i, (x, y, cw, ch)))
        sims = self.embed(windows) @ self._matrix.T
        best: dict[tuple[str, int], FeatureMatch] = {}
        for r, c in zip(*np.nonzero(sims >= COSINE_MID - 3 * COSINE_SLOPE), strict=True):
            cid, image = self._owners[int(c)]
            fi, box = where[int(r)]
            score = cosine_score(float(sims[r, c]))
            key = (cid, fi)
            if score >= self.min_score and (key not in best or best[key].score < score):
                best[key] = FeatureMatch(cid, image, float(sims[r, c]), score, fi, box)
        return sorted(best.values(), key=lambda m: -m.score)

    @staticmethod
    def box(match: FeatureMatch) -> Box:
        """The window as a :class:`~classifiers.base.Box`."""
        x, y, w, h = match.box
        return clip_box(x, y, x + w, y + h)

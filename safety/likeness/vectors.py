"""Face vectors as the registry stores and compares them, and the calibrated match threshold.

Vectors are dlib's 128-d descriptors, L2-normalised, so cosine similarity is a dot product and
FAISS can use L2 on them with the same ranking. The threshold comes from
``benchmarks/eval_face_verification.py`` (see ``benchmarks/FACE_VERIFICATION.md``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from classifiers.face_identity import EMBEDDING_DIM, MODEL_NAME

F32 = npt.NDArray[np.float32]

EMBEDDING_MODEL = MODEL_NAME
DIM = EMBEDDING_DIM


@dataclass(frozen=True, slots=True)
class MatchThresholds:
    """Cosine similarity at which two faces count as one person, and the band around it that a
    person should look at (a near miss on a protected face is as worrying as a weak hit)."""

    threshold: float = 0.945
    margin: float = 0.02

    def confidence(self, similarity: float) -> float:
        """0.5 at the threshold, 0.9 at threshold + margin, 0.1 at threshold - margin."""
        scale = self.margin / math.log(9.0)
        z = (similarity - self.threshold) / scale
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))

    def is_match(self, similarity: float) -> bool:
        return similarity >= self.threshold

    def is_uncertain(self, similarity: float) -> bool:
        return abs(similarity - self.threshold) < self.margin


DEFAULT_THRESHOLDS = MatchThresholds()


def normalise(vectors: npt.ArrayLike) -> F32:
    """Rows scaled to unit length (zero rows stay zero)."""
    v = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    out: F32 = (v / np.maximum(norms, 1e-12)).astype(np.float32)
    return out


def to_bytes(vectors: F32) -> bytes:
    return np.ascontiguousarray(vectors, dtype="<f4").tobytes()


def from_bytes(data: bytes) -> F32:
    out: F32 = np.frombuffer(data, dtype="<f4").reshape(-1, DIM).astype(np.float32)
    return out


def cosine(a: F32, b: F32) -> F32:
    """Pairwise cosine of two sets of normalised rows: ``(len(a), len(b))``."""
    out: F32 = (normalise(a) @ normalise(b).T).astype(np.float32)
    return out

"""Hashed character n-gram features for the prompt classifier's head, next to the MiniLM embedding.

Why: MiniLM-L6 is English-first and reads "set on fire" or "sin comer" vaguely; character 3-5-grams
inside words see word stems in every language ("poignard", "asesin", "ritz") and misspellings. On the feed
captions' out-of-fold validation (``benchmarks/feed_validation.py``) adding them to the embedding raised the
head's average precision for self-harm from 0.83 to 0.92 and for graphic violence from 0.72 to 0.88.
Hashing (CRC-32, fixed size) needs no vocabulary file and costs well under a millisecond per prompt.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

DEFAULT_FEATURES = 1 << 16
DEFAULT_RANGE = (3, 5)


def grams(text: str, ngram_range: tuple[int, int] = DEFAULT_RANGE) -> list[str]:
    """Character n-grams inside space-padded words (like scikit-learn's ``char_wb`` analyser)."""
    lo, hi = ngram_range
    out: list[str] = []
    for word in text.split():
        padded = f" {word} "
        for n in range(lo, hi + 1):
            if len(padded) < n:
                out.append(padded)
                break
            out.extend(padded[i : i + n] for i in range(len(padded) - n + 1))
    return out


def features(
    texts: Sequence[str], n_features: int = DEFAULT_FEATURES, ngram_range: tuple[int, int] = DEFAULT_RANGE
) -> npt.NDArray[np.float32]:
    """Dense ``len(texts) x n_features`` matrix of L2-normalised hashed n-gram counts."""
    out = np.zeros((len(texts), n_features), dtype=np.float32)
    for row, text in enumerate(texts):
        idx = np.fromiter((zlib.crc32(g.encode("utf-8")) for g in grams(text, ngram_range)), dtype=np.int64)
        if idx.size == 0:
            continue
        cols, counts = np.unique(idx % n_features, return_counts=True)
        out[row, cols] = counts / np.sqrt(float(np.sum(counts.astype(np.float64) ** 2)))
    return out

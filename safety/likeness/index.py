"""FAISS over registry vectors: exact for small sets, IVF with 8-bit scalar quantisation for large.

Exact search (``IndexFlatL2``) costs ~n x 128 multiply-adds per query, nothing to tune and no
error: right up to tens of thousands of vectors. Past ``exact_max`` the index switches to an
inverted file over SQ8 codes (~140 bytes a vector instead of 512; a query scans an eighth of the
lists, at least 16). SQ8 moves similarities by ~1e-4, far inside the match margin, so matches stay those of
exact search (benchmarked; PQ would compress more but moves them by ~1e-2, and HNSW over SQ8
lost recall on clustered sets with this FAISS build). Vectors are unit length, so L2 ranking
equals cosine ranking and ``cos = 1 - d^2 / 2``.
"""

from __future__ import annotations

import importlib
import time
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from safety.likeness.vectors import DIM, F32, normalise

faiss: Any = importlib.import_module("faiss")  # no type stubs; typed through this module's API

IndexKind = Literal["auto", "exact", "compressed"]
EXACT_MAX = 20_000


def wanted_kind(kind: IndexKind, size: int, exact_max: int = EXACT_MAX) -> Literal["exact", "compressed"]:
    return "compressed" if kind == "compressed" or (kind == "auto" and size > exact_max) else "exact"


TRAIN_PER_LIST = 64  # k-means points per inverted list (FAISS warns below 39, samples 256 by default)


def _training_sample(data: F32, nlist: int) -> F32:
    """At most ``TRAIN_PER_LIST`` points per list, a fixed random subset: at 1M vectors this trains
    on 256k (45 s) instead of all of them (171 s, benchmarks/index_scaling.py) with the same
    matches; the scalar quantiser's ranges come from the same sample."""
    limit = max(1, nlist) * TRAIN_PER_LIST
    if len(data) <= limit:
        return data
    pick = np.sort(np.random.default_rng(0).choice(len(data), limit, replace=False))
    return np.ascontiguousarray(data[pick])


class FaceIndex:
    """An immutable nearest-neighbour index; row ``i`` of the vectors it was built from is id ``i``."""

    def __init__(
        self,
        vectors: npt.ArrayLike,
        *,
        kind: IndexKind = "auto",
        exact_max: int = EXACT_MAX,
        probe_lists: int | None = None,
    ) -> None:
        data = normalise(vectors) if np.size(vectors) else np.zeros((0, DIM), np.float32)
        started = time.perf_counter()
        self.size = len(data)
        self.kind = wanted_kind(kind, self.size, exact_max)
        if self.kind == "exact":
            self._index = faiss.IndexFlatL2(DIM)
        else:
            # sqrt-ish lists, >= 39 training points each (k-means floor); probe an eighth, >= 16.
            nlist = int(max(1, min(4 * np.sqrt(max(self.size, 1)), self.size // 39)))
            self._index = faiss.IndexIVFScalarQuantizer(
                faiss.IndexFlatL2(DIM), DIM, nlist, faiss.ScalarQuantizer.QT_8bit
            )
            self._index.nprobe = min(nlist, probe_lists or max(16, nlist // 8))
            if self.size:
                self._index.train(_training_sample(data, nlist))
        if self.size:
            self._index.add(data)
        self.build_s = time.perf_counter() - started

    def extended(self, vectors: npt.ArrayLike) -> FaceIndex:
        """A copy with ``vectors`` appended (ids continue from ``size``); ``self`` is untouched, so
        threads still searching it are safe. Copying is a memcpy, far cheaper than a rebuild."""
        data = normalise(vectors) if np.size(vectors) else np.zeros((0, DIM), np.float32)
        started = time.perf_counter()
        clone = object.__new__(FaceIndex)
        clone.kind = self.kind
        clone._index = faiss.clone_index(self._index)
        if not clone._index.is_trained and len(data):
            clone._index.train(_training_sample(data, int(clone._index.nlist)))
        if len(data):
            clone._index.add(data)
        clone.size = self.size + len(data)
        clone.build_s = time.perf_counter() - started
        return clone

    def search(self, queries: npt.ArrayLike, k: int = 8) -> tuple[F32, npt.NDArray[np.int64]]:
        """Top-``k`` cosine similarities and ids per query row; missing neighbours have id -1."""
        q = normalise(queries)
        if self.size == 0 or len(q) == 0:
            return np.zeros((len(q), 0), np.float32), np.zeros((len(q), 0), np.int64)
        k = max(1, min(k, self.size))
        d2, ids = self._index.search(q, k)
        sims: F32 = (1.0 - np.asarray(d2, np.float32) / 2.0).astype(np.float32)
        return sims, np.asarray(ids, np.int64)

    def memory_bytes(self) -> int:
        """Serialized size: what a worker holds for this index."""
        return int(faiss.serialize_index(self._index).size)

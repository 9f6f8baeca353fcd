"""Near-duplicate reuse of reference images and clips: PDQ hashes in an exact Hamming index.

PDQ survives re-encoding, scaling and colour grading (distance 0-20 of 256 bits) and, with its
eight dihedral variants, mirroring and rotation; unrelated pictures sit near 128. It does not
survive crops or a reference shown small inside a scene: that is :mod:`local_features`' job.

:class:`HashIndex` (what :class:`HashMatcher` uses) scans every reference hash with FAISS's binary
flat index: 32 bytes a hash, a popcount per hash in SIMD, exact at any radius. Measured in
``benchmarks/index_scaling.py`` it beats the multi-index hash table below at every size up to
1M hashes (1M: about 1 ms per query hash against 5 ms, and no radius beyond which hits are only
probably found). :class:`MultiIndexHashIndex` (16 chunks of 16 bits; two hashes within distance
``r`` agree within ``r // 16`` bits on at least one chunk, so probing each chunk's neighbourhood
finds every candidate within the guaranteed radius, verified with an exact distance) stays for
comparison. Clips are matched the way vPDQ does: per-frame hashes, then the share of frames on
each side that found a partner.
"""

from __future__ import annotations

import importlib
import itertools
import threading
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import pdqhash  # type: ignore[import-untyped,unused-ignore]

from classifiers.rights.references import Arrays, Character, ReferenceIndex, rgb_and_mask

U8 = npt.NDArray[np.uint8]
Words = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]
METHOD = "pdq/2"  # bump when the cached features change
MIN_QUALITY = 50  # PDQ's own advice: hashes of flat, featureless pictures are noise
STRONG, WEAK = 31, 63  # distances: <= STRONG is a match; up to WEAK is held for a person
CANON = 128  # PDQ input side, see _prepare
SEARCH_BATCH = 16  # query hashes per multi-index probe round


def _words(bits: npt.NDArray[np.integer]) -> Words:
    """256 0/1 values -> 4 uint64 words."""
    packed = np.packbits(np.asarray(bits, dtype=np.uint8).reshape(-1, 256), axis=1)
    return packed.view(">u8").astype(np.uint64)


def _prepare(img: U8) -> U8:
    """RGB at a canonical 128 x 128 (area filter) before PDQ.

    PDQ squashes every picture to 64 x 64 anyway (so this loses no aspect information), but its own
    size-dependent box filter is unstable on flat graphics: a logo resized from 256 to 288 px moved
    66 bits. With the same area-filtered 128 px input on both sides, re-scaled copies stay within ~6.
    """
    rgb, _ = rgb_and_mask(img)
    return np.ascontiguousarray(cv2.resize(rgb, (CANON, CANON), interpolation=cv2.INTER_AREA), dtype=np.uint8)


def pdq(img: U8) -> tuple[Words, int]:
    """The PDQ hash of an RGB(A) image as 4 uint64 words, and its quality (0..100)."""
    bits, quality = pdqhash.compute(_prepare(img))
    return _words(bits)[0], int(quality)


def pdq_dihedral(img: U8) -> tuple[Words, int]:
    """The PDQ hashes of the 8 rotations/mirrors of ``img`` as an ``8 x 4`` array, and the quality.

    Each variant is hashed exactly (cheap at 128 px): ``pdqhash.compute_dihedral``'s DCT shortcut put
    a mirrored cartoon 18-60 bits from its reference, exact hashing puts it at 0.
    """
    base = _prepare(img)
    variants = [np.rot90(base, k) for k in range(4)]
    variants += [np.ascontiguousarray(v[:, ::-1]) for v in variants]
    hashed = [pdqhash.compute(np.ascontiguousarray(v)) for v in variants]
    return _words(np.stack([h for h, _ in hashed])), int(hashed[0][1])


def hamming(a: Words, b: Words) -> I64:
    """Bit distances between hash rows (broadcasting)."""
    return np.asarray(np.bitwise_count(np.bitwise_xor(a, b)).sum(axis=-1), dtype=np.int64)


def trim_borders(img: U8, tol: int = 12, min_share: float = 0.2) -> U8 | None:
    """The picture without uniform letterbox/pillarbox bars, or None when there are none to trim.

    A row or column belongs to the picture when more than ``min_share`` of it differs from the bar
    colour, so a caption running across a bar does not stop the trim.
    """
    gray = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.int16)
    diff = np.abs(gray - gray[0, 0]) > tol
    rows, cols = np.where(diff.mean(axis=1) > min_share)[0], np.where(diff.mean(axis=0) > min_share)[0]
    if rows.size == 0 or cols.size == 0:
        return None
    y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    h, w = gray.shape
    if (y1 - y0) * (x1 - x0) > 0.92 * h * w or (y1 - y0) < 16 or (x1 - x0) < 16:
        return None
    return np.ascontiguousarray(img[y0:y1, x0:x1])


class MultiIndexHashIndex:
    """256-bit hashes with exact Hamming search up to ``radius`` in sub-linear time.

    Chunk tables are CSR arrays (65,536 buckets per chunk); additions go to a small brute-force
    delta that is merged when it grows, and removals are tombstones, so updates stay cheap.
    """

    CHUNKS, CHUNK_BITS = 16, 16

    def __init__(self, radius: int = 47, chunk_radius: int | None = None, merge_every: int = 4096) -> None:
        self.radius = radius
        # Probing chunk_radius bits per chunk finds every hit within 16 * (chunk_radius + 1) - 1 bits
        # (the guaranteed radius); hits further out, up to `radius`, are found with high probability.
        self.chunk_radius = radius // self.CHUNKS if chunk_radius is None else chunk_radius
        self.guaranteed_radius = min(radius, self.CHUNKS * (self.chunk_radius + 1) - 1)
        self.merge_every = merge_every
        masks = [0]
        for r in range(1, self.chunk_radius + 1):
            masks += [sum(1 << b for b in bits) for bits in itertools.combinations(range(16), r)]
        self._masks = np.asarray(masks, dtype=np.uint16)
        self._words = np.zeros((0, 4), dtype=np.uint64)
        self._alive = np.zeros(0, dtype=bool)
        self._n_main = 0
        self._order: list[npt.NDArray[np.int32]] = []
        self._offsets: list[I64] = []

    def __len__(self) -> int:
        return int(self._alive.sum())

    def add(self, hashes: Words) -> I64:
        """Append hashes (``n x 4``); returns their row ids."""
        hashes = np.asarray(hashes, dtype=np.uint64).reshape(-1, 4)
        start = self._words.shape[0]
        self._words = np.concatenate([self._words, hashes])
        self._alive = np.concatenate([self._alive, np.ones(len(hashes), dtype=bool)])
        if self._words.shape[0] - self._n_main >= self.merge_every:
            self._rebuild()
        return np.arange(start, start + len(hashes), dtype=np.int64)

    def remove(self, rows: npt.ArrayLike) -> None:
        """Tombstone rows; they are never returned again."""
        self._alive[np.asarray(rows, dtype=np.int64)] = False

    def _chunks(self, words: Words) -> npt.NDArray[np.uint16]:
        return np.ascontiguousarray(words).view(np.uint16).reshape(-1, self.CHUNKS)

    def _rebuild(self) -> None:
        self._n_main = self._words.shape[0]
        chunks = self._chunks(self._words)
        self._order, self._offsets = [], []
        for c in range(self.CHUNKS):
            col = chunks[:, c]
            self._order.append(np.argsort(col, kind="stable").astype(np.int32))
            counts = np.bincount(col, minlength=1 << self.CHUNK_BITS)
            self._offsets.append(np.concatenate([[0], np.cumsum(counts)]).astype(np.int64))

    def search(self, queries: Words, radius: int | None = None) -> tuple[I64, I64, I64]:
        """All ``(query_row, index_row, distance)`` with distance <= radius (default: the index's)."""
        queries = np.asarray(queries, dtype=np.uint64).reshape(-1, 4)
        radius = self.radius if radius is None else min(radius, self.radius)
        if len(queries) > SEARCH_BATCH:  # bounded candidate arrays stay in cache: faster per query
            parts = [
                self.search(queries[s : s + SEARCH_BATCH], radius)
                for s in range(0, len(queries), SEARCH_BATCH)
            ]
            offsets = range(0, len(queries), SEARCH_BATCH)
            return (
                np.concatenate([p[0] + off for p, off in zip(parts, offsets, strict=True)]),
                np.concatenate([p[1] for p in parts]),
                np.concatenate([p[2] for p in parts]),
            )
        pairs: list[tuple[I64, I64]] = []
        if self._n_main:
            probes = self._chunks(queries)[:, :, None] ^ self._masks[None, None, :]  # Q x 16 x M
            for c in range(self.CHUNKS):
                p = probes[:, c, :].astype(np.int64)
                starts, ends = self._offsets[c][p].ravel(), self._offsets[c][p + 1].ravel()
                lengths = ends - starts
                total = int(lengths.sum())
                if not total:
                    continue
                qid = np.repeat(np.repeat(np.arange(len(queries)), p.shape[1]), lengths)
                within = np.arange(total) - np.repeat(np.cumsum(lengths) - lengths, lengths)
                pairs.append((qid, self._order[c][np.repeat(starts, lengths) + within].astype(np.int64)))
        delta = np.arange(self._n_main, self._words.shape[0], dtype=np.int64)
        if delta.size:
            pairs.append((np.repeat(np.arange(len(queries)), delta.size), np.tile(delta, len(queries))))
        if not pairs:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, empty
        q = np.concatenate([a for a, _ in pairs])
        rows = np.concatenate([b for _, b in pairs])
        dist = hamming(queries[q], self._words[rows])  # verify first, de-duplicate only the hits
        keep = (dist <= radius) & self._alive[rows]
        key, first = np.unique(q[keep] * self._words.shape[0] + rows[keep], return_index=True)
        n = self._words.shape[0]
        return key // n, key % n, dist[keep][first]

    def brute_force(self, queries: Words, radius: int | None = None) -> tuple[I64, I64, I64]:
        """The same answer by a linear scan (the baseline the benchmark compares against)."""
        radius = self.radius if radius is None else radius
        queries = np.asarray(queries, dtype=np.uint64).reshape(-1, 4)
        dist = hamming(queries[:, None, :], self._words[None, :, :])
        q, rows = np.nonzero((dist <= radius) & self._alive[None, :])
        return q.astype(np.int64), rows.astype(np.int64), dist[q, rows]


class HashIndex:
    """256-bit hashes with exact Hamming search: FAISS ``IndexBinaryFlat`` plus tombstones.

    Same interface as :class:`MultiIndexHashIndex`. Additions append to the FAISS index (amortised
    copy); removals are tombstones filtered out of every answer. Searches of one instance may run
    from several threads; additions and removals take a lock.
    """

    def __init__(self, radius: int = 63) -> None:
        self.radius = radius
        self.guaranteed_radius = radius  # exact: nothing within the radius is ever missed
        self._faiss: Any = importlib.import_module("faiss")
        self._index: Any = self._faiss.IndexBinaryFlat(256)
        self._alive = np.zeros(0, dtype=bool)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return int(self._alive.sum())

    @staticmethod
    def _codes(words: Words) -> U8:
        """Hash words as the 32 bytes FAISS stores (any fixed bit order keeps Hamming distances)."""
        return np.ascontiguousarray(np.asarray(words, dtype=np.uint64).reshape(-1, 4)).view(np.uint8)

    def add(self, hashes: Words) -> I64:
        """Append hashes (``n x 4``); returns their row ids."""
        codes = self._codes(hashes)
        with self._lock:
            start = int(self._index.ntotal)
            if len(codes):
                self._index.add(codes)
            self._alive = np.concatenate([self._alive, np.ones(len(codes), dtype=bool)])
        return np.arange(start, start + len(codes), dtype=np.int64)

    def remove(self, rows: npt.ArrayLike) -> None:
        """Tombstone rows; they are never returned again."""
        with self._lock:
            alive = self._alive.copy()
            alive[np.asarray(rows, dtype=np.int64)] = False
            self._alive = alive

    def search(self, queries: Words, radius: int | None = None) -> tuple[I64, I64, I64]:
        """All ``(query_row, index_row, distance)`` with distance <= radius (default: the index's)."""
        radius = self.radius if radius is None else min(radius, self.radius)
        codes = self._codes(queries)
        empty = np.zeros(0, dtype=np.int64)
        alive = self._alive
        if not len(codes) or not len(alive):
            return empty, empty, empty
        lims, dist, rows = self._index.range_search(codes, radius + 1)  # FAISS: distance < radius
        bounds: I64 = np.asarray(lims, dtype=np.int64)
        q = np.repeat(np.arange(len(codes), dtype=np.int64), bounds[1:] - bounds[:-1])
        rows = np.asarray(rows, dtype=np.int64)
        keep = rows < len(alive)
        keep[keep] = alive[rows[keep]]
        return q[keep], rows[keep], np.asarray(dist, dtype=np.int64)[keep]

    def brute_force(self, queries: Words, radius: int | None = None) -> tuple[I64, I64, I64]:
        """The same answer by a numpy scan (for tests and benchmarks)."""
        radius = self.radius if radius is None else radius
        queries = np.asarray(queries, dtype=np.uint64).reshape(-1, 4)
        words = self._faiss.vector_to_array(self._index.xb).view(np.uint64).reshape(-1, 4)
        dist = hamming(queries[:, None, :], words[None, :, :])
        q, rows = np.nonzero((dist <= radius) & self._alive[None, :])
        return q.astype(np.int64), rows.astype(np.int64), dist[q, rows]


@dataclass(frozen=True, slots=True)
class HashMatch:
    """A reference (image or clip) that frames of the video reuse."""

    character_id: str
    source: str  # "image:<n>" or "clip:<n>"
    distance: int  # best PDQ distance over frames and dihedral variants
    score: float
    frame_indices: tuple[int, ...]
    coverage: float  # clips: share of the clip's frames found (vPDQ's reference coverage)


def distance_score(d: int) -> float:
    """Calibrated-ish: <= 31 (PDQ's recommended threshold) scores >= 0.9; 31..63 falls to 0.5 (review)."""
    if d <= STRONG:
        return 1.0 - 0.1 * d / STRONG
    if d <= WEAK:
        return 0.9 - 0.4 * (d - STRONG) / (WEAK - STRONG)
    return max(0.0, 0.5 - 0.5 * (d - WEAK) / 32)


def _reference_hashes(char: Character) -> Arrays:
    items = [(0, n, img) for n, img in enumerate(char.images)]
    items += [(1, n, frame) for n, clip in enumerate(char.clips) for frame in clip.frames]
    hashed = [pdq(img) for _, _, img in items]
    words, quality = [h for h, _ in hashed], [q for _, q in hashed]
    kinds, srcs = [k for k, _, _ in items], [n for _, n, _ in items]
    return {
        "words": np.asarray(words, dtype=np.uint64).reshape(-1, 4),
        "kind": np.asarray(kinds, dtype=np.int64),
        "source": np.asarray(srcs, dtype=np.int64),
        "quality": np.asarray(quality, dtype=np.int64),
    }


class HashMatcher:
    """PDQ matching of frames against every reference image and clip frame, kept in sync with the index."""

    def __init__(
        self, references: ReferenceIndex, radius: int = WEAK, min_quality: int = MIN_QUALITY
    ) -> None:
        self.references = references
        self.min_quality = min_quality
        self.index = HashIndex(radius=max(radius, STRONG))
        self._rows: dict[str, I64] = {}
        self._row_owner: dict[int, tuple[str, int, int]] = {}  # row -> (character, kind, source)
        self._clip_sizes: dict[tuple[str, int], int] = {}
        self._synced: dict[str, int] = {}
        self.sync()

    def sync(self) -> None:
        """Re-index characters added, changed or removed since the last call."""
        current = self.references.revisions()
        for cid in [c for c in self._synced if current.get(c) != self._synced[c]]:
            self.index.remove(self._rows.pop(cid))
            del self._synced[cid]
            for key in [k for k in self._clip_sizes if k[0] == cid]:
                del self._clip_sizes[key]
        for cid, rev in current.items():
            if cid in self._synced:
                continue
            feats = self.references.features(METHOD, cid, _reference_hashes)
            ok = feats["quality"] >= self.min_quality
            rows = self.index.add(feats["words"][ok])
            self._rows[cid] = rows
            for row, kind, src in zip(rows, feats["kind"][ok], feats["source"][ok], strict=True):
                self._row_owner[int(row)] = (cid, int(kind), int(src))
                if kind == 1:
                    self._clip_sizes[(cid, int(src))] = self._clip_sizes.get((cid, int(src)), 0) + 1
            self._synced[cid] = rev

    def match(self, frames: list[U8] | tuple[U8, ...]) -> list[HashMatch]:
        """References reused by these frames, best first (at most one per character and source)."""
        queries, owners = [], []
        for i, frame in enumerate(frames):
            variants = [frame]
            trimmed = trim_borders(frame)
            if trimmed is not None:
                variants.append(trimmed)
            for img in variants:
                hashes, quality = pdq_dihedral(img)
                if quality >= self.min_quality:
                    queries.append(hashes)
                    owners.extend([i] * len(hashes))
        if not queries:
            return []
        q, rows, dist = self.index.search(np.concatenate(queries))
        best: dict[tuple[str, int, int], int] = {}
        frames_hit: dict[tuple[str, int, int], set[int]] = defaultdict(set)
        clip_rows_hit: dict[tuple[str, int, int], set[int]] = defaultdict(set)
        for qi, row, d in zip(q.tolist(), rows.tolist(), dist.tolist(), strict=True):
            key = self._row_owner[row]
            best[key] = min(best.get(key, 256), d)
            if d <= STRONG or key[1] == 0:
                frames_hit[key].add(owners[qi])
            if d <= STRONG:
                clip_rows_hit[key].add(row)
        out = []
        for key, d in best.items():
            cid, kind, src = key
            score, coverage = distance_score(d), 1.0
            if kind == 1:  # vPDQ: the clip counts only as far as its frames were found in the video
                coverage = len(clip_rows_hit[key]) / max(1, self._clip_sizes.get((cid, src), 1))
                query_cov = len(frames_hit[key]) / max(1, len(frames))
                score = score * max(coverage, query_cov) ** 0.5 if clip_rows_hit[key] else min(score, 0.5)
            name = f"{'clip' if kind else 'image'}:{src}"
            out.append(HashMatch(cid, name, d, score, tuple(sorted(frames_hit[key])), coverage))
        return sorted(out, key=lambda m: -m.score)

"""Lookup latency at registry scale for benchmarks/eval_character_detection.py (synthetic vectors)."""

from __future__ import annotations

import time

import numpy as np

from classifiers.rights.hashes import MultiIndexHashIndex


def hash_latency(n: int = 100_000) -> list[str]:
    rng = np.random.default_rng(7)
    words = rng.integers(0, 2**63, size=(n, 4), dtype=np.uint64) * 2 + rng.integers(
        0, 2, size=(n, 4), dtype=np.uint64
    )
    index = MultiIndexHashIndex(radius=63, chunk_radius=2)
    t0 = time.perf_counter()
    index.add(words)
    build = time.perf_counter() - t0
    picks = rng.integers(0, n, 256)
    dists = rng.integers(0, 64, 256)
    bits = np.unpackbits(words[picks].view(np.uint8), axis=1)
    for i, k in enumerate(dists):
        bits[i, rng.choice(256, int(k), replace=False)] ^= 1
    queries = np.packbits(bits, axis=1).view(np.uint64)
    out = [
        f"Index of {n:,} random 256-bit hashes: build {build * 1000:.0f} ms "
        f"(16 chunks x 16 bits, probe radius 2 per chunk: exact up to {index.guaranteed_radius}, "
        f"verified up to {index.radius}).",
        "",
        "| search | batch | ms per query hash | hits found vs brute force (d <= 47 / 48..63) |",
        "|---|---|---|---|",
    ]
    bq, br, _ = index.brute_force(queries)
    truth = {(int(q), int(r)) for q, r in zip(bq, br, strict=True)}
    for batch in (1, 16, 256):
        t0 = time.perf_counter()
        found: set[tuple[int, int]] = set()
        for s in range(0, 256, batch):
            q, r, _ = index.search(queries[s : s + batch])
            found |= {(int(a) + s, int(b)) for a, b in zip(q, r, strict=True)}
        ms = 1000 * (time.perf_counter() - t0) / 256
        near = [(q, r) for q, r in truth if dists[q] <= 47]
        far = [(q, r) for q, r in truth if dists[q] > 47]
        rec = f"{np.mean([p in found for p in near]):.1%} / {np.mean([p in found for p in far]):.1%}"
        out.append(f"| multi-index | {batch} | {ms:.3f} | {rec} |")
    t0 = time.perf_counter()
    for s in range(0, 32):
        index.brute_force(queries[s : s + 1])
    out.append(
        f"| brute force (numpy popcount) | 1 | {1000 * (time.perf_counter() - t0) / 32:.3f} | 100% / 100% |"
    )
    return out


def dense_latency(n: int = 100_000) -> list[str]:
    """Exhaustive cosine scans for scale: description vectors (384-d), optional image cue (1280-d)."""
    rng = np.random.default_rng(3)
    out = []
    cases = (
        (384, "description vectors (prompt_semantic)", 32, "prompt windows"),
        (1280, "image_features vectors", 24, "frame windows (4 frames x 6)"),
    )
    for dim, what, queries, unit in cases:
        matrix = rng.standard_normal((n, dim), dtype=np.float32)
        q = rng.standard_normal((queries, dim), dtype=np.float32)
        t0 = time.perf_counter()
        for _ in range(5):
            np.argmax(q @ matrix.T, axis=1)
        ms = 1000 * (time.perf_counter() - t0) / 5
        out.append(f"| {n:,} {what} x {queries} {unit} | {ms:.0f} ms |")
    return ["| exhaustive scan (no ANN built) | time |", "|---|---|", *out]

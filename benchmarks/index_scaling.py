"""Issue 8: match latency and memory of the two reference indexes at 1k, 100k and 1M entries.

    python benchmarks/index_scaling.py [--sizes 1000,100000,1000000] [--queries 200] [--no-write]

* **Cameo / protected face index** (``safety.likeness.index.FaceIndex``): synthetic registries
  shaped like dlib embeddings in the registry (8 unit vectors a person; different people at
  cosine ~0.7, one person's vectors at >= 0.94, the shape the index tests use). Queries are fresh
  embeddings of enrolled people (must match) and of strangers (must not). Reported per kind of
  index: build time, ms per query (one query = one face vector; a track sends 3), matches found
  versus exact search at the calibrated threshold (0.945), largest similarity error, and bytes
  per entry (the serialized index / entries: what each worker holds).
* **Character reference hash index** (``classifiers.rights.hashes``, radius 63 as ``HashMatcher``
  sets it): ``HashIndex`` (FAISS binary flat, what the matcher uses) and, for comparison, the
  ``MultiIndexHashIndex`` it used before (probe radius 2 per 16-bit chunk). Random 256-bit
  PDQ-like hashes; queries are copies of indexed hashes with 0-63 bits flipped plus unrelated
  hashes. Reported: build time, ms per query hash, per sampled frame (8 dihedral variants in one
  call) and per 20-frame video, recall for d <= 31 / 32..47 / 48..63, bytes per entry.

Results go to ``benchmarks/README.md`` between ``<!-- index_scaling:start/end -->``.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import platform
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from classifiers.rights.hashes import STRONG, WEAK, HashIndex, MultiIndexHashIndex  # noqa: E402
from safety.likeness import index as index_module  # noqa: E402
from safety.likeness.index import FaceIndex  # noqa: E402
from safety.likeness.vectors import DEFAULT_THRESHOLDS, DIM, normalise  # noqa: E402

faiss: Any = importlib.import_module("faiss")
README = REPO / "benchmarks" / "README.md"
START, END = "<!-- index_scaling:start -->", "<!-- index_scaling:end -->"
PER_PERSON = 8
F32 = npt.NDArray[np.float32]


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# ---------------------------------------------------------------------------------- faces
def face_registry(n: int, seed: int = 7) -> tuple[F32, F32, F32]:
    """(registry vectors, enrolled-person probes, stranger probes), dlib-shaped."""
    rng = np.random.default_rng(seed)
    base = normalise(rng.normal(0, 1, DIM))
    people = max(1, n // PER_PERSON)
    out = np.empty((people * PER_PERSON, DIM), np.float32)
    centres = np.empty((people, DIM), np.float32)
    for s in range(0, people, 50_000):  # in slices: bounded temporaries at 1M
        c = normalise(base + rng.normal(0, 0.06, (min(50_000, people - s), DIM)).astype(np.float32))
        centres[s : s + len(c)] = c
        noise = rng.normal(0, 0.018, (len(c) * PER_PERSON, DIM)).astype(np.float32)
        out[s * PER_PERSON : (s + len(c)) * PER_PERSON] = normalise(np.repeat(c, PER_PERSON, 0) + noise)
    return out[:n], centres, base


def face_probes(centres: F32, base: F32, q: int, seed: int = 8) -> tuple[F32, F32]:
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(centres), q)
    enrolled = normalise(centres[pick] + rng.normal(0, 0.018, (q, DIM)).astype(np.float32))
    strangers_c = normalise(base + rng.normal(0, 0.06, (q, DIM)).astype(np.float32))
    strangers = normalise(strangers_c + rng.normal(0, 0.018, (q, DIM)).astype(np.float32))
    return enrolled, strangers


def _matches(sims: F32, ids: npt.NDArray[np.int64], th: float) -> list[set[int]]:
    return [
        {int(i) for s, i in zip(sr, ir, strict=True) if s >= th and i >= 0}
        for sr, ir in zip(sims, ids, strict=True)
    ]


def _time_queries(search: Callable[[F32], Any], queries: F32, batch: int) -> float:
    """ms per query vector, best of two passes."""
    best = float("inf")
    for _ in range(2):
        t = time.perf_counter()
        for s in range(0, len(queries), batch):
            search(queries[s : s + batch])
        best = min(best, (time.perf_counter() - t) * 1000 / len(queries))
    return best


class _Faiss:
    """A raw FAISS index behind FaceIndex's search signature (for kinds FaceIndex does not build)."""

    def __init__(self, index: Any, data: F32, train: bool) -> None:
        t = time.perf_counter()
        if train:
            index.train(data[: min(len(data), 256 * 1024)])
        index.add(data)
        self.build_s = time.perf_counter() - t
        self._index = index

    def search(self, q: F32, k: int = 8) -> tuple[F32, npt.NDArray[np.int64]]:
        d2, ids = self._index.search(np.ascontiguousarray(q, np.float32), k)
        return (1.0 - d2 / 2.0).astype(np.float32), ids

    def memory_bytes(self) -> int:
        return int(faiss.serialize_index(self._index).size)


def face_rows(sizes: list[int], nq: int, threads: int) -> list[str]:
    faiss.omp_set_num_threads(threads)
    th = DEFAULT_THRESHOLDS.threshold
    rows = []
    for n in sizes:
        data, centres, base = face_registry(n)
        enrolled, strangers = face_probes(centres, base, nq)
        queries = np.vstack([enrolled, strangers])
        exact = faiss.IndexFlatIP(DIM)
        exact.add(data)
        es, ei = exact.search(queries, 8)
        truth = _matches(es, ei, th)
        found = sum(bool(m) for m in truth[:nq])
        candidates: list[tuple[str, Any]] = []
        rss0 = _rss_mb()
        idx = FaceIndex(data)  # what the registry builds at this size
        candidates.append((f"FaceIndex auto ({idx.kind})", idx))
        if idx.kind == "compressed" and n > index_module.TRAIN_PER_LIST * 4 * np.sqrt(n):
            saved = index_module.TRAIN_PER_LIST
            index_module.TRAIN_PER_LIST = 256  # before: FAISS's default sample (all 1M at 1M)
            try:
                candidates.append(("FaceIndex auto, before: k-means on 256/list", FaceIndex(data)))
            finally:
                index_module.TRAIN_PER_LIST = saved
        if n > 20_000:
            nlist = int(max(1, min(4 * np.sqrt(n), n // 39)))
            for nprobe in (16, 64):
                ivf = faiss.IndexIVFScalarQuantizer(
                    faiss.IndexFlatL2(DIM), DIM, nlist, faiss.ScalarQuantizer.QT_8bit
                )
                ivf.nprobe = nprobe
                candidates.append((f"IVF{nlist}-SQ8, nprobe {nprobe}", _Faiss(ivf, data, True)))
            hnsw = faiss.IndexHNSWSQ(DIM, faiss.ScalarQuantizer.QT_8bit, 16)
            hnsw.hnsw.efConstruction = 40
            hnsw.hnsw.efSearch = 64
            candidates.append(("HNSW16-SQ8, efSearch 64", _Faiss(hnsw, data, True)))
        for name, index in candidates:
            sims, ids = index.search(queries, 8)
            got = _matches(sims, ids, th)
            both = [len(t & g) for t, g in zip(truth, got, strict=True)]
            recall = sum(both) / max(1, sum(len(t) for t in truth))
            person_recall = sum(1 for t, g in zip(truth[:nq], got[:nq], strict=True) if t and t & g) / max(
                1, found
            )
            false = sum(1 for g in got[nq:] if g) / nq
            real = es[:nq, 0] >= th - DEFAULT_THRESHOLDS.margin  # similarity error where it matters
            err = float(np.abs(sims[:nq, 0] - es[:nq, 0])[real].max()) if real.any() else 0.0
            one = _time_queries(lambda q, ix=index: ix.search(q, 8), queries, 1)
            track = _time_queries(lambda q, ix=index: ix.search(q, 8), queries, 3)
            mem = index.memory_bytes()
            rows.append(
                f"| {n:,} | {name} | {index.build_s:.1f} | {one:.3f} | {track:.3f} | {person_recall:.1%} | "
                f"{recall:.1%} | {false:.1%} | {err:.4f} | {mem / n:.0f} |"
            )
            print(rows[-1], flush=True)
        del candidates, idx, exact, data
        gc.collect()
        print(f"  (RSS before the candidate indexes {rss0:.0f} MB)", flush=True)
    return rows


# ---------------------------------------------------------------------------------- hashes
def random_hashes(n: int, rng: np.random.Generator) -> npt.NDArray[np.uint64]:
    return rng.integers(0, np.iinfo(np.uint64).max, size=(n, 4), dtype=np.uint64, endpoint=True)


def flip(
    words: npt.NDArray[np.uint64], dists: npt.NDArray[np.int64], rng: np.random.Generator
) -> npt.NDArray[np.uint64]:
    bits = np.unpackbits(words.view(np.uint8), axis=1)
    for i, k in enumerate(dists):
        bits[i, rng.choice(256, int(k), replace=False)] ^= 1
    return np.packbits(bits, axis=1).view(np.uint64).reshape(-1, 4)


def _hash_memory(index: Any) -> int:
    if isinstance(index, HashIndex):
        return int(index._index.ntotal) * 32 + index._alive.nbytes
    return int(
        index._words.nbytes + index._alive.nbytes
        + sum(o.nbytes for o in index._order) + sum(o.nbytes for o in index._offsets)
    )  # fmt: skip


def hash_rows(sizes: list[int], nq: int) -> list[str]:
    rows = []
    for n in sizes:
        rng = np.random.default_rng(11)
        words = random_hashes(n, rng)
        picks = rng.integers(0, n, nq)
        dists = rng.integers(0, WEAK + 1, nq)
        queries = np.vstack([flip(words[picks], dists, rng), random_hashes(nq, rng)])
        radius = max(WEAK, STRONG)
        engines: list[tuple[str, Callable[[], Any]]] = [
            ("HashIndex (FAISS binary flat, exact)", lambda r=radius: HashIndex(radius=r)),
            ("before: MultiIndexHashIndex (16x16-bit chunks, probe radius 2)",
             lambda r=radius: MultiIndexHashIndex(radius=r, chunk_radius=2)),
        ]  # fmt: skip
        for name, make in engines:
            index = make()
            t = time.perf_counter()
            index.add(words)
            if isinstance(index, MultiIndexHashIndex) and index._n_main < len(words):
                index._rebuild()  # the CSR tables (add() merges only past merge_every)
            build = time.perf_counter() - t
            one = frame = float("inf")
            for _ in range(2):
                t = time.perf_counter()
                for s in range(len(queries)):
                    index.search(queries[s : s + 1])
                one = min(one, (time.perf_counter() - t) * 1000 / len(queries))
                t = time.perf_counter()
                for s in range(0, len(queries), 8):
                    index.search(queries[s : s + 8])
                frame = min(frame, (time.perf_counter() - t) * 1000 / len(queries) * 8)
            q, r, _ = index.search(queries)
            found = set(zip(q.tolist(), r.tolist(), strict=True))
            rec = []
            for lo, hi in ((0, STRONG), (STRONG + 1, 47), (48, WEAK)):
                want = [(i, int(picks[i])) for i in range(nq) if lo <= dists[i] <= hi]
                rec.append(f"{np.mean([w in found for w in want]):.1%}" if want else "-")
            stray = sum(1 for a, _ in found if a >= nq)
            mem = _hash_memory(index)
            rows.append(
                f"| {n:,} | {name} | {build:.1f} | {one:.3f} | {frame:.2f} | {frame * 20 / 1000:.2f} | "
                f"{' / '.join(rec)} | {stray} | {mem / n:.0f} |"
            )
            print(rows[-1], flush=True)
            del index
            gc.collect()
        del words
    return rows


def report(face: list[str], hashes: list[str], args: argparse.Namespace, total_s: float) -> str:
    cpu = next(
        (ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
         if ln.startswith("model name")),
        platform.processor(),
    )  # fmt: skip
    out = [
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on `nproc`={os.cpu_count()}, CPU `{cpu}`, faiss "
        f"{faiss.__version__} ({args.threads} OpenMP thread(s)), numpy {np.__version__}; "
        f"`python benchmarks/index_scaling.py` ({total_s / 60:.1f} min); 1-minute load average at the end "
        f"{os.getloadavg()[0]:.1f}.",
        "",
        f"**Face index** ({args.queries} probes of enrolled people + {args.queries} strangers, top 8 per "
        f"probe, threshold {DEFAULT_THRESHOLDS.threshold}; *people found* = enrolled probes whose exact "
        "match is also found; *matches* = all (probe, vector) pairs above the threshold; *bytes/entry* = "
        "serialized index / entries)",
        "",
        "| entries | index | build s | ms/query (1 vector) | ms/query (3 vectors, one track) | people "
        "found | matches found | strangers matched | max sim error | bytes/entry |",
        "|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|",
        *face,
        "",
        "**Character hash index** (radius 63 as HashMatcher sets it: the FAISS flat index it uses now and "
        f"the multi-index table it used before; {args.queries} near copies at 0-63 bits + {args.queries} "
        "unrelated hashes; a frame = 8 dihedral hashes in one call)",
        "",
        "| entries | index | build s | ms per hash | ms per frame (8 hashes) | s per video (20 frames) | "
        "recall d<=31 / 32-47 / 48-63 | unrelated hits | bytes/entry |",
        "|--:|---|--:|--:|--:|--:|---|--:|--:|",
        *hashes,
        "",
    ]
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000,100000,1000000")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--threads", type=int, default=1, help="FAISS OpenMP threads (a worker's share)")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    started = time.perf_counter()
    face = face_rows(sizes, args.queries, args.threads)
    hashes = hash_rows(sizes, args.queries)
    body = report(face, hashes, args, time.perf_counter() - started)
    print(body)
    if not args.no_write:
        text = README.read_text()
        block = f"{START}\n{body}{END}"
        if START in text and END in text:
            text = text[: text.index(START)] + block + text[text.index(END) + len(END) :]
        else:
            text = text.rstrip("\n") + "\n\n" + block + "\n"
        README.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

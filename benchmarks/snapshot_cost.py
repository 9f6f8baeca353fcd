"""Issue 13: what a media snapshot costs per video (storage, and the time to take it).

    python benchmarks/snapshot_cost.py [--n 6]

Makes the pipeline benchmark's workload (10 s 1280x720 clips of varied content, plus a 5 s 1080p
and a 20 s 480p variant), then for each clip: its size (= the snapshot's bytes, kept while a
decision on it can change, then ``snapshot_retention_days``), the time to ingest it (one read:
hash while copying into the content-addressed store) and, for scale, the time ffprobe alone takes.
Prints a Markdown table and the storage a platform holds per day of retention.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from pipeline_bench import make_workload  # noqa: E402

from safety.media import MediaLimits, probe  # noqa: E402
from safety.media.snapshot import SnapshotStore  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=6)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        media = Path(tmp) / "media"
        media.mkdir()
        clips = make_workload(media, args.n, variants=True)
        store = SnapshotStore(Path(tmp) / "snapshots")
        rows = []
        for c in clips:
            t0 = time.perf_counter()
            snap = store.ingest(c.path)
            ingest = time.perf_counter() - t0
            t0 = time.perf_counter()
            probe(snap.path, MediaLimits())
            probed = time.perf_counter() - t0
            rows.append((c.video_id, c.width, c.height, c.duration_s, snap.size, ingest, probed))
    print("| clip | size | duration | snapshot bytes | MB per minute | ingest ms | ffprobe ms |")
    print("|---|---|---|---:|---:|---:|---:|")
    for vid, w, h, d, size, ingest, probed in rows:
        print(
            f"| {vid} | {w}x{h} | {d:g} s | {size:,} | {size / d * 60 / 1e6:.1f} | "
            f"{ingest * 1000:.1f} | {probed * 1000:.1f} |"
        )
    per_min = statistics.median(size / d * 60 for _, _, _, d, size, _, _ in rows)
    median_size = statistics.median(size for *_, size, _, _ in rows)
    print(f"\nmedian snapshot {median_size / 1e6:.2f} MB per video ({per_min / 1e6:.1f} MB per minute of video)")
    print(
        f"1M videos a day x 7 days retention ~ {median_size * 1e6 * 7 / 1e12:.1f} TB "
        f"(+ held and appealable videos until decided)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

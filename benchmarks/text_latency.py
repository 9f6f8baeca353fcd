"""Latency the text detectors add per video: an older head/policy against the packaged ones, interleaved in
one process on the same EVAL feed prompts (so machine load hits both alike).

Run (issue 17, second pass; the older files come from git)::

    git show f98cd02:classifiers/models/prompt_head.onnx > /tmp/old_head.onnx
    git show f98cd02:classifiers/models/prompt_head.json > /tmp/old_head.json
    git show f98cd02:policies/files/default.yaml > /tmp/old_policy.yaml
    python benchmarks/text_latency.py --old-head /tmp/old_head.onnx --old-policy /tmp/old_policy.yaml
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from classifiers import DetectorInput, PromptScreen, TextInput  # noqa: E402
from classifiers.base import Detector  # noqa: E402
from classifiers.prompt_classifier import PromptClassifier  # noqa: E402
from policies import load_policy  # noqa: E402
from scripts.build_feed_prompts import load  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--old-head", type=Path, required=True)
    ap.add_argument("--old-policy", type=Path, required=True)
    ap.add_argument("-n", type=int, default=300)
    args = ap.parse_args()
    rows = load("eval")
    random.Random(0).shuffle(rows)
    detectors: dict[str, Detector] = {
        "classifier_old": PromptClassifier(head_path=str(args.old_head)),
        "classifier_new": PromptClassifier(),
        "screen_old": PromptScreen(**load_policy(args.old_policy).document.detectors["prompt_screen"]),
        "screen_new": PromptScreen(**load_policy().document.detectors["prompt_screen"]),
    }
    ms: dict[str, list[float]] = {k: [] for k in detectors}
    for r in rows[: args.n]:
        data = DetectorInput(text=TextInput(r["text"]))
        for name, det in detectors.items():
            t0 = time.perf_counter()
            det.detect(data)
            ms[name].append((time.perf_counter() - t0) * 1000)
    for name, v in ms.items():
        print(f"{name}: median {statistics.median(v):.2f} ms, mean {statistics.mean(v):.2f} ms (n={len(v)})")
    for part in ("classifier", "screen"):
        added = statistics.median([b - a for a, b in zip(ms[f"{part}_old"], ms[f"{part}_new"], strict=True)])
        print(f"added per video by the {part}: {added:+.2f} ms (median of paired differences)")


if __name__ == "__main__":
    main()

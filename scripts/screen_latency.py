"""Latency the prompt screen adds: an older commit's screen code and policy against this tree's, interleaved
in one process on the same feed prompts (so machine load hits both alike). The classifier is not timed.

    python scripts/screen_latency.py --old-ref af6b97b -n 500          # 3.2.0 against the working tree
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from classifiers import DetectorInput, PromptScreen, TextInput  # noqa: E402
from policies import load_policy  # noqa: E402
from scripts.build_feed_prompts import load  # noqa: E402


def _git_show(ref: str, path: str, out: Path) -> Path:
    out.write_bytes(
        subprocess.run(["git", "show", f"{ref}:{path}"], cwd=ROOT, check=True, capture_output=True).stdout
    )
    return out


def old_screen(ref: str, tmp: Path) -> Any:
    """The screen class and lexicon as of ``ref`` (its module imports the current helpers it names)."""
    src = _git_show(ref, "classifiers/prompt_screen.py", tmp / "old_prompt_screen.py")
    policy = _git_show(ref, "policies/files/default.yaml", tmp / "old_policy.yaml")
    spec = importlib.util.spec_from_file_location("old_prompt_screen", src)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["old_prompt_screen"] = module
    spec.loader.exec_module(module)
    return module.PromptScreen(**load_policy(policy).document.detectors["prompt_screen"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--old-ref", required=True)
    ap.add_argument("--split", default="eval2")
    ap.add_argument("-n", type=int, default=500)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        old = old_screen(args.old_ref, Path(tmp))
        new = PromptScreen(**load_policy().document.detectors["prompt_screen"])
        rows = load(args.split)
        rng = random.Random(0)
        rng.shuffle(rows)
        t_old: list[float] = []
        t_new: list[float] = []
        for r in rows[: args.n]:
            data = DetectorInput(text=TextInput(r["text"]))
            pair = [(old, t_old), (new, t_new)]
            rng.shuffle(pair)
            for det, acc in pair:
                t0 = time.perf_counter()
                det.detect(data)
                acc.append((time.perf_counter() - t0) * 1000)
    delta = [b - a for a, b in zip(t_old, t_new, strict=True)]
    p95 = sorted(t_new)[int(0.95 * len(t_new))]
    med = statistics.median
    print(
        f"n={len(delta)} old median {med(t_old):.2f} ms, new median {med(t_new):.2f} ms (p95 {p95:.2f}); "
        f"paired median {med(delta):+.2f} ms, mean {statistics.mean(delta):+.2f} ms"
    )


if __name__ == "__main__":
    main()

"""One command for every teen-safety detector: labelled set, precision/recall at the default
threshold, and latency per prompt/frame on this machine.

    python benchmarks/eval_detectors.py

Runs the prompt evaluation (held-out split of classifiers/data/prompts.jsonl, regex screen and
classifier side by side) and then the frame evaluation (benign frames; faces, NSFW, minors, BYO
ONNX), writing benchmarks/PROMPT_CLASSIFIER.md and benchmarks/IMAGE_DETECTORS.md.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    for script in ("eval_prompt_classifier.py", "eval_image_detectors.py"):
        print(f"\n===== {script} =====", flush=True)
        code = subprocess.call([sys.executable, str(HERE / script)], cwd=HERE.parent)
        if code != 0:
            return code
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Set each ``{signal: text.X, gte: T}  # Pnn ...`` leaf of a policy to the packaged head's measured point.

Why: a threshold's comment states the precision behind it (issue 17); after retraining the classifier the
operating points move, and this keeps thresholds and comments true to ``prompt_head.json`` in one step
(``tests/policies/test_review_burden_rules.py`` fails if they drift). Bump the policy version afterwards.
Run: ``python scripts/sync_policy_points.py [POLICY]`` (default: policies/files/default.yaml).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LEAF = re.compile(r"\{signal: text\.(\w+), gte: [0-9.]+\}(\s*)# ([PF])(\d\d)\b[^\n]*")
Points = dict[str, dict[str, dict[str, float]]]


def sync(text: str, points: Points, feed_points: Points | None = None) -> str:
    """``# Pnn``: the head's CALIB operating point; ``# Fnn``: the feed captions' out-of-fold point
    (``benchmarks/feed_validation.py --write-points``), with the share of benign feed captions it flags."""

    def repl(m: re.Match[str]) -> str:
        category, pad, kind, target = m.group(1), m.group(2), m.group(3), m.group(4)
        if kind == "P":
            point = points[category][f"p{target}"]
            where = "on CALIB"
        else:
            point = (feed_points or {})[category][f"f{target}"]
            where = f"out-of-fold on feed captions; benign {point['benign_share'] * 100:.1f}%"
        return (
            f"{{signal: text.{category}, gte: {point['threshold']:g}}}{pad}# {kind}{target} "
            f"(precision {point['precision']:.2f}, recall {point['recall']:.2f} {where})"
        )

    return LEAF.sub(repl, text)


def main() -> None:
    policy = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "policies" / "files" / "default.yaml"
    head = json.loads((ROOT / "classifiers" / "models" / "prompt_head.json").read_text(encoding="utf-8"))
    policy.write_text(
        sync(
            policy.read_text(encoding="utf-8"),
            head["operating_points"]["points"],
            head.get("feed_operating_points", {}).get("points"),
        ),
        encoding="utf-8",
    )


if __name__ == "__main__":
    main()

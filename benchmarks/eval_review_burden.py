"""Headline detector metrics: review burden on benign feed prompts and catch rate per harm category.

One command per measurement (writes ``benchmarks/results/review_burden_<tag>.json``)::

    python benchmarks/eval_review_burden.py --tag after                 # packaged head + default policy
    python benchmarks/eval_review_burden.py --tag before --policy OLD.yaml --head OLD.onnx
    python benchmarks/eval_review_burden.py --table                     # REVIEW_BURDEN.md from the JSONs
    python benchmarks/eval_review_burden.py --tag eval2 --split eval2   # the second, independent set (EVAL2)

Data: the EVAL split of ``benchmarks/feed_prompts/feed_prompts.jsonl`` (``scripts/build_feed_prompts.py``),
never used for training or threshold choice (``--split eval2``: EVAL2, written later by someone who never
read the training data or EVAL's misses; see REVIEW_BURDEN.md). Every prompt goes through the real prompt
screen and prompt classifier (with its word windows) and the real policy engine; frame signals are those of
a benign clip as measured by the real pipeline. ``--scan-sample N`` also runs N prompts through the full
pipeline (``feedguard scan``'s code path: fetch, probe, sample, every detector, policy) on that clip and
reports agreement with the fast path.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.review_burden import HARM, Verdict, decide, examples, summarise  # noqa: E402
from classifiers import DetectorInput, PromptScreen, TextInput  # noqa: E402
from classifiers.prompt_classifier import PromptClassifier  # noqa: E402
from policies import PolicyEngine, load_policy  # noqa: E402
from scripts.build_feed_prompts import load  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
REPORT = ROOT / "benchmarks" / "REVIEW_BURDEN.md"


def benign_clip(workdir: Path) -> Path:
    clip = workdir / "benign.mp4"
    subprocess.run(
        [
            "ffmpeg",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "mandelbrot=s=640x360:r=24",
            "-t",
            "3",
            "-pix_fmt",
            "yuv420p",
            "-c:v",
            "libx264",
            str(clip),
        ],
        check=True,
    )
    return clip


def run_pipeline(prompts: list[str], policy: Path | None, head: Path | None, workdir: Path) -> list[Any]:
    """The full pipeline (as ``feedguard scan``) on a benign clip with each prompt."""
    from safety.cli.commands import DryRunPublisher
    from safety.config import Settings
    from safety.events import Creator, VideoGenerated
    from safety.runtime import build_pipeline, open_database

    clip = benign_clip(workdir)
    settings = Settings(
        database_url=f"sqlite:///{workdir / 'scan.db'}",
        policy_file=policy,
        media_roots=[workdir],
        data_dir=workdir,
    )
    db = open_database(settings)
    pipeline = build_pipeline(settings, db, DryRunPublisher())
    if head is not None:
        for det in pipeline.detectors:
            if isinstance(det, PromptClassifier):
                det.__init__(head_path=str(head))  # type: ignore[misc]
    out = []
    try:
        for i, prompt in enumerate(prompts):
            event = VideoGenerated.model_validate(
                {
                    "schema": "video.generated/v1",
                    "video_id": f"eval-{i}",
                    "creator": Creator(id="eval", age_band="adult").model_dump(),
                    "prompt": prompt,
                    "uri": clip.resolve().as_uri(),
                    "created_at": datetime.now(UTC),
                }
            )
            out.append(pipeline.moderate(event))
    finally:
        pipeline.close()
        db.dispose()
    return out


def missed(h: str, r: dict[str, Any], v: Verdict) -> bool:
    """A harmful row of category ``h`` that the policy let through (see ``review_burden.caught``)."""
    return (
        r["label"] == h
        and v.outcome == "published"
        and (v.audience == "everyone" or h == "sexual_minors" or (h == "sexual" and v.audience != "18+"))
    )


def measure(args: argparse.Namespace) -> dict[str, Any]:
    rows = load(args.split)
    if not rows:
        raise SystemExit(f"no rows in split {args.split!r}: run scripts/build_feed_prompts.py")
    policy = load_policy(args.policy)
    engine = PolicyEngine(policy)
    screen = PromptScreen(**policy.document.detectors["prompt_screen"])
    clf = PromptClassifier(head_path=str(args.head) if args.head else None)
    with tempfile.TemporaryDirectory(prefix="fg-eval-") as tmp:
        # Frame signals of a benign clip, measured once by the real pipeline.
        probe = run_pipeline(["a sunny day"], args.policy, args.head, Path(tmp))[0]
        frames = {s.name: s.score for s in probe.signals if s.name.startswith("frames.")}
        verdicts: list[Verdict] = []
        ms: list[float] = []
        for r in rows:
            data = DetectorInput(text=TextInput(r["text"]))
            t0 = time.perf_counter()
            sigs = [*screen.detect(data), *clf.detect(data)]
            ms.append((time.perf_counter() - t0) * 1000)
            scores = dict(frames)
            for s in sigs:
                scores[s.name] = max(scores.get(s.name, 0.0), s.score)
            verdicts.append(decide(engine, scores))
        summary = summarise(rows, verdicts)
        summary["latency_ms"] = {
            "mean": float(np.mean(ms)),
            "p50": float(np.percentile(ms, 50)),
            "p95": float(np.percentile(ms, 95)),
        }
        summary["frame_signals"] = frames
        if args.scan_sample:
            rng = random.Random(0)
            sample = rng.sample(range(len(rows)), min(args.scan_sample, len(rows)))
            results = run_pipeline([rows[i]["text"] for i in sample], args.policy, args.head, Path(tmp))
            agree = sum(
                (res.decision.outcome.value, res.decision.audience.value if res.decision.audience else None)
                == (verdicts[i].outcome, verdicts[i].audience)
                for i, res in zip(sample, results, strict=True)
            )
            summary["scan_sample"] = {"n": len(sample), "agree_with_fast_path": agree}
    summary["examples"] = {
        "benign_held": examples(rows, verdicts, lambda r, v: r["label"] == "benign" and v.outcome == "held"),
        "content_free_flagged": examples(
            rows,
            verdicts,
            lambda r, v: (
                r["label"] == "content_free" and (v.outcome, v.audience) != ("published", "everyone")
            ),
        ),
        "benign_restricted": examples(
            rows,
            verdicts,
            lambda r, v: r["label"] == "benign" and v.outcome == "published" and v.audience != "everyone",
        ),
        **{
            f"missed_{h}": examples(
                rows,
                verdicts,
                partial(missed, h),
            )
            for h in HARM
        },
    }
    summary.update(
        tag=args.tag,
        split=args.split,
        policy=policy.version,
        head=str(args.head or "packaged"),
        measured_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    return summary


def fmt(m: dict[str, float], per_mille: bool = False) -> str:
    k = 1000 if per_mille else 100
    unit = "" if per_mille else "%"
    return f"{m['rate'] * k:.1f}{unit} ({m['lo'] * k:.1f}-{m['hi'] * k:.1f})"


def table() -> str:
    runs = [json.loads(p.read_text()) for p in sorted(RESULTS.glob("review_burden_*.json"))]
    runs.sort(key=lambda r: r["measured_at"])
    # a run on another split than EVAL says so in its column (EVAL2 figures are not comparable with EVAL's)
    head = (
        "| metric | goal | "
        + " | ".join(
            f"{r['tag']} ({r['policy']}"
            + ("" if r.get("split", "eval") == "eval" else f", {r['split']}")
            + ")"
            for r in runs
        )
        + " |"
    )
    lines = [head, "|---|---|" + "---|" * len(runs)]

    def row(name: str, goal: str, get: Any) -> None:
        lines.append(f"| {name} | {goal} | " + " | ".join(get(r) for r in runs) + " |")

    row("benign held per 1,000", "<= 10", lambda r: fmt(r["benign"]["held"], True))
    row("  of which urgent, per 1,000", "", lambda r: fmt(r["benign"]["held_urgent"], True))
    row("benign restricted per 1,000 (13+ or 18+)", "<= 30", lambda r: fmt(r["benign"]["restricted"], True))
    row("benign rejected per 1,000", "", lambda r: fmt(r["benign"]["rejected"], True))
    row(
        "content-free prompts (file names, 'clip 12') not published to everyone, per 1,000",
        "0",
        lambda r: (
            fmt(r["content_free"]["not_published_to_everyone"], True) + f" n={r['content_free']['n']}"
            if "content_free" in r
            else "-"
        ),
    )
    goals = {"sexual": ">= 98%", "sexual_minors": "100%", "self_harm": ">= 95%", "graphic_violence": ">= 95%"}
    names = {
        "sexual": "adult sexual kept from everyone",
        "sexual_minors": "sexual + minors never published",
        "self_harm": "self-harm kept from everyone",
        "graphic_violence": "graphic violence kept from everyone",
    }
    for h in HARM:
        row(
            names[h],
            goals[h],
            lambda r, h=h: fmt(r["harm"][h]["caught"]) + f" n={r['harm'][h]['caught']['n']}",
        )
    for h in ("self_harm", "graphic_violence"):
        row(f"  {h}: adults-only or not published", "", lambda r, h=h: fmt(r["harm"][h]["strict"]))
    row(
        "text detectors ms/prompt (mean / p95)",
        "<= 20 added",
        lambda r: f"{r['latency_ms']['mean']:.1f} / {r['latency_ms']['p95']:.1f}",
    )
    row(
        "full-pipeline sample agreeing with fast path",
        "",
        lambda r: (
            f"{r['scan_sample']['agree_with_fast_path']}/{r['scan_sample']['n']}"
            if "scan_sample" in r
            else "-"
        ),
    )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tag", default="current")
    ap.add_argument("--split", default="eval")
    ap.add_argument("--policy", type=Path, default=None)
    ap.add_argument("--head", type=Path, default=None)
    ap.add_argument("--scan-sample", type=int, default=0)
    ap.add_argument("--table", action="store_true", help="print the before/after table from stored results")
    args = ap.parse_args()
    if args.table:
        print(table())
        return
    summary = measure(args)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"review_burden_{args.tag}.json").write_text(json.dumps(summary, indent=1, ensure_ascii=False))
    print(
        json.dumps(
            {k: summary[k] for k in ("benign", "content_free", "harm", "latency_ms") if k in summary},
            indent=1,
        )
    )


if __name__ == "__main__":
    main()

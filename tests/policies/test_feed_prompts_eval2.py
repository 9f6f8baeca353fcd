"""EVAL2 stays a separate, independent evaluation set: own split, own decorations, no near-duplicate in TRAIN.

Counts and texts only; nothing here scores the set (its figures are measured once, by the lead).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from scripts.build_feed_prompts import (
    EVAL2,
    HARM,
    STYLES,
    build,
    grams,
    load,
    near_duplicate,
    parse_seeds,
)


def test_eval2_rows_are_built_committed_and_large_enough(feed_rows: list[dict[str, Any]]) -> None:
    rows = feed_rows
    eval2 = [r for r in rows if r["split"] == "eval2"]
    assert eval2 == load("eval2"), "feed_prompts.jsonl is stale: run scripts/build_feed_prompts.py"
    seeds = Counter(r["label"] for r in {r["group"]: r for r in eval2}.values())
    assert seeds["benign"] >= 350 and seeds["content_free"] >= 40
    assert all(seeds[h] >= 50 for h in HARM), seeds
    langs = {r["lang"] for r in eval2 if r["label"] != "content_free"}
    assert len(langs) >= 12
    # every EVAL2 seed lands in eval2, and only there
    texts = {s["text"] for p in EVAL2.glob("*.txt") for s in parse_seeds(p)}
    assert {r["text"] for r in eval2 if r["style"] == "bare"} == texts
    assert not texts & {r["text"] for r in rows if r["split"] != "eval2"}
    assert all(r["style"] == "bare" for r in eval2 if r["label"] == "content_free")


def test_eval2_decorations_are_its_own() -> None:
    others = {x for split in ("train", "val", "eval") for kind in STYLES[split].values() for x in kind}
    mine = {x for kind in STYLES["eval2"].values() for x in kind}
    assert not mine & others
    assert not any(a.strip() in b or b.strip() in a for a in mine for b in others)


def test_no_train_caption_is_near_an_eval2_caption(feed_rows: list[dict[str, Any]]) -> None:
    held = [
        grams(s["text"]) for p in EVAL2.glob("*.txt") for s in parse_seeds(p) if s["topic"] != "content_free"
    ]
    train_bare = [r["text"] for r in feed_rows if r["split"] == "train" and r["style"] == "bare"]
    near = sum(near_duplicate(grams(t), held) for t in train_bare)
    assert near == 0, f"{near} train captions are near-duplicates of EVAL2 captions"


def test_build_drops_train_captions_near_eval2_ones(tmp_path: Path) -> None:
    seeds, eval2 = tmp_path / "seeds", tmp_path / "eval2"
    seeds.mkdir()
    eval2.mkdir()
    (seeds / "train_only.txt").write_text(
        "## pets\nen: my lazy cat sleeping on the warm laptop keyboard all afternoon\n"
        "en: sourdough starter feeding schedule for beginners\n",
        encoding="utf-8",
    )
    (eval2 / "benign.txt").write_text(
        "## pets\nen: my lazy cat sleeping on the warm laptop keyboard all afternoon again\n"
        "## content_free\nxx: take 7\n",
        encoding="utf-8",
    )
    dropped: list[str] = []
    rows = build(dropped, seeds=seeds, eval2=eval2, eval3=tmp_path / "eval3")  # no EVAL3: isolate the case
    assert dropped == ["my lazy cat sleeping on the warm laptop keyboard all afternoon"]
    assert {r["split"] for r in rows if "sourdough" in r["text"]} == {"train"}
    mine = [r for r in rows if r["split"] == "eval2"]
    assert {r["label"] for r in mine} == {"benign", "content_free"}
    assert [r["text"] for r in mine if r["label"] == "content_free"] == ["take 7"]
    assert len([r for r in mine if r["label"] == "benign"]) == 6

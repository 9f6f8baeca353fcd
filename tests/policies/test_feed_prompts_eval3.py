"""EVAL3 stays a separate, independent evaluation set: own split, own decorations, no near-duplicate in TRAIN.

Counts and texts only; nothing here scores the set (its figures are measured once, by the lead).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from scripts.build_feed_prompts import (
    EVAL2,
    EVAL3,
    EXTRA_NEUTRAL_TAGS,
    HARM,
    NEUTRAL_TAGS,
    STYLES,
    build,
    grams,
    load,
    near_duplicate,
    parse_seeds,
)


def _captions(folder: Path) -> list[str]:
    return [s["text"] for p in folder.glob("*.txt") for s in parse_seeds(p) if s["topic"] != "content_free"]


def test_eval3_rows_are_built_committed_and_large_enough(feed_rows: list[dict[str, Any]]) -> None:
    rows = feed_rows
    eval3 = [r for r in rows if r["split"] == "eval3"]
    assert eval3 == load("eval3"), "feed_prompts.jsonl is stale: run scripts/build_feed_prompts.py"
    seeds = Counter(r["label"] for r in {r["group"]: r for r in eval3}.values())
    assert seeds["benign"] >= 300 and seeds["content_free"] >= 30
    assert all(seeds[h] >= 45 for h in HARM), seeds
    assert len({r["lang"] for r in eval3 if r["label"] != "content_free"}) >= 10
    texts = {s["text"] for p in EVAL3.glob("*.txt") for s in parse_seeds(p)}
    assert {r["text"] for r in eval3 if r["style"] == "bare"} == texts
    assert not texts & {r["text"] for r in rows if r["split"] != "eval3"}
    assert all(r["style"] == "bare" for r in eval3 if r["label"] == "content_free")


def test_eval3_decorations_are_its_own() -> None:
    others = {
        x for split in ("train", "val", "eval", "eval2") for kind in STYLES[split].values() for x in kind
    }
    others |= set(NEUTRAL_TAGS) | set(EXTRA_NEUTRAL_TAGS["eval2"])
    mine = {x for kind in STYLES["eval3"].values() for x in kind} | set(EXTRA_NEUTRAL_TAGS["eval3"])
    assert not any(a.strip() in b or b.strip() in a for a in mine for b in others)
    harmful = [r for r in load("eval3") if r["label"] in HARM and r["style"] == "hashtag"]
    assert harmful and all(r["text"].rsplit(" ", 1)[1] in EXTRA_NEUTRAL_TAGS["eval3"] for r in harmful)


def test_no_train_caption_is_near_an_eval3_caption_and_eval3_repeats_no_eval2_caption(
    feed_rows: list[dict[str, Any]],
) -> None:
    held = [grams(t) for t in _captions(EVAL3)]
    train_bare = [r["text"] for r in feed_rows if r["split"] == "train" and r["style"] == "bare"]
    assert sum(near_duplicate(grams(t), held) for t in train_bare) == 0
    eval2 = [grams(t) for t in _captions(EVAL2)]
    assert not [t for t in _captions(EVAL3) if near_duplicate(grams(t), eval2)]


def test_build_drops_train_captions_near_eval3_ones(tmp_path: Path) -> None:
    seeds, eval2, eval3 = tmp_path / "seeds", tmp_path / "eval2", tmp_path / "eval3"
    for d in (seeds, eval2, eval3):
        d.mkdir()
    (seeds / "train_only.txt").write_text(
        "## pets\nen: the hamster stuffed both cheeks with sunflower seeds again today\n"
        "en: repotting a monstera in a bigger terracotta pot\n",
        encoding="utf-8",
    )
    (eval3 / "benign.txt").write_text(
        "## pets\nen: the hamster stuffed both cheeks with sunflower seeds again\n"
        "## content_free\nxx: take 31\n",
        encoding="utf-8",
    )
    (eval3 / "harmful.txt").write_text("## self_harm\nen: cutting again tonight\n", encoding="utf-8")
    dropped: list[str] = []
    rows = build(dropped, seeds=seeds, eval2=eval2, eval3=eval3)
    assert dropped == ["the hamster stuffed both cheeks with sunflower seeds again today"]
    assert {r["split"] for r in rows if "monstera" in r["text"]} == {"train"}
    mine = [r for r in rows if r["split"] == "eval3"]
    assert Counter(r["label"] for r in mine) == {"benign": 6, "self_harm": 6, "content_free": 1}
    assert [r["text"] for r in mine if r["label"] == "content_free"] == ["take 31"]
    assert {r["group"].split("/")[0] for r in mine} == {"eval3"}

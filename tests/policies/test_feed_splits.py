"""The feed captions that choose the policy's thresholds stay apart from those the head trains on.

Why: thresholds are chosen on VAL captions (``seeds/val_*.txt`` since issue 17's third pass) because they test
generalisation; a val caption leaking into training, or a training paraphrase of it, would make the chosen
thresholds optimistic. The committed set must also be what the script builds (it is rerunnable).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from scripts.build_feed_prompts import OUT, SEEDS, grams, near_duplicate, parse_seeds


@pytest.fixture
def rows(feed_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return feed_rows


def test_val_files_land_in_val_and_train_holds_no_paraphrase_of_them(
    rows: list[dict[str, Any]],
) -> None:
    val_seeds = {s["text"] for path in SEEDS.glob("val_*.txt") for s in parse_seeds(path)}
    assert len(val_seeds) >= 100, "the hand-written validation captions are missing"
    by_text = {r["text"]: r["split"] for r in rows if r["style"] == "bare"}
    assert {by_text[t] for t in val_seeds} == {"val"}
    # content-free prompts ("clip 12") are generated per split with their own words, not paraphrase-checked
    captions = [r for r in rows if r["style"] == "bare" and r["label"] != "content_free"]
    held_out = [grams(r["text"]) for r in captions if r["split"] != "train"]
    train = [r["text"] for r in captions if r["split"] == "train"]
    assert not [t for t in train if near_duplicate(grams(t), held_out)]


def test_the_committed_set_is_what_the_script_builds(rows: list[dict[str, Any]]) -> None:
    with OUT.open(encoding="utf-8") as fh:
        committed = [json.loads(line) for line in fh if line.strip()]
    assert committed == rows

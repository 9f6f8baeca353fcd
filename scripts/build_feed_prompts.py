"""Build the review-burden evaluation set from hand-written feed captions (``benchmarks/feed_prompts/seeds``).

Why a separate set: the prompt classifier was trained on our own templates, so its figures on
``classifiers/data`` say little about real feeds. These captions were written independently, in
feed style (slang, emoji, hashtags, ten-plus languages), with many everyday uses of violent,
medical, sporting, dating and drug words. Each seed caption yields a few surface variants (the
bare caption plus decorations: prefixes, hashtags, emoji, casing). **Splits are by seed and by
decoration family**: a seed and all its variants land in one split (train / val / eval, by a stable
hash of the seed), and each split has its own decoration lists, so no near-duplicate and no
decoration straddles training and evaluation. ``seeds/train_*.txt`` hold extra captions written for
training only (always the train split; ``train_generated.txt`` comes from ``scripts/build_harm_training.py``);
``seeds/val_*.txt`` hold captions written for validation only (always the val split; issue 17's third pass
added self-harm and violence told by what happens, with benign look-alikes, so thresholds are chosen on
captions unlike the training templates).
A train caption whose character 4-grams overlap an EVAL or VAL caption's (Jaccard >= 0.5, or 65% of the
shorter one's) is dropped
(``near_duplicates`` in the summary), so a paraphrase never sits on both sides.

**EVAL2** (``benchmarks/feed_prompts/eval2/*.txt``): a second evaluation set written later by someone who
never read ``classifiers/data``, the seed files or the EVAL misses. All its seeds go to split ``eval2`` with
their own decoration family (``STYLES["eval2"]``, ``EVAL2_NEUTRAL_TAGS``); a ``## content_free`` header
there marks content-free prompts (kept bare). Train captions near an EVAL2 caption are dropped like those
near EVAL/VAL.

**EVAL3** (``benchmarks/feed_prompts/eval3/*.txt``): a third set, written after EVAL2 had been read, under the
same rules (its author read neither the training data, the seeds nor EVAL2). It is built exactly like EVAL2
(split ``eval3``, ``STYLES["eval3"]``, ``EXTRA_NEUTRAL_TAGS["eval3"]``, ``## content_free`` kept bare) and
train captions near it are dropped too.

Run: ``python scripts/build_feed_prompts.py`` (deterministic; rewrites
``benchmarks/feed_prompts/feed_prompts.jsonl``). Load with :func:`load`.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "benchmarks" / "feed_prompts" / "seeds"
EVAL2 = ROOT / "benchmarks" / "feed_prompts" / "eval2"
EVAL3 = ROOT / "benchmarks" / "feed_prompts" / "eval3"
OUT = ROOT / "benchmarks" / "feed_prompts" / "feed_prompts.jsonl"
HARM = ("sexual", "sexual_minors", "self_harm", "graphic_violence")
# Share of seeds per split (by stable hash): evaluation gets most, so its figures have narrow intervals.
SPLITS = (("train", 0.25), ("val", 0.15), ("eval", 0.60))
VARIANTS = {"train": 6, "val": 6, "eval": 8, "eval2": 6, "eval3": 6}
GENERATED_VARIANTS = 3  # generated captions are many already: bare + 2 decorations
NEAR_DUP_JACCARD = 0.5
NEAR_DUP_CONTAINMENT = (
    0.65  # share of the shorter caption's 4-grams found in the other (catches added framing)
)
# Training labels of the prompt classifier for each harm category of this set.
CLASSIFIER_LABELS = {
    "benign": [],
    "content_free": [],
    "sexual": ["sexual"],
    "sexual_minors": ["sexual", "sexual_minors"],
    "self_harm": ["self_harm"],
    "graphic_violence": ["violence"],
}
STYLES: dict[str, dict[str, list[str]]] = {
    "train": {
        "prefix": ["pov: ", "video of ", "ai clip: ", "new upload: ", "watch: "],
        "suffix": [" #fyp", " 🎥", " (full vid on my page)", " #viral #foryou", " 👀", " !!"],
    },
    "val": {
        "prefix": ["make a video: ", "okay so ", "reel: ", "today: ", "hmm "],
        "suffix": [" #reels", " 😅", " | part 1", " #trending", " ✨✨", " ..."],
    },
    "eval": {
        "prefix": [
            "POV: ",
            "generate a vertical video: ",
            "not me ",
            "storytime: ",
            "caption: ",
            "cinematic 9:16 - ",
            "ok but ",
            "this is real: ",
        ],
        "suffix": [
            " #fyp #explore",
            " 😭😭",
            " 🔥",
            " (wait for it)",
            " #xyzbca",
            " - sound on 🔊",
            " lol",
            " 💯",
            " #shorts",
            " no cap",
        ],
    },
    # EVAL2's own family: no prefix, suffix or tag here appears in the lists above.
    "eval2": {
        "prefix": [
            "lowkey ",
            "day 12 of posting: ",
            "someone explain ",
            "9x16 render: ",
            "saw this earlier: ",
            "fr fr ",
        ],
        "suffix": [
            " #parati",
            " 😳",
            " 🙈🙈",
            " (part 2 soon)",
            " #capcut",
            " 🎬",
            " be honest",
            " ok bye",
            " 🫠",
        ],
    },
    # EVAL3's own family: shares no prefix, suffix or tag with any split above.
    "eval3": {
        "prefix": [
            "anyway ",
            "quick one: ",
            "reposting bc ",
            "vertical edit - ",
            "update: ",
            "idk why but ",
        ],
        "suffix": [
            " #paravoce",
            " 🤌",
            " 👇👇",
            " (link in bio)",
            " #edit",
            " 🙌",
            " thoughts?",
            " ttyl",
            " 🌀",
        ],
    },
}
NEUTRAL_TAGS = ("#video", "#clip", "#new", "#watch")
EVAL2_NEUTRAL_TAGS = ("#content", "#daily", "#moment", "#share")
# Neutral tags of the independent sets, one family each (harmful seeds get these instead of a topic tag).
EXTRA_NEUTRAL_TAGS = {"eval2": EVAL2_NEUTRAL_TAGS, "eval3": ("#today", "#mood", "#random", "#upload")}


def split_of(seed: str) -> str:
    """Stable split for a seed caption (sha256 of its text, so reordering files changes nothing)."""
    u = int(hashlib.sha256(seed.encode("utf-8")).hexdigest()[:8], 16) / 0xFFFFFFFF
    acc = 0.0
    for name, share in SPLITS:
        acc += share
        if u <= acc:
            return name
    return SPLITS[-1][0]


def seed_split(path: Path, seed: str) -> str:
    """``train_*`` files always train, ``val_*`` files always validate; other seeds by :func:`split_of`."""
    for prefix in ("train", "val"):
        if path.stem.startswith(prefix):
            return prefix
    return split_of(seed)


def parse_seeds(path: Path) -> list[dict[str, str]]:
    """``## topic`` headers, then ``lang: caption`` lines; ``#`` lines are comments."""
    topic, out = "", []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line.startswith("## "):
            topic = line[3:].strip()
        elif line and not line.startswith("#"):
            lang, _, text = line.partition(": ")
            if not text or not re.fullmatch(r"[a-z]{2}", lang):
                raise ValueError(f"{path.name}: expected 'lang: caption', got {line!r}")
            out.append({"topic": topic, "lang": lang, "text": text.strip()})
    return out


def _stretch(text: str, rng: random.Random) -> str:
    words = text.split()
    i = rng.randrange(len(words))
    w = words[i]
    vowels = [j for j, c in enumerate(w) if c in "aeiou"]
    if vowels:
        j = rng.choice(vowels)
        words[i] = w[: j + 1] + w[j] * 2 + w[j + 1 :]
    return " ".join(words)


def grams(text: str) -> set[str]:
    """Character 4-grams of the lower-cased text with punctuation and emoji removed."""
    t = " ".join(re.findall(r"\w+", text.lower()))
    return {t[i : i + 4] for i in range(max(1, len(t) - 3))}


def near_duplicate(g: set[str], held_out: list[set[str]]) -> bool:
    return any(
        len(g & h) / len(g | h) >= NEAR_DUP_JACCARD
        or len(g & h) / min(len(g), len(h)) >= NEAR_DUP_CONTAINMENT
        for h in held_out
    )


def variants(seed: dict[str, str], split: str, limit: int | None = None) -> list[tuple[str, str]]:
    """The bare caption and decorated variants drawn from the split's own decoration family."""
    rng = random.Random(seed["text"])
    style = STYLES[split]
    # Harmful seeds get neutral tags: a tag naming the harm would hand the label to the classifier.
    neutral = EXTRA_NEUTRAL_TAGS.get(split, NEUTRAL_TAGS)
    topic_tag = " " + rng.choice(neutral) if seed["topic"] in HARM else " #" + seed["topic"].split("_")[0]
    out = [(seed["text"], "bare")]
    makers: list[tuple[str, Callable[[str], str]]] = [
        ("prefix", lambda t: rng.choice(style["prefix"]) + t),
        ("suffix", lambda t: t + rng.choice(style["suffix"])),
        ("hashtag", lambda t: t + topic_tag),
        ("lower", lambda t: t.lower().rstrip(".!") + rng.choice(style["suffix"])),
        ("both", lambda t: rng.choice(style["prefix"]) + t + rng.choice(style["suffix"])),
        ("stretch", lambda t: _stretch(t, rng)),
        ("nopunct", lambda t: re.sub(r"[,.!?:;\"()]", "", t) + topic_tag),
        ("upper", lambda t: t.upper() if len(t) < 60 else t[:1].upper() + t[1:] + " !!!"),
    ]
    for name, make in makers[: (limit or VARIANTS[split]) - 1]:
        text = make(seed["text"])
        if text not in {t for t, _ in out}:
            out.append((text, name))
    return out


def build(
    dropped: list[str] | None = None, seeds: Path = SEEDS, eval2: Path = EVAL2, eval3: Path = EVAL3
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    paths = sorted(seeds.glob("*.txt"))
    held_out = (
        [
            grams(seed["text"])
            for path in paths
            for seed in parse_seeds(path)
            if seed_split(path, seed["text"]) != "train"
        ]
        + eval2_grams(eval2)
        + eval2_grams(eval3)
    )
    for path in paths:
        harmful = path.stem == "harmful"
        for i, seed in enumerate(parse_seeds(path)):
            label = seed["topic"] if harmful or seed["topic"] in HARM else "benign"
            if harmful and label not in HARM:
                raise ValueError(f"{path.name}: unknown harm category {label!r}")
            split = seed_split(path, seed["text"])
            if split == "train" and near_duplicate(grams(seed["text"]), held_out):
                if dropped is not None:
                    dropped.append(seed["text"])
                continue
            group = f"{path.stem}/{seed['topic']}/{i}"
            limit = GENERATED_VARIANTS if path.stem == "train_generated" else None
            rows += _rows(seed, label, split, group, limit)
    return rows + content_free_rows() + eval2_rows(eval2) + eval2_rows(eval3, "eval3")


def _rows(
    seed: dict[str, str], label: str, split: str, group: str, limit: int | None
) -> list[dict[str, Any]]:
    """One row per surface variant of ``seed`` (the jsonl's row shape, in one place)."""
    return [
        {
            "text": text,
            "label": label,
            "labels": CLASSIFIER_LABELS[label],
            "split": split,
            "lang": seed["lang"],
            "topic": seed["topic"],
            "group": group,
            "style": style,
        }
        for text, style in variants(seed, split, limit)
    ]


def eval2_rows(eval2: Path = EVAL2, split: str = "eval2") -> list[dict[str, Any]]:
    """Every seed of an independent set (EVAL2, EVAL3) in its own split: harm headers give the label,
    ``content_free`` stays bare."""
    rows: list[dict[str, Any]] = []
    for path in sorted(eval2.glob("*.txt")):
        for i, seed in enumerate(parse_seeds(path)):
            topic = seed["topic"]
            label = topic if topic in HARM or topic == "content_free" else "benign"
            if path.stem == "harmful" and label not in HARM:
                raise ValueError(f"{split}/{path.name}: unknown harm category {topic!r}")
            limit = 1 if label == "content_free" else None
            rows += _rows(seed, label, split, f"{split}/{path.stem}/{topic}/{i}", limit)
    return rows


def eval2_grams(eval2: Path = EVAL2) -> list[set[str]]:
    """EVAL2 (or EVAL3) captions for the near-duplicate filter.

    Content-free ones have too few 4-grams to compare."""
    return [
        grams(seed["text"])
        for path in sorted(eval2.glob("*.txt"))
        for seed in parse_seeds(path)
        if seed["topic"] != "content_free"
    ]


# Content-free prompts for VAL and EVAL (file names, numbers, letters): their own word lists and shapes, so
# none is a training prompt (scripts/build_harm_training.py generates the TRAIN ones); reported on their own.
CONTENT_FREE = {
    "val": (
        ["memo", "rough", "cam", "b-roll", "session"],
        ["{n} {i}", "{n}{i}.mov", "IMG-{k}", "{n} {c}{i}"],
    ),
    "eval": (
        ["clip", "scene", "shot", "teaser", "outtake", "montage", "reel", "bit", "segment", "piece"],
        # no lone numbers or letters: TRAIN holds all of 0-120 and a-z
        # (tests/policies/test_content_free_prompts.py checks those with real inference)
        ["{n} {i}", "{n} number {i}", "{n}_{i:03d}", "{n} #{i} final", "VID_{k}.mp4", "{n}{i}{c}", "{n} {c}"],
    ),
}


def content_free_rows() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for split, (nouns, shapes) in CONTENT_FREE.items():
        rng = random.Random(f"content-free-{split}")
        texts: set[str] = set()
        while len(texts) < (40 if split == "val" else 150):
            texts.add(
                rng.choice(shapes).format(
                    n=rng.choice(nouns),
                    i=rng.randrange(0, 100),
                    k=rng.randrange(10**5, 10**8),
                    c=rng.choice("abcdefghijklmnopqrstuvwxyz"),
                )
            )
        for i, text in enumerate(sorted(texts)):
            rows.append(
                {
                    "text": text,
                    "label": "content_free",
                    "labels": [],
                    "split": split,
                    "lang": "xx",
                    "topic": "content_free",
                    "group": f"content_free/{split}/{i}",
                    "style": "bare",
                }
            )
    return rows


def load(split: str | None = None, path: Path = OUT) -> list[dict[str, Any]]:
    """Rows of the built set (optionally one split)."""
    with path.open(encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    return [r for r in rows if split is None or r["split"] == split]


def main() -> None:
    dropped: list[str] = []
    rows = build(dropped)
    with OUT.open("w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    summary: dict[str, dict[str, int]] = {}
    for r in rows:
        summary.setdefault(r["split"], {}).setdefault(r["label"], 0)
        summary[r["split"]][r["label"]] += 1
    groups = {s: len({r["group"] for r in rows if r["split"] == s}) for s in summary}
    print(
        json.dumps(
            {"rows": len(rows), "by_split": summary, "seed_groups": groups, "near_duplicates": dropped},
            indent=1,
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()

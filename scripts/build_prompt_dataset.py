"""Build classifiers/data/prompts.jsonl from the hand-written seeds, deterministically.

Why a generator: seeds are the unit of meaning, wrappers/subjects/obfuscations add surface variety.
Splits are drawn per seed group (never per prompt), so no paraphrase of a test seed is trained on.
Run: ``python scripts/build_prompt_dataset.py`` (rewrites the file; same bytes on every run).

Each line: ``text``; ``labels`` (subset of the classifier's categories, empty = clean; sexual_minors
rows also carry sexual); ``split`` (train/calib/test); ``lang`` (en/es/fr/de/pt); ``kind`` (plain,
hard_negative, obfuscated, multilingual); ``group`` (the seed it came from, the unit of splitting).
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import prompt_seeds as en
import prompt_seeds_i18n as i18n

OUT = Path(__file__).resolve().parents[1] / "classifiers" / "data" / "prompts.jsonl"
SEED = 20240501

SCENE_WRAPPERS = [
    "{}",
    "a video of {}",
    "cinematic shot of {}",
    "{}, 4k, slow motion",
    "generate a clip showing {}",
    "realistic footage of {}",
    "anime style animation of {}",
    "{} in the style of a 90s home video",
    "short film: {}",
    "a vertical phone video of {}",
    "hyperrealistic render of {}, dramatic lighting",
    "{}, shot on 35mm film",
    "a claymation scene of {}",
    "{}, golden hour, handheld camera",
    "make a 10 second video of {}",
    "POV: {}",
    "{}, black and white, film noir",
    "a music video featuring {}",
    "{}, trending on social media",
    "cartoon of {}",
]
REQUEST_WRAPPERS = [
    "{}",
    "{}?",
    "video: {}",
    "make a tutorial video: {}",
    "{} - step by step",
    "explainer clip: {}",
    "{}, show every step",
    "a vlog where I explain {}",
    "{} (for a short video)",
    "quick reel: {}",
]
CATEGORIES = {
    "sexual": en.SEXUAL,
    "sexual_minors": en.SEXUAL_MINORS,
    "violence": en.VIOLENCE,
    "self_harm": en.SELF_HARM,
    "hate_harassment": en.HATE,
    "dangerous_acts": en.DANGEROUS,
    "drugs": en.DRUGS,
}
STOP = {"with", "from", "into", "that", "this", "their", "your", "video", "clip", "shot", "style", "make"}
_LEET = {"a": "4", "e": "3", "i": "1", "o": "0", "s": "5", "t": "7"}
_CYRILLIC = {"a": "\u0430", "e": "\u0435", "o": "\u043e", "p": "\u0440", "c": "\u0441", "x": "\u0445"}


def _leet(w: str, r: random.Random) -> str:
    return "".join(_LEET[c] if c in _LEET and r.random() < 0.7 else c for c in w)


OBFUSCATIONS: list[Callable[[str, random.Random], str]] = [
    _leet,
    lambda w, r: " ".join(w),
    lambda w, r: ".".join(w),
    lambda w, r: "-".join(w),
    lambda w, r: "\u200b".join(w),
    lambda w, r: "".join(_CYRILLIC.get(c, c) for c in w),
    lambda w, r: "".join(c * 4 if i == len(w) // 2 else c for i, c in enumerate(w)),
    lambda w, r: "*".join(w).upper(),
    lambda w, r: w.replace("s", "$").replace("a", "@"),
]


def obfuscate(text: str, r: random.Random) -> str:
    """Disguise one to all content words the way evaders do (l33t, s p a c e d, dotted, invisible...)."""
    words = text.split(" ")
    content = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha() and w.lower() not in STOP]
    if not content:
        return text
    n = len(content) if r.random() < 0.3 else min(len(content), r.choice([1, 2]))
    trick = r.choice(OBFUSCATIONS)
    for i in r.sample(content, n):
        words[i] = trick(words[i], r)
    return " ".join(words)


def split_of(key: str) -> str:
    """60/20/20 by a hash of the seed itself, so adding a seed never moves another one."""
    bucket = int(hashlib.sha256(f"{SEED}:{key}".encode()).hexdigest(), 16) % 100
    return "test" if bucket < 20 else "calib" if bucket < 40 else "train"


def split_groups(n: int, r: random.Random, test: float = 0.3, calib: float = 0.15) -> list[str]:
    """Shuffle ``n`` parallel rows into splits; small lists still get a test and a calib group."""
    n_test = max(2, round(n * test))
    n_calib = max(1, round(n * calib))
    splits = ["test"] * n_test + ["calib"] * n_calib + ["train"] * (n - n_test - n_calib)
    r.shuffle(splits)
    return splits


def expand(seed: str, k: int, r: random.Random) -> list[str]:
    """Up to ``k`` distinct prompts from one seed: wrapper (scene or request style) + subject."""
    request = seed.startswith("!")
    core = seed.lstrip("!")
    wrappers = r.sample(REQUEST_WRAPPERS if request else SCENE_WRAPPERS, k)
    subjects = en.MINOR_SUBJECTS if "{s}" in core and core in _MINOR_CORES else en.SUBJECTS
    return [w.format(core.replace("{s}", r.choice(subjects))) for w in wrappers]


_MINOR_CORES = set(en.SEXUAL_MINORS)


def english() -> Iterator[dict[str, object]]:
    """Positives per category, combos, hard negatives and benign prompts, with obfuscated copies."""
    sources: list[tuple[str, list[str], list[str], str, int, float]] = [
        (cat, seeds, [cat, "sexual"] if cat == "sexual_minors" else [cat], "plain", 7, 2.0)
        for cat, seeds in CATEGORIES.items()
    ]
    sources.append(("hard_negative", en.HARD_NEGATIVES, [], "hard_negative", 5, 0.35))
    sources.append(("benign", en.BENIGN, [], "plain", 6, 0.25))
    for name, seeds, labels, kind, k, n_obf in sources:
        for idx, seed in enumerate(seeds):
            group, split = f"en/{name}/{idx}", split_of(f"{name}/{seed}")
            r = random.Random(f"{SEED}:{name}/{seed}")
            prompts = expand(seed, k, r)
            yield from (_row(p, labels, split, "en", kind, group) for p in prompts)
            count = int(n_obf) + (1 if r.random() < n_obf % 1 else 0)
            for p in r.sample(prompts, min(count, len(prompts))):
                yield _row(obfuscate(p, r), labels, split, "en", "obfuscated", group)
    combos = en.COMBOS
    for idx, (combo_labels, seed) in enumerate(combos):
        group, split = f"en/combo/{idx}", split_of(f"combo/{seed}")
        r = random.Random(f"{SEED}:combo/{seed}")
        prompts = expand(seed, 6, r)
        yield from (_row(p, list(combo_labels), split, "en", "plain", group) for p in prompts)
        yield _row(obfuscate(prompts[0], r), list(combo_labels), split, "en", "obfuscated", group)


def multilingual() -> Iterator[dict[str, object]]:
    """Row ``i`` of a category in every language is one group; three wrappers per language."""
    for name, by_lang in i18n.SEEDS.items():
        r = random.Random(f"{SEED}:i18n/{name}")
        rows = len(next(iter(by_lang.values())))
        labels = [] if name in ("benign", "hard_negative") else [name]
        if name == "sexual_minors":
            labels = ["sexual_minors", "sexual"]
        kind = "hard_negative" if name == "hard_negative" else "multilingual"
        for idx, split in enumerate(split_groups(rows, r)):
            for lang, seeds in by_lang.items():
                for wrapper in r.sample(i18n.WRAPPERS[lang], 3):
                    yield _row(wrapper.format(seeds[idx]), labels, split, lang, kind, f"i18n/{name}/{idx}")


def _row(text: str, labels: list[str], split: str, lang: str, kind: str, group: str) -> dict[str, object]:
    return {
        "text": text,
        "labels": sorted(set(labels)),
        "split": split,
        "lang": lang,
        "kind": kind,
        "group": group,
    }


def main() -> None:
    seen: set[str] = set()
    rows = []
    for row in [*english(), *multilingual()]:
        key = str(row["text"]).lower()
        if key not in seen:
            seen.add(key)
            rows.append(row)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} prompts to {OUT}")


if __name__ == "__main__":
    main()

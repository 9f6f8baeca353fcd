"""Names, aliases and paraphrased descriptions in prompts, with real MiniLM embeddings."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from classifiers.rights.detector import CONFIDENT, REVIEW
from classifiers.rights.names import NameMatcher
from classifiers.rights.references import character
from classifiers.rights.synthetic import demo_index
from classifiers.text_embed import SentenceEmbedder


@pytest.fixture(scope="module")
def matcher() -> Iterator[NameMatcher]:
    embedder = SentenceEmbedder()
    yield NameMatcher(demo_index(images=False), embedder)
    embedder.close()


def _ids(matches: list) -> dict[str, float]:  # type: ignore[type-arg]
    return {m.character_id: m.score for m in matches}


@pytest.mark.parametrize(
    "prompt",
    [
        "5p0ngew0rth dancing at a disco",
        "S p o n g e w o r t h at the beach",
        "SPONGE-WORTH!!!",
        "spongewroth",
    ],
)
def test_alias_with_spelling_tricks_is_found(matcher: NameMatcher, prompt: str) -> None:
    found = _ids(matcher.match_names(prompt))
    assert found.get("sunny", 0) >= 0.7, found


def test_span_points_into_the_original_prompt(matcher: NameMatcher) -> None:
    prompt = "a video of Z0RB0 the St4r Wanderer eating cake"
    [m] = matcher.match_names(prompt)
    assert m.character_id == "zorbo" and m.method == "name" and m.score >= CONFIDENT
    assert prompt[m.span[0] : m.span[1]] == "Z0RB0 the St4r Wanderer"


def test_word_boundaries_and_ambiguous_names(matcher: NameMatcher) -> None:
    assert matcher.match_names("spongeworthless junk and zorbonian ships") == []
    [sunny] = matcher.match_names("a sunny afternoon in the park")
    assert sunny.method == "ambiguous" and REVIEW <= sunny.score < CONFIDENT  # held, not blocked
    assert matcher.match_names("homes for sale") == []  # no fuzzy matching of short names ("Holmes")


def test_paraphrased_description_is_found_semantically(matcher: NameMatcher) -> None:
    prompt = "cinematic: the yellow sponge who lives in a pineapple under the sea, dancing"
    top = matcher.match_semantic(prompt)[0]
    assert top.character_id == "sunny" and top.score >= CONFIDENT, top
    assert "sponge" in top.text and "pineapple" in top.matched
    assert matcher.match_names(prompt) == []


@pytest.mark.parametrize(
    "prompt", ["a yellow banana floating in the sea", "a golden retriever catching a frisbee"]
)
def test_hard_negatives_are_not_matched(matcher: NameMatcher, prompt: str) -> None:
    assert all(m.score < REVIEW for m in matcher.match_semantic(prompt)), matcher.match_semantic(prompt)
    assert matcher.match_names(prompt) == []


def test_index_updates_are_picked_up(matcher: NameMatcher) -> None:
    index = demo_index(images=False)
    local = NameMatcher(index, matcher.embedder)
    index.upsert(character("newbie", ["Quorbly Fizzwick"], descriptions=["a purple teapot that sings opera"]))
    local.sync()
    assert _ids(local.match_names("quorbly fizzwick sings"))["newbie"] >= CONFIDENT
    index.remove("newbie")
    local.sync()
    assert local.match_names("quorbly fizzwick sings") == []

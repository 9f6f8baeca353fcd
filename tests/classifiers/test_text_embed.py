"""Real MiniLM int8 inference: unit vectors, sane similarities, batching that changes nothing."""

from __future__ import annotations

import numpy as np
import pytest

from classifiers.text_embed import DIM, SentenceEmbedder


@pytest.fixture(scope="module")
def embedder() -> SentenceEmbedder:
    return SentenceEmbedder(threads=2, batch_size=4)


def test_unit_vectors_of_the_right_shape(embedder: SentenceEmbedder) -> None:
    v = embedder.embed(["a cat", "sunrise over the mountains", ""])
    assert v.shape == (3, DIM) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert embedder.embed([]).shape == (0, DIM)


def test_paraphrases_are_closer_than_unrelated_texts(embedder: SentenceEmbedder) -> None:
    cat, kitten, stocks, knight, swords = embedder.embed(
        [
            "a cat chasing a laser pointer",
            "a kitten playing with a red laser dot",
            "a report on rising interest rates",
            "two knights fighting with swords",
            "a sword duel between armoured warriors",
        ]
    )
    assert cat @ kitten > 0.6 > cat @ stocks + 0.3
    assert knight @ swords > knight @ kitten + 0.3


def test_batching_and_order_do_not_change_vectors(embedder: SentenceEmbedder) -> None:
    texts = ["short", "a somewhat longer sentence about a dog in the park", "mid length text here", "x " * 60]
    batched = embedder.embed(texts)
    single = np.stack([embedder.embed_one(t) for t in texts])
    reversed_ = embedder.embed(texts[::-1])[::-1]
    assert np.abs(batched - single).max() < 1e-4
    assert np.abs(batched - reversed_).max() < 1e-4


def test_long_text_is_truncated_not_rejected(embedder: SentenceEmbedder) -> None:
    v = embedder.embed_one("the quick brown fox jumps over the lazy dog " * 300)
    assert np.isclose(np.linalg.norm(v), 1.0, atol=1e-5)


def test_closed_embedder_refuses_work() -> None:
    e = SentenceEmbedder()
    e.close()
    with pytest.raises(RuntimeError, match="closed"):
        e.embed(["hello"])

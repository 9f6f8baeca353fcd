"""ReferenceIndex: plain data in, bytes out and back; updates invalidate only what changed."""

from __future__ import annotations

import numpy as np
import pytest
from skimage import data

from classifiers.rights.references import (
    AudioReference,
    Character,
    CharacterName,
    ReferenceClip,
    ReferenceIndex,
    character,
)


def _index() -> ReferenceIndex:
    rgba = np.dstack([data.coffee()[:64, :64], np.full((64, 64), 200, np.uint8)])
    clip = ReferenceClip((data.astronaut()[:32, :32].copy(), data.astronaut()[32:64, :32].copy()), (0.0, 0.5))
    return ReferenceIndex(
        [
            Character(
                "zorbo",
                (CharacterName("Zorbo"), CharacterName("Zorbö", "de", "alias", True)),
                {"en": ("a blue alien",), "fr": ("un extraterrestre bleu",)},
                (data.astronaut()[:100, :80].copy(), rgba),
                (clip,),
                (AudioReference("theme", (1, 2, 3, 0xFFFFFFFF)),),
                owner="org-1",
            ),
            character("pip", ["Pip Quillfeather"], ["Professor Pip"], ["a green owl wizard"]),
        ]
    )


def test_round_trip_keeps_every_field_and_cached_features() -> None:
    index = _index()
    index.features("test/1", "zorbo", lambda c: {"n": np.arange(len(c.images))})
    back = ReferenceIndex.from_bytes(index.to_bytes())
    a, b = index.get("zorbo"), back.get("zorbo")
    assert (b.names, b.descriptions, b.audio, b.owner) == (a.names, a.descriptions, a.audio, a.owner)
    assert all(np.array_equal(x, y) for x, y in zip(a.images, b.images, strict=True))
    assert b.images[1].shape == (64, 64, 4)  # alpha survives (PNG, lossless)
    assert b.clips[0].timestamps == (0.0, 0.5) and np.array_equal(b.clips[0].frames[1], a.clips[0].frames[1])
    # the cached feature comes back without being recomputed
    cached = back.features("test/1", "zorbo", lambda c: pytest.fail("recomputed"))
    assert cached["n"].tolist() == [0, 1]
    assert [c.character_id for c in back] == ["zorbo", "pip"]


def test_updates_bump_revisions_and_drop_only_that_characters_features() -> None:
    index = _index()
    calls: list[str] = []

    def compute(c: Character) -> dict[str, np.ndarray]:
        calls.append(c.character_id)
        return {"x": np.zeros(1)}

    for cid in ("zorbo", "pip"):
        index.features("m", cid, compute)
    before = index.revisions()
    index.upsert(character("pip", ["Pip"], descriptions=["changed"]))
    after = index.revisions()
    assert after["pip"] > before["pip"] and after["zorbo"] == before["zorbo"]
    index.features("m", "zorbo", compute)
    index.features("m", "pip", compute)
    assert calls == ["zorbo", "pip", "pip"]
    index.remove("zorbo")
    assert "zorbo" not in index and len(index) == 1 and "zorbo" not in index.revisions()


def test_rejects_foreign_bytes_and_bad_images() -> None:
    import io

    buf = io.BytesIO()
    np.savez(buf, manifest=np.frombuffer(b'{"format": "other"}', dtype=np.uint8))
    with pytest.raises(ValueError, match="not a reference index"):
        ReferenceIndex.from_bytes(buf.getvalue())
    with pytest.raises(ValueError, match="uint8"):
        Character("x", images=(np.zeros((4, 4, 3), dtype=np.float32),))  # type: ignore[arg-type]

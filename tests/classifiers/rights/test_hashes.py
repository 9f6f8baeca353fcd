"""PDQ near-duplicate matching (dihedral variants, clips) and the multi-index hash table."""

from __future__ import annotations

import numpy as np
import pytest
from skimage import data

from classifiers.rights.detector import CONFIDENT, REVIEW
from classifiers.rights.hashes import STRONG, HashIndex, HashMatcher, MultiIndexHashIndex
from classifiers.rights.references import Character, ReferenceClip, ReferenceIndex
from classifiers.rights.synthetic import background, colour_shift, jpeg, overlay_text

ROCKET, COFFEE = data.rocket(), data.coffee()


@pytest.fixture(scope="module")
def matcher() -> HashMatcher:
    clip = ReferenceClip(tuple(background(500 + i) for i in range(6)), tuple(0.5 * i for i in range(6)))
    return HashMatcher(
        ReferenceIndex([Character("rocket", images=(ROCKET,)), Character("film", clips=(clip,))])
    )


def test_mirrored_reencoded_copy_is_found_by_dihedral_hashes(matcher: HashMatcher) -> None:
    mirrored = jpeg(colour_shift(np.ascontiguousarray(ROCKET[:, ::-1])), 50)
    [m] = matcher.match([mirrored])
    assert m.character_id == "rocket" and m.distance <= STRONG and m.score >= CONFIDENT
    assert m.frame_indices == (0,)


def test_rotated_letterboxed_and_captioned_copies_are_found(matcher: HashMatcher) -> None:
    rotated = np.ascontiguousarray(np.rot90(ROCKET))
    boxed = np.zeros((ROCKET.shape[0] + 120, ROCKET.shape[1], 3), np.uint8)
    boxed[60:-60] = ROCKET
    for frame in (rotated, boxed, overlay_text(ROCKET)):
        found = {m.character_id: m.score for m in matcher.match([frame])}
        assert found.get("rocket", 0) >= REVIEW, found


def test_distractor_is_not_found(matcher: HashMatcher) -> None:
    assert matcher.match([COFFEE, background(7), data.astronaut()]) == []


def test_clip_frames_are_matched_like_vpdq(matcher: HashMatcher) -> None:
    frames = [jpeg(background(500 + i), 70) for i in range(1, 5)] + [COFFEE]
    [m] = matcher.match(frames)
    assert m.character_id == "film" and m.source == "clip:0"
    assert m.frame_indices == (0, 1, 2, 3) and m.coverage == pytest.approx(4 / 6)
    assert m.score >= CONFIDENT


@pytest.mark.parametrize("kind", ["faiss", "multi-index"])
def test_index_search_equals_brute_force_and_handles_updates(kind: str) -> None:
    rng = np.random.default_rng(1)
    index = HashIndex(radius=47) if kind == "faiss" else MultiIndexHashIndex(radius=47, merge_every=500)
    words = rng.integers(0, 2**63, size=(2000, 4), dtype=np.uint64)
    rows = index.add(words)
    bits = np.unpackbits(words[:50].view(np.uint8), axis=1)
    for i, k in enumerate(rng.integers(0, 48, 50)):
        bits[i, rng.choice(256, int(k), replace=False)] ^= 1
    queries = np.packbits(bits, axis=1).view(np.uint64)
    got, want = index.search(queries), index.brute_force(queries)
    assert sorted(zip(*(a.tolist() for a in got), strict=True)) == sorted(
        zip(*(a.tolist() for a in want), strict=True)
    )
    assert set(got[1].tolist()) >= set(range(50)) - {int(r) for r in rows[50:]}
    index.remove(rows[:10])
    assert not set(index.search(queries)[1].tolist()) & set(range(10))
    for d in (0, 46, 47, 48):  # the radius is inclusive, and nothing past it
        probe = np.packbits(np.unpackbits(words[60:61].view(np.uint8), axis=1) ^ (np.arange(256) < d), axis=1)
        found = dict(zip(*(a.tolist() for a in index.search(probe.view(np.uint64))[1:]), strict=True))
        assert (found.get(60) == d) if d <= 47 else 60 not in found

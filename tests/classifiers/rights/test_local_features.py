"""ORB + RANSAC finds a reference that is only part of a scene, with a box where it is."""

from __future__ import annotations

import numpy as np
import pytest
from skimage import data

from classifiers.base import Box
from classifiers.rights.detector import CONFIDENT
from classifiers.rights.local_features import LocalFeatureMatcher
from classifiers.rights.references import Character, ReferenceIndex
from classifiers.rights.synthetic import CARTOONS, background, draw_character, draw_logo, jpeg, paste

SPECS = {s.name: s for s in CARTOONS}


def iou(a: Box, b: tuple[float, float, float, float]) -> float:
    bx, by, bw, bh = b
    ix = max(0.0, min(a.x + a.w, bx + bw) - max(a.x, bx))
    iy = max(0.0, min(a.y + a.h, by + bh) - max(a.y, by))
    return ix * iy / (a.w * a.h + bw * bh - ix * iy)


@pytest.fixture(scope="module")
def refs() -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
    out: dict[str, tuple[np.ndarray, np.ndarray | None]] = {
        name: draw_character(SPECS[name]) for name in ("barnacle", "mabel", "pip")
    }
    out["logo"] = (draw_logo(0), None)
    out["astronaut"] = (data.astronaut(), None)
    return out


@pytest.fixture(scope="module")
def matcher(refs: dict[str, tuple[np.ndarray, np.ndarray | None]]) -> LocalFeatureMatcher:
    chars = [
        Character(k, images=(img if m is None else np.dstack([img, m]),)) for k, (img, m) in refs.items()
    ]
    return LocalFeatureMatcher(ReferenceIndex(chars))


@pytest.mark.parametrize("name", ["barnacle", "mabel", "logo", "astronaut"])
def test_reference_pasted_at_30_percent_is_found_with_its_box(
    matcher: LocalFeatureMatcher, refs: dict[str, tuple[np.ndarray, np.ndarray | None]], name: str
) -> None:
    img, mask = refs[name]
    scene, where = paste(background(31), img, scale=0.3, x=0.8, y=0.3, mask=mask)
    found = {m.character_id: m for m in matcher.match_frame(jpeg(scene, 60))}
    assert set(found) == {name}, found
    assert found[name].score >= CONFIDENT and iou(found[name].box, where) > 0.5, (found[name], where)


def test_mirrored_paste_is_found(
    matcher: LocalFeatureMatcher, refs: dict[str, tuple[np.ndarray, np.ndarray | None]]
) -> None:
    img, mask = refs["mabel"]
    assert mask is not None
    flipped, fmask = np.ascontiguousarray(img[:, ::-1]), np.ascontiguousarray(mask[:, ::-1])
    scene, _ = paste(background(32), flipped, scale=0.45, x=0.1, y=0.5, mask=fmask)
    [m] = matcher.match_frame(scene)
    assert m.character_id == "mabel" and m.mirrored and m.score >= CONFIDENT


def test_distractors_are_not_found(matcher: LocalFeatureMatcher) -> None:
    scenes = [background(900 + i) for i in range(6)] + [data.coffee(), data.chelsea()]
    assert matcher.match(scenes) == []
    other, omask = draw_character(SPECS["zorbo"])  # a cartoon with the same eyes, not registered
    scene, _ = paste(background(33), other, scale=0.5, x=0.5, y=0.5, mask=omask)
    assert matcher.match_frame(scene) == []

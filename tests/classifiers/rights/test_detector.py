"""CharacterDetector end to end: prompt and frames in, per-method and combined signals out."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from skimage import data

from classifiers.base import DetectorInput, FrameBatch, Signal, TextInput
from classifiers.rights import CONFIDENT, REVIEW, CharacterDetector, build_character_detector, character
from classifiers.rights.synthetic import CARTOONS, background, demo_index, draw_character, jpeg, paste


@pytest.fixture(scope="module")
def detector() -> Iterator[CharacterDetector]:
    index = demo_index()
    index.upsert(character("rocket-film", ["Rocket Launch 1969"], images=[data.rocket()]))
    det = build_character_detector(index)
    yield det
    det.close()


def _run(det: CharacterDetector, prompt: str, frames: list[np.ndarray]) -> dict[str, Signal]:
    batch = FrameBatch(frames, [0.5 * i for i in range(len(frames))], 512, 288) if frames else None
    return {s.name: s for s in det.detect(DetectorInput(frames=batch, text=TextInput(prompt)))}


def test_wiring() -> None:
    card = CharacterDetector.describe()
    assert card["name"] == "characters" and card["consumes"] == ["frames", "text"]
    assert card["signals"] == [
        "rights.character", "rights.prompt_name", "rights.prompt_semantic",
        "rights.image_near_duplicate", "rights.image_local_features",
    ]  # fmt: skip


def test_character_seen_and_named_is_reported_with_frames_boxes_and_spans(
    detector: CharacterDetector,
) -> None:
    spec = next(s for s in CARTOONS if s.name == "mabel")
    img, mask = draw_character(spec)
    scene, _ = paste(background(3), img, scale=0.4, x=0.3, y=0.5, mask=mask)
    frames = [background(1), jpeg(scene, 70), jpeg(scene, 60)]
    sig = _run(detector, "m4bel m4rmalade at the fair", frames)
    assert sig["rights.character"].score >= CONFIDENT
    assert sig["rights.character"].evidence[0].label == "mabel/combined"
    local = sig["rights.image_local_features"]
    assert local.score >= CONFIDENT and {e.frame_index for e in local.evidence} == {1, 2}
    assert all(e.box is not None and e.t == 0.5 * (e.frame_index or 0) for e in local.evidence)
    assert local.evidence[0].label and local.evidence[0].label.startswith(
        "mabel/image_local_features/image:0"
    )
    name = sig["rights.prompt_name"]
    assert name.score >= CONFIDENT and name.evidence[0].text_span == (0, 15)


def test_reused_image_and_paraphrase(detector: CharacterDetector) -> None:
    sig = _run(
        detector,
        "the yellow sponge who lives in a pineapple under the sea",
        [jpeg(data.rocket()[:, ::-1], 60)],
    )
    assert sig["rights.image_near_duplicate"].score >= CONFIDENT
    assert (
        sig["rights.image_near_duplicate"]
        .evidence[0]
        .label.startswith("rocket-film/image_near_duplicate/image:0")
    )
    assert sig["rights.prompt_semantic"].evidence[0].label.startswith("sunny/prompt_semantic")
    assert sig["rights.prompt_semantic"].score >= CONFIDENT


def test_clean_video_scores_zero_and_ambiguous_name_is_held(detector: CharacterDetector) -> None:
    sig = _run(detector, "a golden retriever on a sunny beach", [background(40), data.coffee()])
    assert all(s.score < CONFIDENT for s in sig.values())
    assert (
        REVIEW <= sig["rights.character"].score < CONFIDENT
    )  # "sunny": an everyday word, for a person to judge
    assert sig["rights.character"].evidence[0].label == "sunny/combined/ambiguous"
    assert sig["rights.image_local_features"].score == 0 and sig["rights.image_near_duplicate"].score == 0


def test_registry_updates_apply_on_next_detect(detector: CharacterDetector) -> None:
    detector.references.upsert(character("tmp", ["Wobbleknock"]))
    assert _run(detector, "wobbleknock returns", [])["rights.prompt_name"].score >= CONFIDENT
    detector.references.remove("tmp")
    assert _run(detector, "wobbleknock returns", [])["rights.prompt_name"].score == 0

"""The optional MobileNetV2 feature cue (needs the model exported by scripts/export_mobilenet_features.py)."""

from __future__ import annotations

import numpy as np
import pytest
from skimage import data

from classifiers.rights.detector import CONFIDENT, REVIEW, build_character_detector
from classifiers.rights.image_features import DEFAULT_MODEL, MAX_SCORE, ImageFeatureMatcher
from classifiers.rights.references import Character, ReferenceIndex
from classifiers.rights.synthetic import background, jpeg

pytestmark = pytest.mark.skipif(
    not DEFAULT_MODEL.is_file(), reason="optional cue: run scripts/export_mobilenet_features.py (needs torch)"
)


def test_whole_frame_copy_is_a_hint_never_a_verdict() -> None:
    matcher = ImageFeatureMatcher(ReferenceIndex([Character("rocket", images=(data.rocket(),))]))
    [m] = matcher.match([jpeg(data.rocket(), 40)])
    assert m.character_id == "rocket" and m.cosine > 0.85 and REVIEW <= m.score <= MAX_SCORE < CONFIDENT
    assert matcher.match([background(3), data.coffee()]) == []


def test_off_by_default_and_wired_when_asked() -> None:
    index = ReferenceIndex([Character("rocket", images=(data.rocket(),))])
    kwargs = {"semantic": False, "near_duplicates": False, "local_features": False}
    assert "rights.image_features" not in build_character_detector(index, **kwargs).produces()  # type: ignore[arg-type]
    det = build_character_detector(index, image_features_model=DEFAULT_MODEL, **kwargs)  # type: ignore[arg-type]
    assert det.produces()[-1] == "rights.image_features"
    from classifiers.base import DetectorInput, FrameBatch

    frames = FrameBatch([np.ascontiguousarray(data.rocket())], [0.0], 512, 427)
    sig = {s.name: s for s in det.detect(DetectorInput(frames=frames))}
    assert sig["rights.image_features"].evidence[0].label.startswith("rocket/image_features/image:0")

"""Enrolment from a verification recording: one person, enough sharp frames, a moving head, one identity."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from classifiers.face_identity import FaceEmbedder
from classifiers.faces import FaceDetector
from safety.likeness.enrol import Enrolment, EnrolmentError, enrol_from_video

Models = tuple[FaceDetector, FaceEmbedder]


def test_a_turning_head_enrols_as_a_few_agreeing_unit_vectors(enrolments: dict[str, Enrolment]) -> None:
    for who in ("astro", "cam"):
        e = enrolments[who]
        assert 5 <= len(e.vectors) <= 8 and e.vectors.shape[1] == 128
        assert np.allclose(np.linalg.norm(e.vectors, axis=1), 1.0, atol=1e-5)
        assert e.meta["max_pair_distance"] < 0.45 and e.meta["pose_spread"] >= 0.05
        assert set(e.meta) >= {"frames_sampled", "usable_frames", "model"}  # figures only, no media
    cross = enrolments["astro"].vectors @ enrolments["cam"].vectors.T
    assert cross.max() < 0.9  # two different people stay apart


@pytest.mark.parametrize(
    ("clip", "code", "words"),
    [
        ("noface", "no_face", "No face"),
        ("pair", "several_people", "Several people"),
        ("short", "too_few_frames", "frames"),
        ("swap", "inconsistent_identity", "same person"),
        ("still", "pose_variety", "turn your head"),
    ],
)
def test_enrolment_errors_say_what_to_fix(
    faces_media: dict[str, Path], models: Models, clip: str, code: str, words: str
) -> None:
    faces, embedder = models
    with pytest.raises(EnrolmentError) as err:
        enrol_from_video(faces_media[clip], faces=faces, embedder=embedder)
    assert err.value.code == code
    assert words in str(err.value)


def test_protected_footage_needs_no_head_turn(faces_media: dict[str, Path], models: Models) -> None:
    faces, embedder = models
    e = enrol_from_video(faces_media["still"], faces=faces, embedder=embedder, require_liveness=False)
    assert len(e.vectors) >= 5

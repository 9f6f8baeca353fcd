"""Likeness fixtures: real face videos made with ffmpeg from the two real portraits that ship offline,
the real face models, a fresh PostgreSQL database, and the live API with the cameos router."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fgapi import Api, api_settings, serve

from classifiers.base import DetectorInput
from classifiers.face_identity import FaceEmbedder
from classifiers.faces import FaceDetector
from safety.likeness import registry
from safety.likeness.detector import LikenessDetector, LikenessResult
from safety.likeness.enrol import Enrolment, enrol_from_video
from safety.likeness.records import record_matches
from safety.likeness.samples import (
    portraits,
    scene_video,
    side_by_side_video,
    verification_video,
    write_video,
)
from safety.likeness.view import IndexView
from safety.media import MediaLimits, probe, sample_frames
from safety.media.samples import make_video
from safety.store import Database, Video


@pytest.fixture(scope="session")
def faces_media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Verification recordings and feed clips (H.264 via ffmpeg), made once (~2 s)."""
    root = tmp_path_factory.mktemp("likeness_media")
    p = portraits()
    astro, cam = p["astronaut"], p["cameraman"]
    from safety.likeness.samples import head_turn, posed

    half = [posed(astro, q) for q in head_turn(12)] + [posed(cam, q) for q in head_turn(12)]
    return {
        "enrol_astro": verification_video(root / "enrol_astro.mp4", astro),
        "enrol_cam": verification_video(root / "enrol_cam.mp4", cam, seed=3),
        "still": verification_video(root / "still.mp4", astro, still=True),
        "pair": side_by_side_video(root / "pair.mp4", astro, cam),
        "short": verification_video(root / "short.mp4", astro, n=4),
        "swap": write_video(root / "swap.mp4", half, fps=8),
        "noface": make_video(root / "noface.mp4", source="testsrc2", duration_s=2.0, width=320, height=240),
        "astro": scene_video(root / "astro.mp4", [astro]),
        "cam": scene_video(root / "cam.mp4", [cam]),
        "both": scene_video(root / "both.mp4", [astro, cam]),
    }


@pytest.fixture(scope="session")
def models() -> Iterator[tuple[FaceDetector, FaceEmbedder]]:
    with FaceDetector() as faces:
        yield faces, FaceEmbedder()


@pytest.fixture(scope="session")
def enrolments(
    faces_media: dict[str, Path], models: tuple[FaceDetector, FaceEmbedder]
) -> dict[str, Enrolment]:
    """Real enrolments of both portraits, computed once and inserted directly by most tests."""
    faces, embedder = models
    return {
        "astro": enrol_from_video(faces_media["enrol_astro"], faces=faces, embedder=embedder),
        "cam": enrol_from_video(faces_media["enrol_cam"], faces=faces, embedder=embedder),
    }


@pytest.fixture
def db(pg_url: str) -> Iterator[Database]:
    database = Database(pg_url)
    database.upgrade()
    yield database
    database.dispose()


@pytest.fixture
def enrol(db: Database, enrolments: dict[str, Enrolment]) -> Callable[..., str]:
    """``enrol("astro", owner_id, age_band=..., permission=..., approved=[...])`` -> cameo id."""

    def make(who: str, owner_id: str, age_band: str = "adult", **terms: Any) -> str:
        with db.session() as s:
            cameo = registry.enrol_cameo(
                s,
                owner_id=owner_id,
                owner_user_id=None,
                age_band=age_band,
                enrolment=enrolments[who],
                actor="test",
                **terms,
            )
            return cameo.id

    return make


@pytest.fixture
def detector(db: Database, models: tuple[FaceDetector, FaceEmbedder]) -> Iterator[LikenessDetector]:
    view = IndexView(db, poll_s=0.2)
    yield LikenessDetector(view, *models)
    view.close()


_FRAMES: dict[Path, Any] = {}


def frames_of(path: Path) -> Any:
    """Each clip is decoded once per session (frames are immutable), as the pipeline decodes once."""
    if path not in _FRAMES:
        limits = MediaLimits()
        _FRAMES[path] = sample_frames(
            probe(path, limits), fps=2.0, scene_threshold=0.3, max_side=512, limits=limits
        )
    return _FRAMES[path]


@pytest.fixture
def results() -> list[LikenessResult]:
    """The artifacts of every ``scan`` of the test, in order (the detector keeps none)."""
    return []


@pytest.fixture
def scan(
    detector: LikenessDetector, faces_media: dict[str, Path], results: list[LikenessResult]
) -> Callable[..., dict[str, Any]]:
    """``scan("astro", creator="c1", cameos=[...])`` -> {signal name: Signal} with a fresh index."""

    def run(clip: str, creator: str, **context: Any) -> dict[str, Any]:
        detector.view.refresh()
        found = detector.analyse(
            DetectorInput(frames=frames_of(faces_media[clip]), context={"creator.id": creator, **context})
        )
        results.extend(found.of(LikenessResult))
        return {s.name: s for s in found.signals}

    return run


@pytest.fixture
def publish(
    db: Database, detector: LikenessDetector, faces_media: dict[str, Path]
) -> Callable[[str, str, str], LikenessResult]:
    """Decide a clip as published for ``creator`` and store its tracks and matches, as the service will."""

    def run(video_id: str, clip: str, creator: str) -> LikenessResult:
        detector.view.refresh()
        context = {"creator.id": creator, "video.id": video_id}
        found = detector.analyse(DetectorInput(frames=frames_of(faces_media[clip]), context=context))
        (result,) = found.of(LikenessResult)
        with db.session() as s:
            s.add(
                Video(
                    video_id=video_id,
                    creator_id=creator,
                    creator_age_band="adult",
                    prompt="a walk",
                    uri=faces_media[clip].as_uri(),
                    cameos=[],
                    remix_of=None,
                    created_at=datetime.now(UTC),
                    event={},
                    state="published",
                )
            )
            s.flush()
            record_matches(s, video_id, str(uuid.uuid4()), result)
        return result

    return run


def _api(tmp_path: Path, pg_url: str, media: dict[str, Path], bootstrap: str, **kw: Any) -> Iterator[Api]:
    settings = api_settings(tmp_path, pg_url, media["astro"].parent, bootstrap, **kw)
    for url in serve(settings):
        database = Database(pg_url)
        yield Api(url, settings, database)
        database.dispose()


@pytest.fixture
def cameo_api(tmp_path: Path, pg_url: str, faces_media: dict[str, Path]) -> Iterator[Api]:
    """The API without a broker (events stay in the outbox)."""
    yield from _api(tmp_path, pg_url, faces_media, "127.0.0.1:1", api_relay_outbox=False)


@pytest.fixture
def cameo_api_kafka(tmp_path: Path, pg_url: str, faces_media: dict[str, Path], broker: str) -> Iterator[Api]:
    """The API with the outbox relay sending to a real broker."""
    yield from _api(tmp_path, pg_url, faces_media, broker)

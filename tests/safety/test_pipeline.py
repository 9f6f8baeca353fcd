"""The pipeline in-process on real ffmpeg decoding: media limits, corrupt files, fail-closed."""

from __future__ import annotations

from pathlib import Path

import pytest
from fgtest import event

from safety.assets import LocalAssetStore
from safety.config import Settings
from safety.events import VideoGenerated
from safety.pipeline import Pipeline, decision_id_for
from safety.publishing import CopyPublisher


def make_pipeline(tmp_path: Path, video_root: Path, **overrides: object) -> Pipeline:
    """The real pipeline, every detector included (likeness against an empty SQLite registry)."""
    from safety.runtime import build_pipeline, open_database

    settings = Settings(data_dir=tmp_path, media_roots=[video_root], **overrides)  # type: ignore[arg-type]
    db = open_database(settings)
    return build_pipeline(settings, db, CopyPublisher(LocalAssetStore(tmp_path / "assets")))


def ev(path: Path | str, prompt: str = "a calm lake", **kw: object) -> VideoGenerated:
    uri = path if isinstance(path, str) else path.resolve().as_uri()
    return VideoGenerated.model_validate(event("vid-1", uri, prompt, **kw))


def test_published_video_is_sampled_and_stored(
    tmp_path: Path, videos: dict[str, Path], video_root: Path
) -> None:
    p = make_pipeline(tmp_path, video_root)
    r = p.moderate(ev(videos["long"]))
    assert r.decision.outcome.value == "published" and r.decision.audience is not None
    # 6 s at 2 fps (+ scene cuts): about a dozen frames, all downscaled for detectors.
    assert 10 <= r.frames_sampled <= 20
    assert r.asset_uri and Path(r.asset_uri.removeprefix("file://")).is_file()
    assert r.decision_id == decision_id_for("vid-1", p.policy_version)
    assert r.media is not None and r.media.duration_s == pytest.approx(6.0, abs=0.1)


@pytest.mark.parametrize(
    ("video", "limit", "code"),
    [
        ("long", {"max_duration_s": 3.0}, "media.too_long"),
        ("big", {"max_width": 640}, "media.resolution_too_high"),
        ("big", {"max_pixels": 640 * 360}, "media.resolution_too_high"),
        ("plain", {"max_bytes": 1000}, "media.too_large"),
        ("corrupt", {}, "media.corrupt"),
    ],
)
def test_each_media_limit_rejects_with_a_clear_reason(
    tmp_path: Path, videos: dict[str, Path], video_root: Path, video: str, limit: dict[str, float], code: str
) -> None:
    r = make_pipeline(tmp_path, video_root, **limit).moderate(ev(videos[video]))
    assert r.decision.outcome.value == "rejected"
    assert r.decision.reasons == [code]
    assert r.decision.creator_message, "the creator is told why"
    assert r.asset_uri is None


def test_sampled_frame_cap_is_a_limit(tmp_path: Path, videos: dict[str, Path], video_root: Path) -> None:
    r = make_pipeline(tmp_path, video_root, max_sampled_frames=3).moderate(ev(videos["long"]))
    assert r.frames_sampled == 3  # sampling stops at the cap instead of decoding everything


@pytest.mark.parametrize(
    ("uri", "code"),
    [
        ("file:///etc/passwd", "uri.outside_media_roots"),
        ("ftp://example.com/v.mp4", "uri.scheme_not_allowed"),
        ("https://evil.example/v.mp4", "uri.host_not_allowed"),
    ],
)
def test_hostile_uris_are_rejected(tmp_path: Path, video_root: Path, uri: str, code: str) -> None:
    r = make_pipeline(tmp_path, video_root).moderate(ev(uri))
    assert (r.decision.outcome.value, r.decision.reasons) == ("rejected", [code])


def test_not_a_video_and_empty_files(tmp_path: Path, video_root: Path) -> None:
    root = tmp_path / "m"
    root.mkdir()
    (root / "notes.mp4").write_text("this is not a video\n" * 50)
    (root / "empty.mp4").write_bytes(b"")
    p = make_pipeline(tmp_path, root)
    assert p.moderate(ev(root / "notes.mp4")).decision.reasons == ["media.corrupt"]
    assert p.moderate(ev(root / "empty.mp4")).decision.reasons == ["media.empty"]


def test_a_policy_reading_an_unproduced_signal_fails_at_start(tmp_path: Path, video_root: Path) -> None:
    from policies import parse_policy

    policy = parse_policy("""
policy: t
version: "1.0.0"
rules:
  - id: r
    description: reads a signal nobody makes
    when: {signal: frames.nudity, gte: 0.5}
    then: {action: hold, reasons: [x]}
""")
    with pytest.raises(ValueError, match=r"frames\.nudity"):
        Pipeline(Settings(data_dir=tmp_path), policy, CopyPublisher(LocalAssetStore(tmp_path)))


def test_asset_store_refuses_keys_outside_its_root(tmp_path: Path, videos: dict[str, Path]) -> None:
    store = LocalAssetStore(tmp_path / "assets")
    with pytest.raises(ValueError):
        store.put("../../escape.mp4", videos["plain"])
    uri = store.put("videos/a/b.mp4", videos["plain"])
    assert store.path_for(uri).read_bytes() == videos["plain"].read_bytes()


def test_truncated_file_with_intact_header_is_rejected(tmp_path: Path, video_root: Path) -> None:
    """ffmpeg conceals a cut-off tail and exits 0; the pipeline must not judge a video by its start."""
    from safety.media.samples import make_video

    root = tmp_path / "m"
    root.mkdir()
    whole = make_video(root / "whole.mp4", source="testsrc2", duration_s=8.0, width=320, height=180)
    data = whole.read_bytes()
    assert data[4:8] == b"ftyp"
    cut = root / "cut.mp4"
    cut.write_bytes(data[: len(data) * 35 // 100])  # faststart: moov first, then 35% of the data
    r = make_pipeline(tmp_path, root).moderate(ev(cut))
    assert r.decision.reasons == ["media.corrupt"], r.decision
    assert "truncated" in (r.decision.creator_message or "")

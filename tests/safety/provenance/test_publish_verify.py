"""Publish -> verify end to end: real ffmpeg, real c2pa, real PostgreSQL for the records."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

import c2pa
import pytest

from safety.assets import LocalAssetStore
from safety.cli.verify import add_parser, verify_summary
from safety.media.samples import drawtext_available
from safety.provenance import ProvenanceConfig, ProvenancePublisher, verify_file, watermark2, watermark3
from safety.provenance.encode import probe_source
from safety.provenance.manifest import TRAINED_ALGORITHMIC_MEDIA
from safety.provenance.store import ProvenanceStore
from safety.provenance.watermark import watermark_id_for
from safety.publishing import PublishRequest
from safety.store import Database

MakeRequest = Callable[..., PublishRequest]


def asset_path(uri: str) -> Path:
    return Path(uri.removeprefix("file://"))


def test_published_file_is_trusted_with_only_the_dev_root(
    publisher: ProvenancePublisher,
    make_request: MakeRequest,
    clips: dict[str, Path],
    anchors: str,
    db: Database,
) -> None:
    req = make_request(
        clips["card"],
        "vid-card",
        generator="sora-2",
        reviewed_by="mod-7",
        grants=[{"cameo": "user-9", "consent": "granted"}],
    )
    asset = publisher.publish(req)
    path = asset_path(asset.uri)
    assert path.is_file() and path.name == f"{req.decision_id}.mp4" and path.parent.name == "vid-card"
    assert asset.watermark_id == watermark_id_for(req.decision_id)
    fmt = probe_source(path)
    assert (fmt.width, fmt.height, fmt.audio_codec) == (640, 360, "aac"), "video re-encoded, audio kept"

    report = verify_file(path, anchors, db)
    assert report.c2pa_state == "Trusted", report.failures
    assert report.failures == []
    info = report.manifest
    assert info is not None
    assert info["ai_generated"] is True and info["generator"] == "sora-2"
    assert info["actions"][0] == "c2pa.created"
    moderation = info["moderation"]
    assert moderation["decision_id"] == req.decision_id
    assert moderation["policy_version"] == "default@1.2.0" and moderation["audience"] == "everyone"
    assert moderation["human_review"] is True and "mod-7" not in json.dumps(info), "no moderator named"
    assert moderation["grants"] == [{"cameo": "user-9", "consent": "granted"}]
    assert info["watermark_id"] == asset.watermark_id, "soft-binding names the watermark"
    assert report.watermark is not None and report.watermark.watermark_id == asset.watermark_id
    assert report.consistent is True
    assert report.record is not None and report.record["file_matches_record"] is True
    assert report.provenance_established

    # The raw reader agrees, with the dev root as the only anchor.
    ctx = c2pa.Context.from_dict(
        {"trust": {"user_anchors": anchors}, "verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}}
    )
    with ctx, open(path, "rb") as f, c2pa.Reader("video/mp4", f, None, ctx) as reader:
        assert reader.get_validation_state() == "Trusted"
        active = reader.get_active_manifest()
        assert active is not None
        actions = next(a for a in active["assertions"] if a["label"].startswith("c2pa.actions"))
        created = actions["data"]["actions"][0]
        assert created["digitalSourceType"] == TRAINED_ALGORITHMIC_MEDIA

    # The record holds the manifest store as read back.
    row = ProvenanceStore(db).get(asset.watermark_id)
    assert row is not None and row.manifest_label == active["label"]
    assert row.video_id == "vid-card" and row.algorithm == "es256"
    assert row.manifest_json["active_manifest"] == row.manifest_label


def test_without_anchor_the_same_file_is_only_valid(
    publisher: ProvenancePublisher, make_request: MakeRequest, clips: dict[str, Path]
) -> None:
    path = asset_path(publisher.publish(make_request(clips["card"])).uri)
    report = verify_file(path, None, None, watermark=False)
    assert report.c2pa_state == "Valid"
    assert report.failures == [] or {f["code"] for f in report.failures} == {"signingCredential.untrusted"}
    assert not report.provenance_established


def test_one_flipped_media_byte_makes_it_invalid(
    publisher: ProvenancePublisher,
    make_request: MakeRequest,
    clips: dict[str, Path],
    anchors: str,
    tmp_path: Path,
) -> None:
    data = bytearray(asset_path(publisher.publish(make_request(clips["card"])).uri).read_bytes())
    mdat = data.find(b"mdat")
    assert mdat > 0
    data[mdat + 5000] ^= 0x01
    tampered = tmp_path / "tampered.mp4"
    tampered.write_bytes(bytes(data))
    report = verify_file(tampered, anchors, None, watermark=False)
    assert report.c2pa_state == "Invalid"
    assert "assertion.bmffHash.mismatch" in {f["code"] for f in report.failures}
    assert not report.provenance_established


@pytest.mark.parametrize("how", ["strip", "reencode"])
def test_stripped_manifest_is_recovered_through_the_watermark(
    publisher: ProvenancePublisher,
    make_request: MakeRequest,
    clips: dict[str, Path],
    anchors: str,
    db: Database,
    tmp_path: Path,
    ffmpeg: Callable[..., None],
    how: str,
) -> None:
    asset = publisher.publish(make_request(clips["card"], "vid-strip", generator="veo-3"))
    copy = tmp_path / "copy.mp4"
    if how == "strip":
        ffmpeg("-i", str(asset_path(asset.uri)), "-map_metadata", "-1", "-c", "copy", str(copy))
    else:
        ffmpeg("-i", str(asset_path(asset.uri)), "-c:v", "libx264", "-crf", "26", "-c:a", "copy", str(copy))
    report = verify_file(copy, anchors, db)
    assert report.c2pa_state == "Absent", "re-muxing drops the manifest"
    assert report.watermark is not None and report.watermark.watermark_id == asset.watermark_id
    assert report.watermark.confidence > 0.5
    assert report.record is not None and report.record["video_id"] == "vid-strip"
    assert report.record["file_matches_record"] is False
    recovered = report.recovered_manifest
    assert recovered is not None and recovered["generator"] == "veo-3" and recovered["ai_generated"]
    assert report.provenance_established
    assert "recovered" in report.summary()


def test_unmarked_file_has_no_provenance(clips: dict[str, Path], db: Database, anchors: str) -> None:
    report = verify_file(clips["card"], anchors, db)
    assert report.c2pa_state == "Absent"
    assert report.watermark is not None and not report.watermark.found
    assert report.record is None and not report.provenance_established


def test_a_file_that_is_not_a_video_is_reported_not_raised(tmp_path: Path, anchors: str) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_text("not a video at all\n" * 10)
    report = verify_file(junk, anchors, None)
    assert report.c2pa_state == "Absent" and report.error
    assert report.watermark is not None and not report.watermark.found and report.watermark.error
    assert not report.provenance_established


def test_remix_carries_its_parent_as_ingredient(
    publisher: ProvenancePublisher,
    make_request: MakeRequest,
    clips: dict[str, Path],
    anchors: str,
    db: Database,
) -> None:
    parent = publisher.publish(make_request(clips["card"], "vid-parent"))
    child = publisher.publish(make_request(clips["fractal"], "vid-child", remix_of="vid-parent"))
    report = verify_file(asset_path(child.uri), anchors, db, watermark=False)
    assert report.c2pa_state == "Trusted", report.failures
    info = report.manifest
    assert info is not None and info["ai_generated"] is True
    assert info["actions"][:2] == ["c2pa.opened", "c2pa.edited"]
    assert info["moderation"]["remix_of"] == "vid-parent"
    [ingredient] = info["ingredients"]
    assert ingredient["relationship"] == "parentOf"
    assert ingredient["active_manifest"] == (parent.manifest or {})["label"], "parent's own manifest kept"

    # A remix of something we never published is still created, and says the parent was unavailable.
    orphan = publisher.publish(make_request(clips["fractal"], "vid-orphan", remix_of="vid-unknown"))
    orphan_info = verify_file(asset_path(orphan.uri), anchors, db, watermark=False).manifest
    assert orphan_info is not None and orphan_info["ingredients"] == []
    assert orphan_info["actions"][0] == "c2pa.created"
    assert orphan_info["moderation"]["remix_parent_available"] is False


def test_retried_publish_is_idempotent(
    publisher: ProvenancePublisher, make_request: MakeRequest, clips: dict[str, Path], db: Database
) -> None:
    req = make_request(clips["card"], "vid-retry", decision_id="decision-fixed")
    first = publisher.publish(req)
    second = publisher.publish(req)
    assert second == first
    assert len(ProvenanceStore(db).for_video("vid-retry")) == 1
    # A damaged stored copy is redone under the same id, key and record.
    asset_path(first.uri).write_bytes(b"damaged")
    third = publisher.publish(req)
    assert third.uri == first.uri and third.watermark_id == first.watermark_id
    row = ProvenanceStore(db).get(first.watermark_id or "")
    assert row is not None and asset_path(third.uri).stat().st_size > 1000


def test_cli_verify_json_and_summary(
    publisher: ProvenancePublisher,
    make_request: MakeRequest,
    clips: dict[str, Path],
    data_dir: Path,
    pg_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = asset_path(publisher.publish(make_request(clips["card"], "vid-cli")).uri)
    parser = argparse.ArgumentParser(prog="feedguard")
    add_parser(parser.add_subparsers(dest="command"))
    common = ["--database-url", pg_url, "--data-dir", str(data_dir)]
    args = parser.parse_args(["verify", str(path), "--json", *common])
    assert args.func(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["c2pa_state"] == "Trusted" and out["provenance_established"] is True
    assert out["record"]["video_id"] == "vid-cli"

    args = parser.parse_args(["verify", str(path), *common])
    assert args.func(args) == 0
    human = capsys.readouterr().out
    assert "credentials: Trusted" in human and "provenance established" in human

    line = verify_summary(path, data_dir=data_dir, database_url=pg_url)
    assert line.startswith("c2pa=Trusted") and "decision=" in line and "\n" not in line


def test_visible_badge_is_optional_and_keeps_both_marks(
    db: Database,
    data_dir: Path,
    make_request: MakeRequest,
    clips: dict[str, Path],
    anchors: str,
) -> None:
    if not drawtext_available():
        pytest.skip("this ffmpeg cannot render drawtext with a default font")
    badged = ProvenancePublisher(
        LocalAssetStore(data_dir / "assets"), db, ProvenanceConfig(visible_badge=True), data_dir=data_dir
    )
    try:
        asset = badged.publish(make_request(clips["card"], "vid-badge"))
    finally:
        badged.close()
    report = verify_file(asset_path(asset.uri), anchors, db)
    assert report.c2pa_state == "Trusted"
    assert report.watermark is not None and report.watermark.watermark_id == asset.watermark_id


def test_published_watermark_id_is_keyed_with_the_configured_secret(
    db: Database, tmp_path: Path, make_request: MakeRequest, clips: dict[str, Path]
) -> None:
    """With FEEDGUARD_PROVENANCE__WATERMARK_KEY set, the id cannot be computed from the decision id."""
    config = ProvenanceConfig(watermark_key="production-secret")  # type: ignore[arg-type]
    pub = ProvenancePublisher(LocalAssetStore(tmp_path / "assets"), db, config, data_dir=tmp_path / "data")
    try:
        req = make_request(clips["card"], "vid-keyed")
        asset = pub.publish(req)
    finally:
        pub.close()
    assert asset.watermark_id == watermark_id_for(req.decision_id, b"production-secret")
    assert asset.watermark_id != watermark_id_for(req.decision_id), "public-key id must not match"
    report = verify_file(asset_path(asset.uri), None, db, watermark_key=b"production-secret")
    assert report.watermark is not None and report.watermark.watermark_id == asset.watermark_id
    assert report.record is not None and report.record["video_id"] == "vid-keyed"


@pytest.mark.parametrize("scheme", [2, 3])
def test_the_configured_scheme_marks_new_videos_and_only_luma_survives_greyscale(
    db: Database,
    tmp_path: Path,
    make_request: MakeRequest,
    clips: dict[str, Path],
    anchors: str,
    ffmpeg: Callable[..., None],
    scheme: int,
) -> None:
    """Scheme 3 (chroma, the default) costs less bitrate; scheme 2 (luma) is the setting for feeds whose
    users apply black-and-white filters: a greyscale copy keeps scheme 2's mark and loses scheme 3's."""
    config = ProvenanceConfig(watermark_scheme=scheme)  # type: ignore[arg-type]
    pub = ProvenancePublisher(LocalAssetStore(tmp_path / "assets"), db, config, data_dir=tmp_path / "data")
    try:
        asset = pub.publish(make_request(clips["card"], f"vid-scheme-{scheme}"))
    finally:
        pub.close()
    report = verify_file(asset_path(asset.uri), anchors, db)
    assert report.c2pa_state == "Trusted"
    assert report.watermark is not None and report.watermark.watermark_id == asset.watermark_id
    assert report.watermark.scheme == {2: watermark2.ALGORITHM, 3: watermark3.ALGORITHM}[scheme]
    assert report.consistent is True  # the manifest's soft binding names the mark the file carries
    grey = tmp_path / "grey.mp4"
    ffmpeg("-i", str(asset_path(asset.uri)), "-vf", "hue=s=0", "-c:v", "libx264", "-crf", "23", str(grey))
    seen = verify_file(grey, anchors, db).watermark
    assert seen is not None
    if scheme == 2:
        assert seen.found and seen.watermark_id == asset.watermark_id
    else:
        assert not seen.found

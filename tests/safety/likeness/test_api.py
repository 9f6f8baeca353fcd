"""/v1/cameos over HTTP: enrolment, consent changes, takedowns on feed.takedown, protected figures."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fgapi import Api
from fgtest import read_topics
from sqlalchemy import func, select

from safety.likeness.detector import LikenessResult
from safety.likeness.models import CameoEmbedding, RegistryVersion
from safety.store import AuditEntry, OutboxMessage, Video

Publish = Callable[[str, str, str], LikenessResult]


def _upload(path: Path, kind: str = "video/mp4") -> dict[str, tuple[str, bytes, str]]:
    return {"file": (path.name, path.read_bytes(), kind)}


def test_enrolment_over_http_with_clear_errors(cameo_api: Api, faces_media: dict[str, Path]) -> None:
    alice = cameo_api.client(cameo_api.user("creator", creator_id="alice", age_band="adult"))
    r = alice.post(
        "/v1/cameos",
        files=_upload(faces_media["enrol_astro"]),
        data={"age_band": "adult", "permission": "approved", "approved": "bob, carol"},
    )
    assert r.status_code == 201, r.text
    cameo = r.json()
    assert cameo["owner_id"] == "alice" and cameo["approved"] == ["bob", "carol"] and cameo["vectors"] >= 5
    assert alice.get("/v1/cameos/me").json()["id"] == cameo["id"]

    teen = cameo_api.client(cameo_api.user("creator", creator_id="teen1"))
    r = teen.post(
        "/v1/cameos",
        files=_upload(faces_media["enrol_astro"]),
        data={"age_band": "teen", "permission": "everyone"},
    )
    assert r.status_code == 422 and r.json()["type"].endswith("/teen-permission")
    r = teen.post("/v1/cameos", files=_upload(faces_media["pair"]), data={"age_band": "teen"})
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"].endswith("/enrol.several_people") and "Several people" in r.json()["detail"]
    r = teen.post("/v1/cameos", files=_upload(faces_media["pair"], "text/plain"), data={"age_band": "teen"})
    assert r.status_code == 415
    assert teen.get("/v1/cameos/alice").status_code == 404  # creators see only their own

    platform = cameo_api.client(cameo_api.user("platform"))
    r = platform.post(
        "/v1/cameos",
        data={
            "uri": faces_media["enrol_cam"].as_uri(),
            "owner_id": "zed",
            "age_band": "teen",
            "permission": "everyone",
        },
    )
    assert r.status_code == 422 and r.json()["type"].endswith("/teen-permission")  # refused before decoding
    r = platform.post(
        "/v1/cameos", data={"uri": faces_media["pair"].as_uri(), "owner_id": "zed", "age_band": "teen"}
    )
    assert r.status_code == 422 and r.json()["type"].endswith("/enrol.several_people")  # media-root URIs work
    outside = platform.post(
        "/v1/cameos", data={"uri": "file:///etc/passwd", "owner_id": "x", "age_band": "adult"}
    )
    assert outside.status_code == 422 and outside.json()["type"].endswith("/uri.outside_media_roots")

    assert not any((cameo_api.settings.data_dir / "tmp").iterdir())  # no recording or frame kept
    with cameo_api.db.session() as s:
        actions = s.scalars(select(AuditEntry.action).where(AuditEntry.action.like("cameo.%"))).all()
        assert actions == ["cameo.enrolled"]
        assert s.scalar(select(RegistryVersion.version)) == 1


def test_revocation_and_deletion_take_published_videos_down_once(
    cameo_api_kafka: Api, faces_media: dict[str, Path], publish: Publish, broker: str
) -> None:
    api = cameo_api_kafka
    alice = api.client(api.user("creator", creator_id="alice", age_band="adult"))
    r = alice.post(
        "/v1/cameos",
        files=_upload(faces_media["enrol_astro"]),
        data={"age_band": "adult", "permission": "approved", "approved": "bob,carol"},
    )
    assert r.status_code == 201, r.text
    publish("v-bob", "astro", "bob")
    publish("v-carol", "astro", "carol")
    publish("v-own", "astro", "alice")
    publish("v-other", "cam", "bob")  # someone else entirely

    r = alice.post("/v1/cameos/me/revoke", json={"creator_id": "bob"})
    assert r.status_code == 200 and r.json()["takedowns"] == ["v-bob"]
    assert alice.post("/v1/cameos/me/revoke", json={"creator_id": "bob"}).json()["takedowns"] == []
    [msg] = read_topics(broker, ["feed.takedown"], until=1, timeout_s=20)
    assert msg.key == "v-bob" and msg.value["schema"] == "video.takedown/v1"
    assert msg.value["reasons"] == ["likeness.consent_revoked"] and msg.headers["decision_id"]

    r = alice.delete("/v1/cameos/me")
    assert r.status_code == 200 and r.json()["takedowns"] == ["v-carol"]
    assert r.json()["cameo"]["status"] == "deleted" and r.json()["cameo"]["vectors"] == 0
    msgs = read_topics(broker, ["feed.takedown"], until=2, timeout_s=20, quiet_s=1.0)
    assert sorted(m.key or "" for m in msgs) == ["v-bob", "v-carol"]  # never twice
    with api.db.session() as s:
        assert s.scalar(select(func.count()).select_from(CameoEmbedding)) == 0  # the face is erased
        states = {v.video_id: v.state for v in s.scalars(select(Video))}
        assert states == {
            "v-bob": "taken_down",
            "v-carol": "taken_down",
            "v-own": "published",
            "v-other": "published",
        }
        actions = s.scalars(select(AuditEntry.action).where(AuditEntry.action.like("cameo.%"))).all()
        assert {"cameo.enrolled", "cameo.revoked", "cameo.takedown", "cameo.deleted"} <= set(actions)
        assert actions.count("cameo.takedown") == 2


def test_a_new_protected_figure_is_checked_against_published_videos(
    cameo_api: Api, faces_media: dict[str, Path], publish: Publish
) -> None:
    publish("v-fan", "cam", "fan")
    publish("v-astro", "astro", "fan")
    admin = cameo_api.client(cameo_api.user("admin"))
    creator = cameo_api.client(cameo_api.user("creator", creator_id="c9"))
    assert creator.get("/v1/cameos/protected").status_code == 403
    r = admin.post(
        "/v1/cameos/protected", data={"name": "The Cameraman", "uri": faces_media["enrol_cam"].as_uri()}
    )
    assert r.status_code == 201, r.text
    assert r.json()["takedowns"] == ["v-fan"]  # from stored face tracks, nothing decoded again
    pid = r.json()["protected"]["id"]
    assert [p["id"] for p in admin.get("/v1/cameos/protected").json()] == [pid]
    with cameo_api.db.session() as s:
        [event] = s.scalars(select(OutboxMessage).where(OutboxMessage.topic == "feed.takedown")).all()
        assert event.key == "v-fan" and event.value["reasons"] == ["likeness.protected"]
    assert admin.delete(f"/v1/cameos/protected/{pid}").json()["status"] == "removed"

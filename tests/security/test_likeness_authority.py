"""Likeness authority (issue 14, finding 1): a creator cannot take over a protected public figure.

An enrolment whose face matches a protected figure is refused and queued; only an admin links it,
after an identity check outside feedguard, and the audit says who verified it. A third party's
video of the figure stays ``likeness.protected`` for a real worker after the attempted takeover.
The age band of a cameo owner is the platform's fact, never the creator's claim.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from fgapi import Api
from fgtest import WorkerProcess, event, produce, wait_for
from sqlalchemy import select, text

from safety.likeness.models import Cameo, ProtectedLikeness
from safety.likeness.samples import portraits, scene_video, verification_video
from safety.store import AuditEntry

LiveApi = Any  # the live_api fixture (conftest)
PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def faces(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("authority_media")
    p = portraits()
    return {
        # the admin's public footage of the figure, and a different recording an attacker found
        "figure_public": verification_video(root / "figure_public.mp4", p["cameraman"], seed=3),
        "figure_selfie": verification_video(root / "figure_selfie.mp4", p["cameraman"], seed=11),
        "astro_selfie": verification_video(root / "astro_selfie.mp4", p["astronaut"]),
        "astro_public": verification_video(root / "astro_public.mp4", p["astronaut"], seed=5),
        "figure_clip": scene_video(root / "figure_clip.mp4", [p["cameraman"]]),
    }


@pytest.fixture
def cameo_api(live_api: LiveApi, faces: dict[str, Path]) -> Api:
    api: Api = live_api(media_root=faces["figure_clip"].parent, api_rate_per_minute=1_000_000)
    return api


def _file(path: Path) -> dict[str, tuple[str, bytes, str]]:
    return {"file": (path.name, path.read_bytes(), "video/mp4")}


def _protect(admin: httpx.Client, name: str, clip: Path) -> str:
    r = admin.post("/v1/cameos/protected", data={"name": name, "uri": clip.as_uri()})
    assert r.status_code == 201, r.text
    return str(r.json()["protected"]["id"])


def _audit(api: Api, action: str) -> list[AuditEntry]:
    with api.db.session() as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def _decision(api: Api, video_id: str) -> tuple[str, list[str]] | None:
    with api.db.engine.connect() as conn:
        row = conn.execute(
            text("SELECT outcome, reasons FROM decisions WHERE video_id = :v"), {"v": video_id}
        ).first()
    return (row[0], list(row[1])) if row else None


@pytest.mark.slow
def test_a_creator_cannot_take_over_a_protected_figure(
    cameo_api: Api, faces: dict[str, Path], broker: str, pg_url: str, tmp_path: Path
) -> None:
    admin = cameo_api.client(cameo_api.user("admin", "ada-admin"))
    pid = _protect(admin, "The Cameraman", faces["figure_public"])
    # The worst case: an account the platform itself vouches for as adult.
    mallory = cameo_api.client(cameo_api.user("creator", creator_id="mallory", age_band="adult"))
    r = mallory.post(
        "/v1/cameos",
        files=_file(faces["figure_selfie"]),
        data={"age_band": "adult", "permission": "everyone"},
    )
    assert r.status_code == 409, r.text
    assert r.headers["content-type"] == PROBLEM and r.json()["type"].endswith("/enrol.protected_match")
    assert "administrator" in r.json()["detail"] and r.json()["request_id"].startswith("lnk_")
    with cameo_api.db.session() as s:
        person = s.get(ProtectedLikeness, pid)
        assert person is not None and person.cameo_id is None  # never linked automatically
        assert s.scalar(select(Cameo).where(Cameo.owner_id == "mallory")) is None
    assert _audit(cameo_api, "cameo.protected_linked") == []
    [queued] = _audit(cameo_api, "cameo.link_requested")
    assert queued.subject_id == "mallory" and queued.details["protected_ids"] == [pid]

    # A real worker decides a third party's video of the figure: still protected.
    worker = WorkerProcess(broker, pg_url, tmp_path, faces["figure_clip"].parent, group="fg-authority")
    try:
        ev = event("v-fan", faces["figure_clip"].resolve().as_uri(), "a man with a camera in a park")
        ev["creator"]["id"] = "fan"
        produce(broker, [ev])
        decided = wait_for(lambda: _decision(cameo_api, "v-fan"), 240, what="the worker's decision")
    finally:
        worker.stop()
    assert decided[0] == "rejected" and "likeness.protected" in decided[1], (decided, worker.log()[-2000:])

    # The admin sees the queued request and refuses it; the face vectors it held are erased.
    pending = admin.get("/v1/cameos/pending").json()
    [request] = [p for p in pending if p["owner_id"] == "mallory"]
    assert request["status"] == "pending" and request["matches"][0]["protected_id"] == pid
    assert request["matches"][0]["name"] == "The Cameraman" and request["matches"][0]["similarity"] > 0.5
    assert mallory.get("/v1/cameos/pending").status_code == 403
    r = admin.post(f"/v1/cameos/pending/{request['id']}/reject", json={"reason": "not the figure"})
    assert r.status_code == 200 and r.json()["status"] == "rejected", r.text
    with cameo_api.db.engine.connect() as conn:
        left = conn.execute(
            text("SELECT vectors FROM likeness_link_requests WHERE id = :i"), {"i": request["id"]}
        )
        assert left.scalar() is None
    assert admin.post(f"/v1/cameos/pending/{request['id']}/link", json={
        "verified_by": "x", "verification": "y"}).status_code == 409  # fmt: skip


def test_only_an_admin_links_a_figure_after_an_identity_check(cameo_api: Api, faces: dict[str, Path]) -> None:
    admin = cameo_api.client(cameo_api.user("admin", "ada-admin"))
    pid = _protect(admin, "The Cameraman", faces["figure_public"])
    real = cameo_api.client(cameo_api.user("creator", creator_id="the-cameraman", age_band="adult"))
    r = real.post("/v1/cameos", files=_file(faces["figure_selfie"]), data={"permission": "everyone"})
    assert r.status_code == 409, r.text
    request_id = r.json()["request_id"]
    incomplete = admin.post(f"/v1/cameos/pending/{request_id}/link", json={"verified_by": ""})
    assert incomplete.status_code == 422  # who verified, and how, are required
    r = admin.post(
        f"/v1/cameos/pending/{request_id}/link",
        json={"verified_by": "Grace Hopper (trust & safety)", "verification": "video call + passport, TS-42"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "linked" and r.json()["cameo_id"].startswith("cam_")
    with cameo_api.db.session() as s:
        person = s.get(ProtectedLikeness, pid)
        cameo = s.scalar(select(Cameo).where(Cameo.owner_id == "the-cameraman"))
        assert person is not None and cameo is not None and person.cameo_id == cameo.id
        assert cameo.permission == "everyone" and cameo.age_band == "adult"
    [linked] = _audit(cameo_api, "cameo.protected_linked")
    assert (
        linked.actor.startswith("user:") and linked.details["verified_by"] == "Grace Hopper (trust & safety)"
    )
    assert linked.details["verification"] == "video call + passport, TS-42"
    assert linked.details["request_id"] == request_id and linked.details["cameo_id"] == cameo.id
    # The verified figure re-enrolling is not queued again (their own link).
    again = real.post("/v1/cameos", files=_file(faces["figure_selfie"]), data={"permission": "everyone"})
    assert again.status_code == 201, again.text
    # Someone else with the same face still is.
    other = cameo_api.client(cameo_api.user("creator", creator_id="copycat", age_band="adult"))
    r = other.post("/v1/cameos", files=_file(faces["figure_selfie"]))
    assert r.status_code == 409 and r.json()["type"].endswith("/enrol.protected_match")
    # A link can be undone (e.g. one made before links needed an admin).
    assert real.post(f"/v1/cameos/protected/{pid}/unlink", json={"reason": "x"}).status_code == 403
    r = admin.post(f"/v1/cameos/protected/{pid}/unlink", json={"reason": "made by the old auto-link"})
    assert r.status_code == 200 and r.json()["protected_id"] == pid, r.text
    with cameo_api.db.session() as s:
        person = s.get(ProtectedLikeness, pid)
        assert person is not None and person.cameo_id is None
    [unlinked] = _audit(cameo_api, "cameo.protected_unlinked")
    assert unlinked.details["reason"] == "made by the old auto-link"


def test_protecting_an_already_enrolled_face_links_nothing(cameo_api: Api, faces: dict[str, Path]) -> None:
    """The same takeover in the other order: enrol first, wait for the figure to be protected."""
    early = cameo_api.client(cameo_api.user("creator", creator_id="early-bird", age_band="adult"))
    r = early.post("/v1/cameos", files=_file(faces["astro_selfie"]), data={"permission": "everyone"})
    assert r.status_code == 201, r.text
    admin = cameo_api.client(cameo_api.user("admin"))
    r = admin.post(
        "/v1/cameos/protected", data={"name": "The Astronaut", "uri": faces["astro_public"].as_uri()}
    )
    assert r.status_code == 201 and r.json()["protected"]["linked"] is False, r.text
    [request] = admin.get("/v1/cameos/pending").json()
    assert request["owner_id"] == "early-bird" and request["kind"] == "existing_cameo"
    assert _audit(cameo_api, "cameo.protected_linked") == []


def test_a_cameo_owners_age_band_is_the_platforms_fact(cameo_api: Api, faces: dict[str, Path]) -> None:
    teen = cameo_api.user("creator", creator_id="new-teen")  # the platform has not said anything yet
    creator = cameo_api.client(teen)
    r = creator.post(
        "/v1/cameos", files=_file(faces["astro_selfie"]), data={"age_band": "adult", "permission": "everyone"}
    )
    assert r.status_code == 403 and r.json()["type"].endswith("/age-band-not-yours"), r.text
    r = creator.post("/v1/cameos", files=_file(faces["astro_selfie"]), data={"permission": "everyone"})
    assert r.status_code == 422 and r.json()["type"].endswith("/teen-permission"), r.text  # unknown = teen
    r = creator.post("/v1/cameos", files=_file(faces["astro_selfie"]))
    assert r.status_code == 201 and r.json()["age_band"] == "teen", r.text

    # A creator cannot set it; the platform (or an admin) can, on the account.
    body = {"age_band": "adult"}
    assert creator.put("/v1/creators/new-teen/age-band", json=body).status_code == 403
    platform = cameo_api.client(cameo_api.user("platform"))
    r = platform.put("/v1/creators/new-teen/age-band", json=body)
    assert r.status_code == 200 and r.json()["age_band"] == "adult", r.text
    assert r.json()["age_band_set_by"].startswith("user:")
    r = creator.patch("/v1/cameos/me", json={"permission": "everyone"})
    assert r.status_code == 200 and r.json()["cameo"]["age_band"] == "adult", r.text
    # The platform learns the owner is a teen after all: the cameo follows, and 'everyone' stops.
    admin = cameo_api.client(cameo_api.user("admin"))
    r = admin.put("/v1/creators/new-teen/age-band", json={"age_band": "teen"})
    assert r.status_code == 200
    cameo = creator.get("/v1/cameos/me").json()
    assert cameo["age_band"] == "teen" and cameo["permission"] != "everyone", cameo
    assert platform.put("/v1/creators/nobody/age-band", json=body).status_code == 404
    [entry, *_] = _audit(cameo_api, "account.age_band_set")
    assert entry.details["creator_id"] == "new-teen"

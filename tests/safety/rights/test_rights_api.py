"""/v1/rights: organisation scoping, reference validation with metadata stripped, rule versions."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import pytest
from fgrights import Rights
from PIL import Image
from sqlalchemy import select

from safety.rights.models import RightsReference
from safety.rights.view import RightsView, registry_version
from safety.store import AuditEntry


def test_rights_holders_see_and_change_only_their_own_organisation(rights: Rights, other_holder) -> None:  # type: ignore[no-untyped-def]
    pip = rights.character()
    globex = other_holder("globex")
    cid = pip["id"]
    assert globex.get(f"/v1/rights/characters/{cid}").status_code == 404
    assert globex.get("/v1/rights/characters").json() == []
    assert globex.patch(f"/v1/rights/characters/{cid}", json={"name": "Stolen"}).status_code == 404
    assert globex.delete(f"/v1/rights/characters/{cid}").status_code == 404
    assert globex.post(f"/v1/rights/characters/{cid}/rules", json={"effect": "allow"}).status_code == 404
    assert globex.post(f"/v1/rights/characters/{cid}/rules/withdraw").status_code == 404
    assert globex.get(f"/v1/rights/characters/{cid}/matches").status_code == 404
    assert rights.upload(cid, rights.media["png"], client=globex).status_code == 404
    # Nor may one register a character in another organisation's name.
    r = globex.post("/v1/rights/characters", json={"slug": "pip", "name": "Pip", "organisation_id": "acme"})
    assert r.status_code == 403
    # Other roles are refused; anonymous callers are asked to authenticate.
    for role in ("creator", "moderator", "platform"):
        client = rights.api.client(rights.api.user(role))
        assert client.get("/v1/rights/characters").status_code == 403
        assert client.post("/v1/rights/characters", json={"slug": "x", "name": "X"}).status_code == 403
    assert rights.api.client().get("/v1/rights/characters").status_code == 401
    # The owner and admins see it; admins must say which organisation they register for.
    assert [c["id"] for c in rights.holder.get("/v1/rights/characters").json()] == [cid]
    assert [c["id"] for c in rights.admin.get("/v1/rights/characters").json()] == [cid]
    assert rights.admin.post("/v1/rights/characters", json={"slug": "y", "name": "Y"}).status_code == 422
    assert (
        rights.holder.post("/v1/rights/characters", json={"slug": "pip", "name": "Again"}).status_code == 409
    )


def test_an_unverified_organisations_characters_take_no_effect(rights: Rights, other_holder) -> None:  # type: ignore[no-untyped-def]
    rogue = other_holder("rogue")
    r = rogue.post(
        "/v1/rights/characters",
        json={"slug": "forest", "name": "Forest", "descriptions": {"en": ["a forest at dawn"]}},
    )
    assert r.status_code == 201 and r.json()["effective"] is False
    assert rights.decide("rogue-1", "without.mp4", "Forest at dawn").outcome == "published"


def _jpeg_with_exif() -> bytes:
    img = Image.new("RGB", (320, 240), (40, 160, 90))
    exif = Image.Exif()
    exif[0x010F] = "SecretCameraMaker"  # Make
    exif[0x8825] = {2: (51.0, 30.0, 0.0)}  # GPSInfo: latitude
    exif[0x0112] = 6  # orientation: rotate 90 on display
    out = io.BytesIO()
    img.save(out, format="JPEG", exif=exif.tobytes(), comment=b"owner-comment-xyz")
    return out.getvalue()


def _bomb_png(side: int = 60_000) -> bytes:
    """A 100-byte PNG that declares side x side pixels: must be refused before decoding."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0"))
        + chunk(b"IEND", b"")
    )


def test_reference_images_are_validated_and_stored_without_metadata(rights: Rights, tmp_path: Path) -> None:
    cid = rights.character()["id"]
    jpeg = tmp_path / "ref.jpg"
    jpeg.write_bytes(_jpeg_with_exif())
    r = rights.upload(cid, jpeg)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["meta"]["metadata_stripped"] is True
    assert (body["meta"]["width"], body["meta"]["height"]) == (240, 320)  # EXIF orientation applied
    with rights.db.session() as s:
        ref = s.scalar(select(RightsReference).where(RightsReference.id == body["id"]))
        assert ref is not None
        stored = (rights.api.settings.assets_dir / ref.asset_key).read_bytes()
    assert stored.startswith(b"\x89PNG")
    for secret in (b"Exif", b"SecretCameraMaker", b"owner-comment-xyz", b"GPS"):
        assert secret not in stored
    with Image.open(io.BytesIO(stored)) as img:
        assert not img.info.get("exif") and not img.getexif()

    cases = {
        "text.png": (b"just text, not an image", 422, "reference.unsupported_type"),
        "anim.gif": (_gif(), 422, "reference.unsupported_type"),
        "bomb.png": (_bomb_png(), 422, "reference.too_many_pixels"),
        "tiny.png": (_png(8, 8), 422, "reference.too_small"),
        "empty.png": (b"", 422, "reference.empty"),
        "huge.png": (b"\0" * (21 * 1024 * 1024), 413, "payload-too-large"),
    }
    for name, (data, status, code) in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        r = rights.upload(cid, path)
        assert r.status_code == status, (name, r.text)
        assert r.json()["type"].endswith(code), (name, r.json())
    assert len(rights.holder.get(f"/v1/rights/characters/{cid}/references").json()) == 1


def _png(w: int, h: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (w, h)).save(out, format="PNG")
    return out.getvalue()


def _gif() -> bytes:
    out = io.BytesIO()
    Image.new("P", (64, 64)).save(out, format="GIF")
    return out.getvalue()


def test_clip_and_audio_references_are_processed(rights: Rights) -> None:
    cid = rights.character()["id"]
    clip = rights.upload(cid, rights.media["with"], kind="clip")
    assert clip.status_code == 201, clip.text
    assert clip.json()["meta"]["frames_indexed"] >= 3
    audio = rights.upload(cid, rights.media["theme"], kind="audio")
    assert audio.status_code == 201, audio.text
    assert audio.json()["meta"]["seconds"] >= 4  # 7.2 s tune; Chromaprint drops the edges
    not_audio = rights.upload(cid, rights.media["png"], kind="audio")
    assert not_audio.status_code == 422 and not_audio.json()["type"].endswith("reference.no_audio")
    not_clip = rights.upload(cid, rights.media["theme"], kind="clip")
    assert not_clip.status_code == 422


def test_rules_are_immutable_versions_with_shadow_activation_rollback_and_audit(rights: Rights) -> None:
    cid = rights.character()["id"]
    url = f"/v1/rights/characters/{cid}/rules"
    v1 = rights.rule(cid, {"effect": "allow"}, mode="active")["rule"]
    v2 = rights.rule(cid, {"effect": "deny"}, mode="shadow")["rule"]
    assert (v1["id"], v1["status"], v2["id"], v2["status"]) == (f"{cid}@1", "active", f"{cid}@2", "shadow")
    char = rights.holder.get(f"/v1/rights/characters/{cid}").json()
    assert (char["active_rule"], char["shadow_rule"]) == (f"{cid}@1", f"{cid}@2")

    assert rights.holder.post(f"{url}/2/activate").json()["rule"]["status"] == "active"
    statuses = {r["version"]: r["status"] for r in rights.holder.get(url).json()}
    assert statuses == {1: "superseded", 2: "active"}
    assert rights.holder.post(f"{url}/1/activate").status_code == 200  # roll back
    assert {r["version"]: r["status"] for r in rights.holder.get(url).json()} == {
        1: "active",
        2: "superseded",
    }
    assert rights.holder.post(f"{url}/withdraw").status_code == 200
    assert rights.holder.post(f"{url}/1/activate").status_code == 409
    assert rights.holder.post(f"{url}/9/activate").status_code == 404
    bad = rights.holder.post(url, json={"effect": "allow_with_conditions", "conditions": {}})
    assert bad.status_code == 422

    with rights.db.session() as s:
        actions = [
            a
            for (a,) in s.execute(select(AuditEntry.action).order_by(AuditEntry.id))
            if a.startswith("rights.")
        ]
    assert actions == [
        "rights.character.created", "rights.rule.created", "rights.rule.activated", "rights.rule.created",
        "rights.rule.activated", "rights.rule.activated", "rights.rule.withdrawn",
    ]  # fmt: skip


@pytest.mark.parametrize("query", ["' OR 1=1 --", "%", "_", "\\", "Pip%' UNION SELECT"])
def test_name_filter_is_literal(rights: Rights, query: str) -> None:
    rights.character()
    r = rights.holder.get("/v1/rights/characters", params={"q": query})
    assert r.status_code == 200 and r.json() == []


def test_verifying_an_organisation_puts_its_characters_into_effect(rights: Rights, other_holder) -> None:  # type: ignore[no-untyped-def]
    studio = other_holder("globex")
    r = studio.post("/v1/rights/characters", json={"slug": "pip", "name": "Pip Quillfeather"})
    assert r.status_code == 201 and r.json()["effective"] is False
    before = rights.decide("before-verify", "without.mp4", "Pip Quillfeather reads a book in the library")
    assert before.outcome == "published", (before.reasons, before.failed_stage, before.error)
    with rights.db.session() as s:
        version = registry_version(s)
    assert rights.admin.post("/v1/organisations/globex/verify").status_code == 200
    with rights.db.session() as s:
        assert registry_version(s) > version, "workers must notice the verification"
    assert studio.get(f"/v1/rights/characters/{r.json()['id']}").json()["effective"] is True
    assert (
        rights.decide("after-verify", "without.mp4", "Pip Quillfeather reads a book in the library").outcome
        == "rejected"
    )


def test_workers_reload_rules_without_reindexing_and_reindex_only_changed_characters(rights: Rights) -> None:
    pip = rights.character()["id"]
    other = rights.character("barnacle", name="Captain Barnacle", names=[], descriptions={})["id"]
    assert rights.upload(pip, rights.media["png"]).status_code == 201
    view = RightsView(rights.db, rights.api.settings.assets_dir)
    view.refresh(force=True)
    revs = view.index.revisions()
    assert set(revs) == {pip, other} and len(view.index.get(pip).images) == 1
    rights.rule(pip, {"effect": "allow"})
    assert view.refresh(force=True) and view.index.revisions() == revs  # rules are not features
    active = view.terms[pip].active
    assert active is not None and active.rule_id == f"{pip}@1"
    assert (
        rights.holder.patch(f"/v1/rights/characters/{other}", json={"name": "Cpt. Barnacle"}).status_code
        == 200
    )
    view.refresh(force=True)
    after = view.index.revisions()
    assert after[pip] == revs[pip] and after[other] > revs[other]
    assert rights.holder.delete(f"/v1/rights/characters/{other}").status_code == 204
    view.refresh(force=True)
    assert other not in view.index and other not in view.terms

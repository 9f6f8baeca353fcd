"""Issue #14, provenance privacy and rights holders' strings.

The public watermark resolution endpoint returned the reviewing moderator's login name (it was in
the signed manifest, so it was in every published video too). Rights holders' strings reached
creator messages and feed attribution verbatim: now bounded, without control or bidi characters.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fgapi import Api

from safety.provenance.models import ProvenanceRecord
from safety.provenance.store import ProvenanceStore

LiveApi = Callable[..., Api]  # the live_api fixture (conftest)

MODERATOR = "mod-jane-doe-7"


def test_an_approval_publishes_no_moderator_identity(live_api: LiveApi, videos: dict[str, Path]) -> None:
    api = live_api(media_root=videos["plain"].parent, api_rate_per_minute=1_000_000)
    item_id = api.held_video("v-private", videos["plain"].resolve().as_uri())
    mod_key = api.user("moderator", MODERATOR)
    mod = api.client(mod_key)
    mod_id = mod.get("/v1/me").json()["id"]
    assert mod.post(f"/v1/review/items/{item_id}/claim").status_code == 200
    d = mod.post(f"/v1/review/items/{item_id}/decision", json={"action": "approve", "audience": "everyone"})
    assert d.status_code == 200, d.text
    assert api.wait_job(d.json()["id"])["status"] == "done"  # approvals publish in a background job
    (record,) = ProvenanceStore(api.db).for_video("v-private")

    public = httpx.get(f"{api.url}/v1/provenance/watermarks/{record.watermark_id}")
    assert public.status_code == 200
    assert MODERATOR not in public.text and mod_id not in public.text and "reviewed_by" not in public.text
    # The signed manifest itself (also embedded in the published file) says a person reviewed it.
    stored = json.dumps(record.manifest_json)
    assert MODERATOR not in stored and mod_id not in stored and '"human_review": true' in stored


def test_manifests_signed_before_the_fix_are_redacted(live_api: LiveApi) -> None:
    api = live_api()
    legacy = {
        "active_manifest": "urn:m",
        "manifests": {
            "urn:m": {
                "assertions": [
                    {
                        "label": "org.feedguard.moderation",
                        "data": {"decision_id": "d-1", "reviewed_by": MODERATOR, "labels": ["reviewed"]},
                    }
                ]
            }
        },
    }
    ProvenanceStore(api.db).record(
        ProvenanceRecord(
            watermark_id="00aa11bb22cc33dd", video_id="v-old", decision_id="d-1", asset_uri="file:///x.mp4",
            manifest_json=legacy, manifest_label="urn:m", signed_at=datetime.now(UTC), algorithm="fg-luma-1",
            sha256="0" * 64,
        )
    )  # fmt: skip
    r = httpx.get(f"{api.url}/v1/provenance/watermarks/00aa11bb22cc33dd")
    assert r.status_code == 200 and MODERATOR not in r.text and "reviewed_by" not in r.text
    data = r.json()["manifest_store"]["manifests"]["urn:m"]["assertions"][0]["data"]
    assert data == {"decision_id": "d-1", "labels": ["reviewed"]}


BAD = {
    "right-to-left override": "Studio\u202egnp.exe",
    "bidi isolate": "Studio \u2066evil\u2069",
    "control character": "Studio\x1b[31m",
    "newline": "Studio\nInjected line",
    "zero width space": "Stu\u200bdio",
    "nul": "Studio\x00",
}


@pytest.fixture
def rights(live_api: LiveApi) -> tuple[Api, httpx.Client, httpx.Client]:
    api = live_api(api_rate_per_minute=1_000_000)
    return api, api.client(api.user("rights_holder", organisation_id="org-a")), api.client(api.user("admin"))


@pytest.mark.parametrize("case", sorted(BAD))
def test_rights_holder_strings_have_no_control_or_bidi_characters(
    rights: tuple[Api, httpx.Client, httpx.Client], case: str
) -> None:
    _, holder, admin = rights
    text = BAD[case]
    refused = {
        "character name": holder.post("/v1/rights/characters", json={"slug": "c-1", "name": text}),
        "alias": holder.post(
            "/v1/rights/characters", json={"slug": "c-2", "name": "Owl", "names": [{"text": text}]}
        ),
        "description": holder.post(
            "/v1/rights/characters", json={"slug": "c-3", "name": "Owl", "descriptions": {"en": [text]}}
        ),
        "organisation name": admin.post("/v1/organisations", json={"id": "org-z", "name": text}),
    }
    created = holder.post("/v1/rights/characters", json={"slug": "owl", "name": "Owl"})
    assert created.status_code == 201, created.text
    char = created.json()["id"]
    refused["attribution"] = holder.post(
        f"/v1/rights/characters/{char}/rules",
        json={"effect": "allow", "obligations": {"attribution": text}},
    )
    if case not in ("newline",):  # notes may span lines
        refused["rule note"] = holder.post(
            f"/v1/rights/characters/{char}/rules", json={"effect": "allow", "note": text}
        )
    for field, r in refused.items():
        assert r.status_code == 422, (case, field, r.status_code, r.text[:200])


def test_rights_holder_strings_are_bounded_and_ordinary_text_passes(
    rights: tuple[Api, httpx.Client, httpx.Client],
) -> None:
    _, holder, _ = rights
    long = holder.post("/v1/rights/characters", json={"slug": "long", "name": "x" * 201})
    assert long.status_code == 422
    ok = holder.post(
        "/v1/rights/characters",
        json={"slug": "intl", "name": "Ōwl — 猫头鹰 (عربي) 🦉", "names": [{"text": "Сова"}]},
    )
    assert ok.status_code == 201, ok.text
    rule = holder.post(
        f"/v1/rights/characters/{ok.json()['id']}/rules",
        json={
            "effect": "allow",
            "obligations": {"attribution": "© Acme Studios — used with permission"},
            "note": "line one\nline two",
        },
    )
    assert rule.status_code == 201, rule.text
    too_long = holder.post(
        f"/v1/rights/characters/{ok.json()['id']}/rules",
        json={"effect": "allow", "obligations": {"attribution": "a" * 201}},
    )
    assert too_long.status_code == 422

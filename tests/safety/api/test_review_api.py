"""Review queue, leases, evidence and decisions through the HTTP API."""

from __future__ import annotations

import threading
from pathlib import Path

from fgapi import Api
from fgtest import read_topics

from streams.topics import FEED_PUBLISH, VIDEOS_REJECTED


def uri(p: Path) -> str:
    return p.resolve().as_uri()


def test_held_video_reaches_the_queue_with_evidence(api: Api, videos: dict[str, Path]) -> None:
    item_id = api.held_video("v-held", uri(videos["plain"]))
    mod = api.client(api.user("moderator"))
    page = mod.get("/v1/review/items").json()
    assert [i["id"] for i in page["items"]] == [item_id]
    assert page["items"][0]["priority"] == "urgent" and page["items"][0]["reasons"] == ["self_harm.review"]
    ev = mod.get(f"/v1/review/items/{item_id}").json()
    assert ev["video"]["prompt"] == "i want to hurt myself"
    assert [h["rule_id"] for h in ev["trace"]] == ["rate.self_harm", "hold.self_harm"]
    assert any(s["name"] == "prompt.self_harm" and s["score"] >= 0.5 for s in ev["signals"])
    assert ev["sensitive"] is True
    assert 2 <= len(ev["frames"]) <= 12
    jpg = mod.get(ev["frames"][0]["url"])
    assert (
        jpg.status_code == 200
        and jpg.headers["content-type"] == "image/jpeg"
        and jpg.content[:2] == b"\xff\xd8"
    )
    assert ev["history"][0]["outcome"] == "held"


def test_queue_order_filters_and_cursor(api: Api, videos: dict[str, Path]) -> None:
    api.held_video("q-self-harm", uri(videos["plain"]))  # urgent
    api.held_video("q-hate", uri(videos["plain"]), "a rally shouting white power")  # high
    api.held_video("q-teen-gore", uri(videos["plain"]), "a gory zombie movie", age_band="teen")  # high, teen
    mod = api.client(api.user("moderator"))
    ids = [i["video_id"] for i in mod.get("/v1/review/items").json()["items"]]
    assert ids == ["q-self-harm", "q-hate", "q-teen-gore"]  # priority, then oldest
    teen = mod.get("/v1/review/items", params={"age_band": "teen"}).json()["items"]
    assert [i["video_id"] for i in teen] == ["q-teen-gore"]
    high = mod.get("/v1/review/items", params={"priority": "high"}).json()["items"]
    assert {i["video_id"] for i in high} == {"q-hate", "q-teen-gore"}
    by_reason = mod.get("/v1/review/items", params={"reason": "hate.review"}).json()["items"]
    assert [i["video_id"] for i in by_reason] == ["q-hate"]
    first = mod.get("/v1/review/items", params={"limit": 2}).json()
    second = mod.get("/v1/review/items", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [i["video_id"] for i in first["items"] + second["items"]] == ids
    assert second["next_cursor"] is None
    bad = mod.get("/v1/review/items", params={"cursor": "not-a-cursor"})
    assert bad.status_code == 400 and bad.headers["content-type"] == "application/problem+json"
    counts = mod.get("/v1/review/counts").json()
    assert counts["total"] == 3 and counts["by_priority"] == {"urgent": 1, "high": 2}


def test_a_lease_is_never_given_to_two_moderators_under_50_concurrent_claims(
    api: Api, videos: dict[str, Path]
) -> None:
    item_id = api.held_video("v-race", uri(videos["plain"]))
    tokens = [api.user("moderator", f"mod-{i}") for i in range(50)]
    barrier = threading.Barrier(50)
    results: list[tuple[int, str]] = []

    def claim(token: str) -> None:
        with api.client(token) as c:
            barrier.wait()
            r = c.post(f"/v1/review/items/{item_id}/claim")
            results.append((r.status_code, r.json().get("lease_owner") or r.json().get("type", "")))

    threads = [threading.Thread(target=claim, args=(t,)) for t in tokens]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [r for r in results if r[0] == 200]
    assert len(results) == 50 and len(winners) == 1, results
    assert all(code == 409 and t.endswith("/lease-held") for code, t in results if code != 200)


def test_decide_needs_a_live_lease_and_a_valid_action(api: Api, videos: dict[str, Path]) -> None:
    item_id = api.held_video("v-lease", uri(videos["plain"]))
    a, b = api.client(api.user("moderator")), api.client(api.user("moderator"))
    r = a.post(f"/v1/review/items/{item_id}/decision", json={"action": "approve", "audience": "everyone"})
    assert r.status_code == 409 and r.json()["type"].endswith("/lease-required")
    assert a.post(f"/v1/review/items/{item_id}/claim").status_code == 200
    r = b.post(f"/v1/review/items/{item_id}/decision", json={"action": "reject", "reasons": ["policy.other"]})
    assert r.status_code == 409  # b holds no lease
    r = a.post(f"/v1/review/items/{item_id}/decision", json={"action": "remove", "reasons": ["x"]})
    assert r.status_code == 422 and r.json()["type"].endswith("/action-not-allowed")
    r = a.post(f"/v1/review/items/{item_id}/decision", json={"action": "reject"})
    assert r.status_code == 422 and r.json()["type"].endswith("/reasons-required")
    r = a.post(f"/v1/review/items/{item_id}/decision", json={"action": "approve", "audience": "everyone"})
    assert r.status_code == 200, r.text
    again = a.post(f"/v1/review/items/{item_id}/decision", json={"action": "approve", "audience": "everyone"})
    assert again.status_code == 409 and again.json()["type"].endswith("/item-decided")


def test_escalate_raises_priority_and_releases_the_lease(api: Api, videos: dict[str, Path]) -> None:
    item_id = api.held_video("v-esc", uri(videos["plain"]), "a rally shouting white power")
    mod = api.client(api.user("moderator"))
    mod.post(f"/v1/review/items/{item_id}/claim")
    r = mod.post(
        f"/v1/review/items/{item_id}/decision", json={"action": "escalate", "note": "needs policy team"}
    )
    assert r.status_code == 200
    esc = mod.get("/v1/review/items", params={"status": "escalated"}).json()["items"]
    assert esc[0]["id"] == item_id and esc[0]["priority"] == "urgent" and esc[0]["lease_owner"] is None


def test_approve_and_reject_reach_kafka_like_pipeline_outcomes(
    api_kafka: Api, videos: dict[str, Path], broker: str
) -> None:
    ok_item = api_kafka.held_video("v-approve", uri(videos["plain"]))
    no_item = api_kafka.held_video("v-reject", uri(videos["bars"]))
    mod = api_kafka.client(api_kafka.user("moderator"))
    mod.post(f"/v1/review/items/{ok_item}/claim")
    approved = mod.post(
        f"/v1/review/items/{ok_item}/decision", json={"action": "approve", "audience": "13+"}
    ).json()
    mod.post(f"/v1/review/items/{no_item}/claim")
    rejected = mod.post(
        f"/v1/review/items/{no_item}/decision",
        json={
            "action": "reject",
            "reasons": ["policy.self_harm"],
            "note": "Content promoting self-harm isn't allowed.",
        },
    ).json()
    msgs = {m.key: m for m in read_topics(broker, [FEED_PUBLISH, VIDEOS_REJECTED], until=2, quiet_s=1.0)}
    pub = msgs["v-approve"]
    assert pub.topic == FEED_PUBLISH and pub.value["schema"] == "video.published/v1"
    assert pub.value["audience"] == "13+" and pub.value["decision_id"] == approved["id"]
    assert "reviewed" in pub.value["labels"]
    assert Path(pub.value["asset_uri"].removeprefix("file://")).is_file()
    rej = msgs["v-reject"]
    assert rej.topic == VIDEOS_REJECTED and rej.value["reasons"] == ["policy.self_harm"]
    assert rej.value["message"] == "Content promoting self-harm isn't allowed."
    assert rej.value["decision_id"] == rejected["id"]
    assert len(msgs) == 2


def test_teen_video_cannot_be_approved_for_adults(api: Api, videos: dict[str, Path]) -> None:
    item_id = api.held_video("v-teen", uri(videos["plain"]), "a gory zombie movie", age_band="teen")
    mod = api.client(api.user("moderator"))
    mod.post(f"/v1/review/items/{item_id}/claim")
    r = mod.post(f"/v1/review/items/{item_id}/decision", json={"action": "approve", "audience": "18+"})
    assert r.status_code == 422 and r.json()["type"].endswith("/teen-adult-audience")


def test_evidence_frames_carry_detector_boxes(api: Api, videos: dict[str, Path]) -> None:
    api.settings = api.settings.model_copy(update={"extra_detectors": ["fgtest:BoxDetector"]})
    item_id = api.held_video("v-boxes", uri(videos["long"]))
    ev = api.client(api.user("moderator")).get(f"/v1/review/items/{item_id}").json()
    faces = [[b for b in f["boxes"] if b["label"] == "face"] for f in ev["frames"]]
    assert sum(1 for f in faces if f) >= len(ev["frames"]) - 1
    box = next(f for f in faces if f)[0]
    assert (box["x"], box["y"], box["w"], box["h"]) == (0.25, 0.2, 0.3, 0.4)


def test_watermark_id_resolves_to_the_manifest_store_publicly(api: Api, videos: dict[str, Path]) -> None:
    """An approval publishes through the provenance step; its watermark id resolves without a key."""
    from safety.provenance.store import ProvenanceStore

    item_id = api.held_video("v-prov", uri(videos["plain"]))
    mod = api.client(api.user("moderator"))
    mod.post(f"/v1/review/items/{item_id}/claim")
    d = mod.post(f"/v1/review/items/{item_id}/decision", json={"action": "approve", "audience": "everyone"})
    assert d.status_code == 200, d.text
    assert d.json()["publish_status"] == "queued"
    assert api.wait_job(d.json()["id"])["status"] == "done"
    (record,) = ProvenanceStore(api.db).for_video("v-prov")
    r = api.client().get(f"/v1/provenance/watermarks/{record.watermark_id}")
    assert r.status_code == 200
    body = r.json()
    assert (
        body["watermark_id"] == record.watermark_id
        and body["manifest_label"] in body["manifest_store"]["manifests"]
    )
    assert "v-prov" not in str(body.get("reporter", ""))
    assert api.client().get("/v1/provenance/watermarks/0123456789abcdef").status_code == 404
    assert api.client().get("/v1/provenance/watermarks/not-hex").status_code == 422

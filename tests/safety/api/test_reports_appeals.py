"""Reports on published videos, takedowns, and creator appeals."""

from __future__ import annotations

from pathlib import Path

from fgapi import Api
from fgtest import read_topics

from streams.topics import FEED_PUBLISH, FEED_TAKEDOWN


def uri(p: Path) -> str:
    return p.resolve().as_uri()


def test_reports_prioritise_by_reason_and_distinct_reporters(api: Api, videos: dict[str, Path]) -> None:
    for vid in ("r-spam", "r-bully", "r-copy"):
        assert api.decided_video(vid, uri(videos["plain"]), "a cat on a sofa") == "published"
    platform = api.client(api.user("platform"))
    mod = api.client(api.user("moderator"))

    def report(video_id: str, reporter: str, reason: str) -> dict:  # type: ignore[type-arg]
        r = platform.post(
            "/v1/reports", json={"video_id": video_id, "reporter_id": reporter, "reason": reason}
        )
        assert r.status_code in (200, 201), r.text
        return r.json()  # type: ignore[no-any-return]

    report("r-spam", "u1", "spam")
    for i in range(3):
        report("r-copy", f"u{i}", "copyright")
    first = report("r-bully", "u9", "bullying_harassment")
    assert first["created"] and first["item_priority"] == "urgent"
    dup = report("r-bully", "u9", "bullying_harassment")
    assert dup["created"] is False and dup["item_id"] == first["item_id"]
    order = [i["video_id"] for i in mod.get("/v1/review/items", params={"kind": "report"}).json()["items"]]
    assert order == ["r-bully", "r-copy", "r-spam"]
    items = {i["video_id"]: i for i in mod.get("/v1/review/items", params={"kind": "report"}).json()["items"]}
    assert items["r-copy"]["priority_value"] == 1003  # normal level, three distinct reporters
    # A second reason on the same video raises the level of its one open item.
    report("r-spam", "u2", "minor_safety")
    items = {i["video_id"]: i for i in mod.get("/v1/review/items", params={"kind": "report"}).json()["items"]}
    assert items["r-spam"]["priority"] == "urgent"
    assert items["r-spam"]["reasons"] == ["report.minor_safety", "report.spam"]
    # Only published videos can be reported.
    api.held_video("r-held", uri(videos["plain"]))
    r = platform.post("/v1/reports", json={"video_id": "r-held", "reporter_id": "u1", "reason": "spam"})
    assert r.status_code == 409 and r.json()["type"].endswith("/video-not-published")


def test_moderator_removal_emits_a_takedown_and_reporters_stay_hidden(
    api_kafka: Api, videos: dict[str, Path], broker: str
) -> None:
    api = api_kafka
    assert api.decided_video("r-take", uri(videos["plain"]), "a dog", creator="creator-7") == "published"
    platform = api.client(api.user("platform"))
    item = platform.post(
        "/v1/reports",
        json={"video_id": "r-take", "reporter_id": "secret-reporter-42", "reason": "bullying_harassment"},
    ).json()["item_id"]
    mod = api.client(api.user("moderator"))
    mod.post(f"/v1/review/items/{item}/claim")
    ev = mod.get(f"/v1/review/items/{item}").json()
    assert ev["reports"][0]["reporter_id"] == "secret-reporter-42"  # moderators see reporters
    d = mod.post(
        f"/v1/review/items/{item}/decision",
        json={"action": "remove", "reasons": ["report.bullying_harassment"]},
    ).json()
    (msg,) = read_topics(broker, [FEED_TAKEDOWN], until=1)
    assert msg.key == "r-take" and msg.value["schema"] == "video.takedown/v1"
    assert msg.value["decision_id"] == d["id"] and msg.value["reasons"] == ["report.bullying_harassment"]
    creator = api.client(api.user("creator", creator_id="creator-7"))
    mine = creator.get("/v1/videos/r-take")
    assert mine.status_code == 200 and mine.json()["state"] == "taken_down"
    assert "secret-reporter-42" not in mine.text
    assert "secret-reporter-42" not in creator.get("/v1/videos").text


def test_appeal_goes_to_a_different_moderator_and_overturn_publishes(
    api_kafka: Api, videos: dict[str, Path], broker: str
) -> None:
    api = api_kafka
    item = api.held_video("a-vid", uri(videos["plain"]), creator="creator-a")
    rejecter = api.user("moderator", "rejecter")
    other = api.user("moderator", "other")
    m1, m2 = api.client(rejecter), api.client(other)
    m1.post(f"/v1/review/items/{item}/claim")
    m1.post(f"/v1/review/items/{item}/decision", json={"action": "reject", "reasons": ["policy.self_harm"]})

    creator = api.client(api.user("creator", creator_id="creator-a"))
    stranger = api.client(api.user("creator", creator_id="creator-b"))
    assert stranger.post("/v1/appeals", json={"video_id": "a-vid", "statement": "mine!"}).status_code == 404
    appeal = creator.post("/v1/appeals", json={"video_id": "a-vid", "statement": "It is a recovery story."})
    assert appeal.status_code == 201, appeal.text
    again = creator.post("/v1/appeals", json={"video_id": "a-vid", "statement": "again"})
    assert again.status_code == 409 and again.json()["type"].endswith("/appeal-open")
    assert [a["video_id"] for a in creator.get("/v1/appeals").json()] == ["a-vid"]
    assert stranger.get("/v1/appeals").json() == []

    appeal_item = m2.get("/v1/review/items", params={"kind": "appeal"}).json()["items"][0]
    r = m1.post(f"/v1/review/items/{appeal_item['id']}/claim")
    assert r.status_code == 403 and r.json()["type"].endswith("/moderator-excluded")
    assert m2.post(f"/v1/review/items/{appeal_item['id']}/claim").status_code == 200
    ev = m2.get(f"/v1/review/items/{appeal_item['id']}").json()
    assert ev["appeal"]["statement"] == "It is a recovery story."
    d = m2.post(
        f"/v1/review/items/{appeal_item['id']}/decision", json={"action": "overturn", "audience": "13+"}
    )
    assert d.status_code == 200, d.text
    (pub,) = read_topics(broker, [FEED_PUBLISH], until=1)
    assert pub.key == "a-vid" and pub.value["audience"] == "13+"
    assert creator.get("/v1/appeals").json()[0]["status"] == "overturned"
    assert creator.get("/v1/videos/a-vid").json()["state"] == "published"


def test_only_rejected_videos_can_be_appealed(api: Api, videos: dict[str, Path]) -> None:
    api.decided_video("a-pub", uri(videos["plain"]), "a cat", creator="creator-p")
    creator = api.client(api.user("creator", creator_id="creator-p"))
    r = creator.post("/v1/appeals", json={"video_id": "a-pub", "statement": "why"})
    assert r.status_code == 409 and r.json()["type"].endswith("/not-rejected")
    # A pipeline rejection (no moderator involved) can be appealed, and any moderator may decide it.
    api.decided_video("a-rej", uri(videos["plain"]), "a s3xy dance", age_band="teen", creator="creator-p")
    assert (
        creator.post(
            "/v1/appeals", json={"video_id": "a-rej", "statement": "it was a dance class"}
        ).status_code
        == 201
    )

"""Rights in the real pipeline (real inference, PostgreSQL, ffmpeg, C2PA): default deny by name,
description, image and audio; an opt-in with conditions and obligations; shadow counts; reports;
relabel and takedown when the owner changes or withdraws the opt-in."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from fgrights import Rights
from sqlalchemy import select

from safety.events import VideoPublished
from safety.outcomes import outbound
from safety.provenance.verify import verify_file
from safety.rights.models import RightsMatch
from safety.store import DecisionRow, OutboxMessage, ReviewItem, Video
from safety.topics import FEED_RELABEL, FEED_TAKEDOWN


def _outbox(rights: Rights, topic: str) -> list[dict[str, object]]:
    with rights.db.session() as s:
        return [m.value for m in s.scalars(select(OutboxMessage).where(OutboxMessage.topic == topic))]


def test_default_deny_then_opt_in_with_conditions_then_relabel_and_withdraw(rights: Rights) -> None:
    cid = rights.character()["id"]
    assert rights.upload(cid, rights.media["png"]).status_code == 201

    # Default deny, whichever cue finds the character; the creator is told which character.
    seen = rights.decide("deny-image", "with.mp4")
    assert (seen.outcome, seen.reasons) == ("rejected", ["rights.not_licensed"])
    assert "Pip Quillfeather" in (seen.creator_message or "") and "Acme Studios" in (
        seen.creator_message or ""
    )
    assert [h["rule_id"] for h in seen.trace] == [f"rights:{cid}@default-deny"]
    named = rights.decide("deny-alias", "without.mp4", "Pr0fessor   P1p casting a spell in the rain")
    assert named.outcome == "rejected" and named.reasons == ["rights.not_licensed"]
    paraphrase = "a little green owl wizard in a tall purple pointy hat with yellow stars teaching magic"
    described = rights.decide("deny-described", "without.mp4", paraphrase + " to forest animals")
    assert described.outcome == "rejected", described.reasons
    spanish = rights.decide("deny-es", "without.mp4", "Pipo el Búho vuela sobre la ciudad")
    assert spanish.outcome == "rejected"
    assert rights.decide("plain", "without.mp4", "an owl in a forest").outcome == "published"

    # A rule in shadow first: counted against what happened, never enforced.
    spec = {
        "effect": "allow_with_conditions",
        "conditions": {"audiences": ["everyone", "13+"], "excluded_contexts": ["sexual"]},
        "obligations": {"attribution": "Pip Quillfeather © Acme Studios", "revenue_share": "acme-pip-01"},
    }
    rule = rights.rule(cid, spec, mode="shadow")["rule"]
    assert rights.decide("shadowed", "with2.mp4").outcome == "rejected"
    counts = rights.holder.get(f"/v1/rights/characters/{cid}/rules/{rule['version']}/shadow").json()
    assert counts["evaluated"] == 5 and counts["transitions"] == {"rejected->published": 5}
    assert counts["live_shadow"] == {"evaluated": 1, "transitions": {"rejected->published": 1}}

    # Activated: a use meeting the conditions is published, carrying the obligations everywhere.
    activated = rights.holder.post(f"/v1/rights/characters/{cid}/rules/{rule['version']}/activate").json()
    assert activated["affected_videos"] == []
    ok = rights.decide("licensed", "with.mp4", "a forest at dawn", territory="GB")
    assert ok.outcome == "published" and "rights.licensed" in ok.reasons and "rights.attribution" in ok.labels
    [duty] = ok.obligations or []
    assert duty["attribution"] == "Pip Quillfeather © Acme Studios" and duty["revenue_share"] == "acme-pip-01"
    topic, event = outbound(ok, "creator-licensed")
    assert (
        topic == "feed.publish"
        and isinstance(event, VideoPublished)
        and event.obligations[0].attribution == duty["attribution"]
    )
    assert ok.asset_uri is not None
    report = verify_file(Path(ok.asset_uri.removeprefix("file://")), watermark=False)
    moderation = (report.manifest or {})["moderation"]
    assert moderation["grants"][0]["type"] == "rights.obligation"
    assert moderation["grants"][0]["revenue_share"] == "acme-pip-01"

    # Conditions not met: rejected, naming the failed condition.
    adult = rights.decide("too-adult", "with.mp4", "a sensual nude couple in a steamy bedroom")
    assert adult.outcome == "rejected"
    assert (
        "rights.condition_failed.audience" in adult.reasons
        or "rights.condition_failed.context" in adult.reasons
    )
    assert "only under conditions" in (adult.creator_message or "")

    # Reports: the matches with decision and rule, as JSON and as CSV; hits over time.
    rows = rights.holder.get(f"/v1/rights/characters/{cid}/matches").json()
    assert {r["video_id"] for r in rows} >= {"deny-image", "licensed", "too-adult"}
    assert next(r for r in rows if r["video_id"] == "licensed")["rule_id"] == rule["id"]
    got = rights.holder.get(f"/v1/rights/characters/{cid}/matches", params={"format": "csv"})
    assert got.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(got.text)))
    assert len(table) == len(rows) and {"video_id", "rule_id", "character_outcome"} <= set(table[0])
    hits = rights.holder.get(f"/v1/rights/characters/{cid}/rules/{rule['version']}/hits").json()
    assert sum(h["published"] for h in hits) == 1 and sum(h["rejected"] for h in hits) == 1

    # New terms for the same use: the published video is relabelled, not taken down.
    spec["obligations"] = {"attribution": "Pip © Acme Studios 2026"}
    relabel = rights.rule(cid, spec, mode="active")
    assert relabel["affected_videos"] == ["licensed"]
    [msg] = _outbox(rights, FEED_RELABEL)
    assert msg["video_id"] == "licensed" and msg["schema"] == "video.relabelled/v1"
    assert msg["obligations"][0]["attribution"] == "Pip © Acme Studios 2026"  # type: ignore[index]

    # Withdrawal: what relied on the opt-in comes down, once.
    gone = rights.holder.post(f"/v1/rights/characters/{cid}/rules/withdraw").json()
    assert gone["affected_videos"] == ["licensed"]
    assert rights.holder.post(f"/v1/rights/characters/{cid}/rules/withdraw").json()["affected_videos"] == []
    [takedown] = _outbox(rights, FEED_TAKEDOWN)
    assert takedown["video_id"] == "licensed" and takedown["reasons"] == ["rights.license_withdrawn"]
    with rights.db.session() as s:
        video = s.get(Video, "licensed")
        assert video is not None and video.state == "taken_down"
    assert rights.decide("after-withdrawal", "with2.mp4").outcome == "rejected"


def test_track_publishes_and_records_every_use(rights: Rights) -> None:
    cid = rights.character()["id"]
    assert rights.upload(cid, rights.media["png"]).status_code == 201
    rights.rule(cid, {"effect": "track"})
    row = rights.decide("tracked", "with.mp4")
    assert row.outcome == "published" and row.reasons == ["rights.tracked"] and not row.obligations
    with rights.db.session() as s:
        [m] = s.scalars(select(RightsMatch).where(RightsMatch.video_id == "tracked")).all()
        assert (m.outcome, m.effect, m.rule_id) == ("published", "track", f"{cid}@1")
        assert "image_local_features" in m.methods and m.evidence and m.facts["audience"] == "everyone"


def test_reference_audio_in_the_soundtrack_is_found_with_its_time_range(rights: Rights) -> None:
    cid = rights.character(descriptions={})["id"]
    assert rights.upload(cid, rights.media["theme"], kind="audio").status_code == 201
    row = rights.decide("theme-song", "theme.mp4", "a forest at dawn")
    assert row.outcome == "rejected" and row.reasons == ["rights.not_licensed"]
    audio = next(s for s in row.signals if s["name"] == "rights.audio")
    assert audio["score"] >= 0.8 and audio["evidence"][0]["label"].startswith(f"{cid}/audio/")
    assert "s (reference at" in audio["evidence"][0]["text"]
    assert rights.decide("no-theme", "plain.mp4", "a forest at dawn").outcome == "published"


def test_reference_clip_reuse_is_found_as_a_near_duplicate(rights: Rights) -> None:
    cid = rights.character(descriptions={})["id"]
    assert rights.upload(cid, rights.media["with"], kind="clip").status_code == 201
    row = rights.decide("reupload", "with.mp4", "my own cartoon")
    assert row.outcome == "rejected"
    methods = {s["name"] for s in row.signals if s["name"].startswith("rights.") and s["score"] >= 0.8}
    assert "rights.image_near_duplicate" in methods
    with rights.db.session() as s:
        decision = s.scalar(select(DecisionRow).where(DecisionRow.video_id == "reupload"))
        assert decision is not None and decision.stage_ms["detect:rights"] > 0


def test_an_ambiguous_match_is_held_and_the_moderator_sees_character_owner_and_cues(rights: Rights) -> None:
    r = rights.holder.post(
        "/v1/rights/characters",
        json={"slug": "sunny", "name": "Sunny Spongeworth", "names": [{"text": "Sunny", "ambiguous": True}]},
    )
    assert r.status_code == 201
    row = rights.decide("sunny-day", "without.mp4", "Sunny reads a book in the library")
    assert row.outcome == "held" and row.reasons == ["rights.ambiguous"]
    with rights.db.session() as s:
        item = s.scalar(select(ReviewItem).where(ReviewItem.video_id == "sunny-day"))
        assert item is not None
        item_id = item.id
    key = rights.api.user("moderator")
    ev = rights.api.client(key).get(f"/v1/review/items/{item_id}").json()
    [match] = ev["rights"]
    assert (match["name"], match["owner"], match["outcome"]) == ("Sunny Spongeworth", "Acme Studios", "held")
    assert match["methods"] == ["prompt_name"] and 0.4 <= match["score"] < 0.8
    assert match["evidence"] and "Sunny" in match["evidence"][0]["text"]
    browser = rights.api.client()
    browser.cookies.set("fg_session", key)
    page = browser.get(f"/ui/items/{item_id}")
    assert page.status_code == 200 and "Rights: registered characters" in page.text
    assert "Sunny Spongeworth" in page.text and "no rule: default deny" in page.text

"""The likeness detector on real clips: who is matched, and which consent signal that gives."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from safety.likeness import authority, registry
from safety.likeness.detector import LikenessDetector, LikenessResult
from safety.likeness.enrol import Enrolment
from safety.likeness.models import Cameo, ProtectedLikeness
from safety.likeness.vectors import MatchThresholds
from safety.store import Database

Scan = Callable[..., dict[str, Any]]


def test_unknown_faces_are_allowed(scan: Scan, results: list[LikenessResult]) -> None:
    found = scan("cam", "c1", cameos=["nobody"])
    assert set(found) == {"likeness.cameo_missing"}  # only the note that a named cameo is not enrolled
    assert found["likeness.cameo_missing"].score <= 0.2
    assert [e.label for e in found["likeness.cameo_missing"].evidence] == ["not-enrolled"]
    assert results[-1] is not None and len(results[-1].tracks) == 1


def test_each_permission_mode(scan: Scan, enrol: Callable[..., str], db: Database) -> None:
    cameo_id = enrol("astro", "alice", permission="approved", approved=["bob"])
    absent = enrol("cam", "dan", permission="everyone")
    assert scan("astro", "bob", cameos=["alice"]) == {}  # approved (and the named cameo was seen)
    stranger = scan("astro", "carol", cameos=["dan"])
    assert set(stranger) == {"likeness.no_consent", "likeness.cameo_missing"}
    assert [e.label for e in stranger["likeness.cameo_missing"].evidence] == [absent]
    signal = stranger["likeness.no_consent"]
    assert signal.score >= 0.9 and signal.detector == "likeness"
    ev = signal.evidence[0]
    assert ev.label == cameo_id and ev.box is not None and ev.t is not None and ev.score > 0.93
    with db.session() as s:
        registry.update_terms(s, s.get(Cameo, cameo_id), actor="test", permission="everyone")
    assert scan("astro", "carol") == {}
    with db.session() as s:
        registry.update_terms(s, s.get(Cameo, cameo_id), actor="test", permission="only_me")
    assert set(scan("astro", "bob")) == {"likeness.no_consent"}


def test_teen_cameos_are_flagged_and_only_approved_people_may_use_them(
    scan: Scan, enrol: Callable[..., str]
) -> None:
    enrol("astro", "teen1", age_band="teen", permission="approved", approved=["friend"])
    assert set(scan("astro", "friend")) == {"likeness.minor_cameo"}
    assert set(scan("astro", "adult-stranger")) == {"likeness.minor_cameo", "likeness.no_consent"}


def test_per_use_limits_are_reported_for_the_policy(scan: Scan, enrol: Callable[..., str]) -> None:
    enrol("astro", "alice", permission="everyone", limits={"no_sexual": True, "no_political": True})
    assert set(scan("astro", "bob")) == {"likeness.limit_no_sexual", "likeness.limit_no_political"}
    assert scan("astro", "alice") == {}  # limits bind others, not the owner; the owner may always


def test_protected_figures_are_blocked_until_they_enrol_and_consent(
    scan: Scan, enrol: Callable[..., str], db: Database, enrolments: dict[str, Enrolment]
) -> None:
    with db.session() as s:
        person = registry.add_protected(s, name="A. Cameraman", enrolment=enrolments["cam"], actor="admin")
        pid = person.id
    found = scan("cam", "fan")
    assert set(found) == {"likeness.protected"}
    assert found["likeness.protected"].evidence[0].label == pid
    with pytest.raises(registry.ProtectedMatch):  # never linked by enrolling alone
        enrol("cam", "cameraman", permission="approved", approved=["friend"])
    assert set(scan("cam", "friend")) == {"likeness.protected"}
    with db.session() as s:  # an admin links it after checking the person's identity
        terms = {"permission": "approved", "approved": ["friend"], "age_band": "adult"}
        request = authority.queue_enrolment(s, owner_id="cameraman", owner_user_id=None,
                                            enrolment=enrolments["cam"], terms=terms,
                                            matches=[(pid, 0.99)], actor="creator")  # fmt: skip
        cameo_id = authority.link(s, request, actor="admin", verified_by="v", verification="passport").id
    with db.session() as s:
        assert s.get(ProtectedLikeness, pid).cameo_id == cameo_id
    assert scan("cam", "friend") == {}
    assert set(scan("cam", "fan")) == {"likeness.no_consent"}


def test_two_people_in_one_clip_are_two_tracks(
    scan: Scan,
    enrol: Callable[..., str],
    results: list[LikenessResult],
    db: Database,
    enrolments: dict[str, Enrolment],
) -> None:
    cameo_id = enrol("astro", "alice")
    with db.session() as s:
        pid = registry.add_protected(s, name="A. Cameraman", enrolment=enrolments["cam"], actor="admin").id
    found = scan("both", "bob")
    assert set(found) == {"likeness.no_consent", "likeness.protected"}
    result = results[-1]
    assert result is not None and len(result.tracks) == 2
    assert all(1 <= len(t.vectors) <= 3 for t in result.tracks)  # a few embeddings per person, not per frame
    assert {(m.cameo_id, m.protected_id) for m in result.matches} == {(cameo_id, None), (None, pid)}


def test_near_the_threshold_is_uncertain(
    scan: Scan, enrol: Callable[..., str], detector: LikenessDetector, results: list[LikenessResult]
) -> None:
    enrol("astro", "alice")
    scan("astro", "bob")
    assert results[-1] is not None
    sim = results[-1].matches[0].similarity
    detector.view.thresholds = MatchThresholds(threshold=sim + 0.01, margin=0.03)
    found = scan("astro", "bob")
    assert set(found) == {"likeness.uncertain"}
    assert 0.5 < found["likeness.uncertain"].score <= 1.0

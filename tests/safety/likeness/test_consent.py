"""The consent rule on its own: owner, only_me, approved, everyone, teens, revoked."""

from __future__ import annotations

import pytest

from safety.likeness.consent import CameoTerms, ConsentError, check_terms


def terms(
    permission: str, approved: tuple[str, ...] = (), age_band: str = "adult", status: str = "active"
) -> CameoTerms:
    return CameoTerms("cam_1", "owner", age_band, permission, frozenset(approved), frozenset(), status)


def test_the_owner_may_always_use_their_own_face() -> None:
    for t in (terms("only_me"), terms("approved"), terms("everyone", status="revoked")):
        assert t.allows("owner")


def test_each_permission_mode() -> None:
    assert not terms("only_me", ("friend",)).allows("friend")
    assert terms("approved", ("friend",)).allows("friend")
    assert not terms("approved", ("friend",)).allows("stranger")
    assert terms("everyone").allows("stranger")
    assert not terms("everyone").allows(None)


def test_revoked_cameos_allow_no_one_else() -> None:
    assert not terms("approved", ("friend",), status="revoked").allows("friend")
    assert not terms("everyone", status="deleted").allows("stranger")


def test_teens_only_ever_allow_approved_people() -> None:
    with pytest.raises(ConsentError) as err:
        check_terms("teen", "everyone", [], "owner")
    assert err.value.code == "teen-permission"
    # a stored 'everyone' on a teen's cameo (e.g. the owner's age band changed) reads as the approved list
    assert not terms("everyone", ("friend",), age_band="teen").allows("adult-stranger")
    assert terms("everyone", ("friend",), age_band="teen").allows("friend")
    assert check_terms("teen", "approved", [" friend ", "owner", ""], "owner") == ["friend"]

"""Who may show an enrolled person: the one consent rule, shared by the detector and takedowns.

Kept pure (no database) so the worker's in-memory snapshot and the API's transaction decide
exactly alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from safety.likeness.models import Cameo


@dataclass(frozen=True, slots=True)
class CameoTerms:
    """The consent-relevant part of a cameo, as workers hold it."""

    id: str
    owner_id: str
    age_band: str
    permission: str
    approved: frozenset[str]
    limits: frozenset[str]
    status: str

    @classmethod
    def of(cls, cameo: Cameo) -> CameoTerms:
        return cls(
            id=cameo.id,
            owner_id=cameo.owner_id,
            age_band=cameo.age_band,
            permission=cameo.permission,
            approved=frozenset(str(c) for c in cameo.approved or ()),
            limits=frozenset(k for k, on in (cameo.limits or {}).items() if on),
            status=cameo.status,
        )

    def allows(self, creator_id: str | None) -> bool:
        """The owner always may; others only while active and granted. Teens' cameos never follow
        ``everyone`` (the API refuses it; an old row is read as the approved list)."""
        if creator_id is not None and creator_id == self.owner_id:
            return True
        if self.status != "active" or creator_id is None:
            return False
        if self.permission == "everyone" and self.age_band == "adult":
            return True
        if self.permission in ("approved", "everyone"):
            return creator_id in self.approved
        return False


class ConsentError(ValueError):
    """A requested setting is not allowed (e.g. ``everyone`` for a teen owner)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def check_terms(age_band: str, permission: str, approved: Iterable[str], owner_id: str) -> list[str]:
    """Validate settings before they are stored; returns the cleaned approved list."""
    if age_band == "teen" and permission == "everyone":
        raise ConsentError(
            "teen-permission", "A teen's cameo can only be used by people they approve, not by everyone."
        )
    cleaned = sorted({a.strip() for a in approved if a.strip() and a.strip() != owner_id})
    if len(cleaned) > 500:
        raise ConsentError("approved-too-long", "At most 500 approved creators.")
    return cleaned

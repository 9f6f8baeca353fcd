"""Changes to the likeness registry. Each one writes an audit entry and bumps the registry version
in the caller's transaction, so either all of it happens or none, and workers see it together.
Changes that can forbid a published video also log a registry change (``safety.registry``): the
reconciler takes down what they no longer cover, including videos decided on a stale index."""

from __future__ import annotations

import secrets
from collections.abc import Collection, Iterable, Mapping
from typing import Any

import numpy as np
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from safety.likeness.consent import ConsentError, check_terms
from safety.likeness.enrol import Enrolment
from safety.likeness.models import (
    LIMITS,
    PERMISSIONS,
    Cameo,
    CameoEmbedding,
    ProtectedEmbedding,
    ProtectedLikeness,
)
from safety.likeness.vectors import (
    DEFAULT_THRESHOLDS,
    EMBEDDING_MODEL,
    F32,
    MatchThresholds,
    from_bytes,
    to_bytes,
)
from safety.registry.versions import LIKENESS, bump, record_change
from safety.store.audit import audit
from safety.store.models import utcnow


class ProtectedMatch(Exception):
    """The face matches protected figures not linked to this owner: never linked automatically.

    ``matches`` are ``(protected id, similarity)``; the caller queues a link request for an admin.
    """

    def __init__(self, matches: list[tuple[str, float]]) -> None:
        super().__init__("the face matches a protected public figure")
        self.matches = matches


def bump_version(session: Session) -> int:
    """A change workers must see but that forbids nothing (e.g. a protected figure removed)."""
    return bump(session, LIKENESS)


def _changed(session: Session, kind: str, party: str, actor: str) -> int:
    """A change that may forbid published videos of ``party``: bump + change log row."""
    return record_change(session, LIKENESS, kind, [party], actor=actor).version


def clean_limits(limits: Mapping[str, Any] | None) -> dict[str, bool]:
    unknown = set(limits or {}) - set(LIMITS)
    if unknown:
        raise ConsentError("unknown-limit", f"unknown limits {sorted(unknown)}; known: {list(LIMITS)}")
    return {k: bool((limits or {}).get(k, False)) for k in LIMITS}


def cameo_of(session: Session, owner_id: str, *, lock: bool = False) -> Cameo | None:
    stmt = select(Cameo).where(Cameo.owner_id == owner_id)
    return session.scalar(stmt.with_for_update() if lock else stmt)


def enrol_cameo(
    session: Session,
    *,
    owner_id: str,
    owner_user_id: str | None,
    age_band: str,
    enrolment: Enrolment,
    actor: str,
    permission: str = "only_me",
    approved: Iterable[str] = (),
    limits: Mapping[str, Any] | None = None,
    thresholds: MatchThresholds = DEFAULT_THRESHOLDS,
    verified_protected: Collection[str] = (),
) -> Cameo:
    """Create the owner's cameo, or replace the face of an existing (or deleted) one.

    Raises :class:`ProtectedMatch` when the face matches a protected figure that is not already
    linked to this owner's cameo and not in ``verified_protected`` (an admin's verified request):
    a creator's enrolment must never decide who may depict a public figure.
    """
    if permission not in PERMISSIONS:
        raise ConsentError("unknown-permission", f"permission must be one of {list(PERMISSIONS)}")
    cleaned = check_terms(age_band, permission, approved, owner_id)
    cameo = cameo_of(session, owner_id, lock=True)
    blocked = [
        (pid, sim)
        for pid, sim in protected_matches(session, enrolment.vectors, thresholds)
        if pid not in verified_protected and (cameo is None or _linked_to(session, pid) != cameo.id)
    ]
    if blocked:
        raise ProtectedMatch(blocked)
    action = "cameo.enrolled"
    if cameo is None:
        cameo = Cameo(id=f"cam_{secrets.token_hex(8)}", owner_id=owner_id, created_at=utcnow())
        session.add(cameo)
    else:
        action = "cameo.reenrolled"
        session.execute(delete(CameoEmbedding).where(CameoEmbedding.cameo_id == cameo.id))
    cameo.owner_user_id = owner_user_id
    cameo.age_band = age_band
    cameo.permission = permission
    cameo.approved = cleaned
    cameo.limits = clean_limits(limits)
    cameo.status = "active"
    cameo.embedding_model = EMBEDDING_MODEL
    cameo.enrolment = enrolment.meta
    cameo.updated_at = utcnow()
    cameo.revoked_at = cameo.deleted_at = None
    session.flush()
    for vector, quality in zip(enrolment.vectors, enrolment.quality, strict=True):
        session.add(CameoEmbedding(cameo_id=cameo.id, vector=to_bytes(vector[None, :]), quality=quality))
    audit(
        session, actor, action, "cameo", cameo.id, owner_id=owner_id, age_band=age_band,
        permission=permission, approved=cleaned, vectors=len(enrolment.vectors),
        verified_protected=sorted(verified_protected),
    )  # fmt: skip
    _changed(session, action, f"cameo:{cameo.id}", actor)
    return cameo


def protected_matches(
    session: Session, vectors: F32, thresholds: MatchThresholds = DEFAULT_THRESHOLDS
) -> list[tuple[str, float]]:
    """Active protected figures whose face these vectors match, near-misses included (the
    uncertain band errs towards asking an admin), best similarity first."""
    rows = session.execute(
        select(ProtectedEmbedding.protected_id, ProtectedEmbedding.vector)
        .join(ProtectedLikeness, ProtectedEmbedding.protected_id == ProtectedLikeness.id)
        .where(ProtectedLikeness.status == "active")
    ).all()
    best: dict[str, float] = {}
    for pid, blob in rows:
        best[pid] = max(best.get(pid, -1.0), float(np.max(vectors @ from_bytes(blob).T)))
    floor = thresholds.threshold - thresholds.margin
    return sorted(((p, round(s, 5)) for p, s in best.items() if s >= floor), key=lambda m: -m[1])


def _linked_to(session: Session, protected_id: str) -> str | None:
    return session.scalar(select(ProtectedLikeness.cameo_id).where(ProtectedLikeness.id == protected_id))


def update_terms(
    session: Session,
    cameo: Cameo,
    *,
    actor: str,
    permission: str | None = None,
    approved: Iterable[str] | None = None,
    limits: Mapping[str, Any] | None = None,
) -> Cameo:
    """Change who may use the cameo; narrowing it is followed by takedowns (see ``takedowns``)."""
    if cameo.status == "deleted":
        raise ConsentError("cameo-deleted", "This cameo was deleted; enrol again to use it.")
    new_permission = permission or cameo.permission
    if new_permission not in PERMISSIONS:
        raise ConsentError("unknown-permission", f"permission must be one of {list(PERMISSIONS)}")
    new_approved = check_terms(
        cameo.age_band, new_permission, cameo.approved if approved is None else approved, cameo.owner_id
    )
    before = {"permission": cameo.permission, "approved": list(cameo.approved), "limits": dict(cameo.limits)}
    cameo.permission = new_permission
    cameo.approved = new_approved
    if limits is not None:
        cameo.limits = clean_limits({**cameo.limits, **limits})
    if permission is not None and cameo.status == "revoked" and permission != "only_me":
        cameo.status, cameo.revoked_at = "active", None
    cameo.updated_at = utcnow()
    after = {"permission": cameo.permission, "approved": list(cameo.approved), "limits": dict(cameo.limits)}
    audit(session, actor, "cameo.updated", "cameo", cameo.id, before=before, after=after)
    _changed(session, "cameo.updated", f"cameo:{cameo.id}", actor)
    return cameo


def revoke(session: Session, cameo: Cameo, *, actor: str, creator_id: str | None = None) -> Cameo:
    """Withdraw one creator's grant, or everyone's (``creator_id=None``: only the owner remains)."""
    if cameo.status == "deleted":
        raise ConsentError("cameo-deleted", "This cameo was deleted.")
    if creator_id is None:
        cameo.permission, cameo.approved = "only_me", []
        cameo.status, cameo.revoked_at = "revoked", utcnow()
    else:
        cameo.approved = [c for c in cameo.approved if c != creator_id]
    cameo.updated_at = utcnow()
    audit(session, actor, "cameo.revoked", "cameo", cameo.id, creator_id=creator_id or "*")
    _changed(session, "cameo.revoked", f"cameo:{cameo.id}", actor)
    return cameo


def delete_cameo(session: Session, cameo: Cameo, *, actor: str) -> int:
    """Erase the face (every vector) but keep the row and the audit trail; returns vectors erased."""
    erased = session.execute(delete(CameoEmbedding).where(CameoEmbedding.cameo_id == cameo.id))
    count = int(getattr(erased, "rowcount", 0) or 0)
    session.execute(
        update(ProtectedLikeness).where(ProtectedLikeness.cameo_id == cameo.id).values(cameo_id=None)
    )
    cameo.status, cameo.permission, cameo.approved = "deleted", "only_me", []
    cameo.enrolment = {}
    cameo.deleted_at = cameo.updated_at = utcnow()
    audit(session, actor, "cameo.deleted", "cameo", cameo.id, owner_id=cameo.owner_id, vectors_erased=count)
    _changed(session, "cameo.deleted", f"cameo:{cameo.id}", actor)
    return count


def add_protected(
    session: Session,
    *,
    name: str,
    enrolment: Enrolment,
    actor: str,
    thresholds: MatchThresholds = DEFAULT_THRESHOLDS,
) -> ProtectedLikeness:
    """Block a public figure's face. Never linked to a cameo here, even one that matches: each
    matching cameo becomes a link request for an admin (``authority.queue_existing_cameos``)."""
    person = ProtectedLikeness(
        id=f"pl_{secrets.token_hex(8)}",
        name=name,
        status="active",
        added_by=actor,
        embedding_model=EMBEDDING_MODEL,
        created_at=utcnow(),
    )
    session.add(person)
    session.flush()
    for vector in enrolment.vectors:
        session.add(ProtectedEmbedding(protected_id=person.id, vector=to_bytes(vector[None, :])))
    audit(
        session, actor, "cameo.protected_added", "protected", person.id,
        name=name, vectors=len(enrolment.vectors),
    )  # fmt: skip
    _changed(session, "protected.added", f"protected:{person.id}", actor)
    return person


def remove_protected(session: Session, person: ProtectedLikeness, *, actor: str) -> None:
    session.execute(delete(ProtectedEmbedding).where(ProtectedEmbedding.protected_id == person.id))
    person.status, person.removed_at = "removed", utcnow()
    audit(session, actor, "cameo.protected_removed", "protected", person.id, name=person.name)
    bump_version(session)

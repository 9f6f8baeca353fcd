"""Changes to the likeness registry. Each one writes an audit entry and bumps the registry version
in the caller's transaction, so either all of it happens or none, and workers see it together.
Changes that can forbid a published video also log a registry change (``safety.registry``): the
reconciler takes down what they no longer cover, including videos decided on a stale index."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
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
) -> Cameo:
    """Create the owner's cameo, or replace the face of an existing (or deleted) one."""
    if permission not in PERMISSIONS:
        raise ConsentError("unknown-permission", f"permission must be one of {list(PERMISSIONS)}")
    cleaned = check_terms(age_band, permission, approved, owner_id)
    cameo = cameo_of(session, owner_id, lock=True)
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
    linked = _link_protected(session, cameo.id, enrolment.vectors, thresholds, actor)
    audit(
        session, actor, action, "cameo", cameo.id, owner_id=owner_id, age_band=age_band,
        permission=permission, approved=cleaned, vectors=len(enrolment.vectors), linked_protected=linked,
    )  # fmt: skip
    _changed(session, action, f"cameo:{cameo.id}", actor)
    return cameo


def _link_protected(
    session: Session, cameo_id: str, vectors: F32, thresholds: MatchThresholds, actor: str
) -> list[str]:
    """A protected figure who enrols themself (verified recording) now decides their own consent."""
    linked = []
    rows = session.execute(
        select(ProtectedLikeness, ProtectedEmbedding.vector)
        .join(ProtectedEmbedding, ProtectedEmbedding.protected_id == ProtectedLikeness.id)
        .where(ProtectedLikeness.status == "active", ProtectedLikeness.cameo_id.is_(None))
    ).all()
    best: dict[str, tuple[ProtectedLikeness, float]] = {}
    for person, blob in rows:
        sim = float(np.max(vectors @ from_bytes(blob).T))
        if sim > best.get(person.id, (person, -1.0))[1]:
            best[person.id] = (person, sim)
    for person, sim in best.values():
        if thresholds.is_match(sim):
            person.cameo_id = cameo_id
            linked.append(person.id)
            audit(
                session,
                actor,
                "cameo.protected_linked",
                "protected",
                person.id,
                cameo_id=cameo_id,
                similarity=sim,
            )
    return linked


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
    """Block a public figure's face; linked at once if they already enrolled a matching cameo."""
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
    for cameo_id, blob in session.execute(
        select(CameoEmbedding.cameo_id, CameoEmbedding.vector)
        .join(Cameo, Cameo.id == CameoEmbedding.cameo_id)
        .where(Cameo.status != "deleted")
    ):
        if thresholds.is_match(float(np.max(enrolment.vectors @ from_bytes(blob).T))):
            person.cameo_id = cameo_id
            break
    audit(
        session, actor, "cameo.protected_added", "protected", person.id,
        name=name, vectors=len(enrolment.vectors), cameo_id=person.cameo_id,
    )  # fmt: skip
    _changed(session, "protected.added", f"protected:{person.id}", actor)
    return person


def remove_protected(session: Session, person: ProtectedLikeness, *, actor: str) -> None:
    session.execute(delete(ProtectedEmbedding).where(ProtectedEmbedding.protected_id == person.id))
    person.status, person.removed_at = "removed", utcnow()
    audit(session, actor, "cameo.protected_removed", "protected", person.id, name=person.name)
    bump_version(session)

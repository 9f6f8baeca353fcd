"""Who may speak for a face: protected figures are linked only by an admin, after an identity
check done outside feedguard; a cameo owner's age band is the platform's fact.

A creator who enrols a recording of a protected public figure (their own or not: feedguard
cannot tell) gets a refusal and a *link request*. An admin links it only after verifying the
person's identity out of band, and the audit entry names who verified it and how. Every function
works in the caller's transaction, with its audit entry and registry-version bump.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

import numpy as np
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from safety.likeness import registry
from safety.likeness.enrol import Enrolment
from safety.likeness.models import Cameo, CameoEmbedding, LinkRequest, ProtectedEmbedding, ProtectedLikeness
from safety.likeness.reconcile import LikenessChecker
from safety.likeness.vectors import DEFAULT_THRESHOLDS, MatchThresholds, from_bytes, to_bytes
from safety.registry.reconcile import sweep_own
from safety.registry.versions import LIKENESS, record_change
from safety.store import User
from safety.store.audit import audit
from safety.store.models import utcnow


class AuthorityError(ValueError):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code = status, code


def _new_request(session: Session, **fields: Any) -> LinkRequest:
    request = LinkRequest(id=f"lnk_{secrets.token_hex(8)}", status="pending", created_at=utcnow(), **fields)
    session.add(request)
    session.flush()
    return request


def queue_enrolment(
    session: Session,
    *,
    owner_id: str,
    owner_user_id: str | None,
    enrolment: Enrolment,
    terms: Mapping[str, Any],
    matches: list[tuple[str, float]],
    actor: str,
) -> LinkRequest:
    """Keep a refused enrolment for an admin; the owner's previous pending one is superseded
    (and its vectors erased), so one account cannot fill the queue."""
    session.execute(
        update(LinkRequest)
        .where(
            LinkRequest.owner_id == owner_id, LinkRequest.status == "pending", LinkRequest.kind == "enrolment"
        )
        .values(status="superseded", vectors=None, decided_at=utcnow(), decided_by=actor)
    )
    request = _new_request(
        session,
        kind="enrolment",
        owner_id=owner_id,
        owner_user_id=owner_user_id,
        matches=[{"protected_id": p, "similarity": s} for p, s in matches],
        vectors=to_bytes(enrolment.vectors),
        quality=list(enrolment.quality),
        enrolment=dict(enrolment.meta),
        terms=dict(terms),
        requested_by=actor,
    )
    ids, sims = [p for p, _ in matches], [s for _, s in matches]
    audit(session, actor, "cameo.link_requested", "cameo_owner", owner_id, request_id=request.id,
          kind="enrolment", protected_ids=ids, similarities=sims)  # fmt: skip
    return request


def queue_existing_cameos(
    session: Session,
    person: ProtectedLikeness,
    *,
    actor: str,
    thresholds: MatchThresholds = DEFAULT_THRESHOLDS,
) -> list[LinkRequest]:
    """A newly protected figure that matches already enrolled cameos: a request per cameo."""
    blobs = session.scalars(
        select(ProtectedEmbedding.vector).where(ProtectedEmbedding.protected_id == person.id)
    )
    reference = np.vstack([from_bytes(b) for b in blobs])
    best: dict[str, float] = {}
    for cameo_id, blob in session.execute(
        select(CameoEmbedding.cameo_id, CameoEmbedding.vector)
        .join(Cameo, Cameo.id == CameoEmbedding.cameo_id)
        .where(Cameo.status != "deleted")
    ):
        best[cameo_id] = max(best.get(cameo_id, -1.0), float(np.max(reference @ from_bytes(blob).T)))
    out = []
    floor = thresholds.threshold - thresholds.margin
    for cameo_id, sim in sorted(best.items(), key=lambda kv: -kv[1]):
        cameo = session.get(Cameo, cameo_id)
        if sim < floor or cameo is None:
            continue
        request = _new_request(
            session, kind="existing_cameo", owner_id=cameo.owner_id, owner_user_id=cameo.owner_user_id,
            cameo_id=cameo.id, matches=[{"protected_id": person.id, "similarity": round(sim, 5)}],
            quality=[], enrolment={}, terms={}, requested_by=actor,
        )  # fmt: skip
        audit(session, actor, "cameo.link_requested", "cameo_owner", cameo.owner_id, request_id=request.id,
              kind="existing_cameo", protected_ids=[person.id], similarities=[round(sim, 5)])  # fmt: skip
        out.append(request)
    return out


def pending_request(session: Session, request_id: str) -> LinkRequest:
    request = session.get(LinkRequest, request_id, with_for_update=True)
    if request is None:
        raise AuthorityError(404, "link-request-not-found", "No such link request")
    if request.status != "pending":
        raise AuthorityError(409, "link-request-decided", f"This request is already {request.status}")
    return request


def link(session: Session, request: LinkRequest, *, actor: str, verified_by: str, verification: str) -> Cameo:
    """Link the request's protected figures to the owner's cameo (created from the request's
    vectors for a refused enrolment), recording who verified the person's identity and how."""
    protected_ids = [str(m["protected_id"]) for m in request.matches]
    people = [session.get(ProtectedLikeness, pid, with_for_update=True) for pid in protected_ids]
    for person in people:
        if person is None or person.status != "active":
            raise AuthorityError(409, "protected-not-active", "A matched figure is no longer protected")
    if request.kind == "enrolment":
        assert request.vectors is not None
        vectors = from_bytes(request.vectors)
        terms = request.terms
        cameo = registry.enrol_cameo(
            session, owner_id=request.owner_id, owner_user_id=request.owner_user_id,
            age_band=owner_age_band(session, request.owner_id, fallback=terms.get("age_band")),
            enrolment=Enrolment(vectors, [float(q) for q in request.quality], dict(request.enrolment)),
            actor=actor, permission=str(terms.get("permission", "only_me")),
            approved=list(terms.get("approved", [])), limits=terms.get("limits"),
            verified_protected=protected_ids,
        )  # fmt: skip
    else:
        found = session.get(Cameo, request.cameo_id) if request.cameo_id else None
        if found is None or found.status == "deleted":
            raise AuthorityError(409, "cameo-gone", "The cameo of this request was deleted")
        cameo = found
    similarity = {str(m["protected_id"]): m["similarity"] for m in request.matches}
    for person in people:
        assert person is not None
        if person.cameo_id not in (None, cameo.id):
            raise AuthorityError(409, "protected-linked-elsewhere", "The figure is linked to another cameo")
        person.cameo_id = cameo.id
        audit(session, actor, "cameo.protected_linked", "protected", person.id, cameo_id=cameo.id,
              owner_id=request.owner_id, request_id=request.id, similarity=similarity[person.id],
              verified_by=verified_by, verification=verification)  # fmt: skip
    request.status, request.cameo_id, request.vectors = "linked", cameo.id, None
    request.decided_at, request.decided_by = utcnow(), actor
    request.verified_by, request.verification = verified_by, verification
    registry.bump_version(session)
    return cameo


def reject(session: Session, request: LinkRequest, *, actor: str, reason: str) -> LinkRequest:
    """Refuse the request; the face vectors it held are erased."""
    request.status, request.vectors, request.note = "rejected", None, reason
    request.decided_at, request.decided_by = utcnow(), actor
    audit(session, actor, "cameo.link_rejected", "cameo_owner", request.owner_id, request_id=request.id,
          reason=reason)  # fmt: skip
    return request


def unlink(session: Session, person: ProtectedLikeness, *, actor: str, reason: str) -> list[str]:
    """Undo a link (e.g. one made before links needed an admin): the figure is protected again
    and published videos showing them come down. Returns the video ids taken down."""
    cameo_id, person.cameo_id = person.cameo_id, None
    audit(
        session, actor, "cameo.protected_unlinked", "protected", person.id, cameo_id=cameo_id, reason=reason
    )
    session.flush()
    record_change(session, LIKENESS, "protected.unlinked", [f"protected:{person.id}"], actor=actor)
    return sweep_own(session, LikenessChecker(), actor)


# -- age bands -----------------------------------------------------------------------------------


def owner_age_band(session: Session, owner_id: str, *, fallback: Any = None) -> str:
    """The platform's fact about a cameo owner; unknown counts as teen (the safer mistake)."""
    band = session.scalar(select(User.age_band).where(User.creator_id == owner_id))
    if band in ("teen", "adult"):
        return str(band)
    return str(fallback) if fallback in ("teen", "adult") else "teen"


def set_age_band(session: Session, creator_id: str, band: str, *, actor: str) -> tuple[User, list[str]]:
    """Record the platform's fact on the account; the owner's cameo follows at once (a teen's
    cameo stops being usable by everyone, and videos that relied on it come down)."""
    user = session.scalar(select(User).where(User.creator_id == creator_id).with_for_update())
    if user is None:
        raise AuthorityError(404, "creator-not-found", f"No account with creator id {creator_id!r}")
    before = user.age_band
    user.age_band, user.age_band_set_by, user.age_band_set_at = band, actor, utcnow()
    audit(session, actor, "account.age_band_set", "user", user.id, creator_id=creator_id, before=before,
          after=band)  # fmt: skip
    cameo = registry.cameo_of(session, creator_id, lock=True)
    taken: list[str] = []
    if cameo is not None and cameo.status != "deleted" and cameo.age_band != band:
        cameo.age_band = band
        if band == "teen" and cameo.permission == "everyone":
            cameo.permission = "approved"  # a teen's cameo is never usable by everyone
        cameo.updated_at = utcnow()
        audit(session, actor, "cameo.age_band_changed", "cameo", cameo.id, age_band=band,
              permission=cameo.permission)  # fmt: skip
        session.flush()
        record_change(session, LIKENESS, "cameo.age_band_changed", [f"cameo:{cameo.id}"], actor=actor)
        taken = sweep_own(session, LikenessChecker(), actor)
    return user, taken

"""Rights-holder organisations: admins create and verify; a rights holder sees only its own."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select

from safety.api.deps import AdminUser, RightsHolder, SessionDep
from safety.api.problems import PROBLEM_RESPONSES, Problem
from safety.api.schemas import OrganisationIn, OrganisationOut
from safety.rights.view import bump_version
from safety.store import Organisation
from safety.store.audit import audit
from safety.store.models import utcnow

router = APIRouter(prefix="/v1/organisations", tags=["organisations"], responses=PROBLEM_RESPONSES)


def _out(o: Organisation) -> OrganisationOut:
    return OrganisationOut(id=o.id, name=o.name, verified=o.verified_at is not None, created_at=o.created_at)


@router.post("", response_model=OrganisationOut, status_code=201)
def create(body: OrganisationIn, admin: AdminUser, session: SessionDep) -> OrganisationOut:
    if (
        session.get(Organisation, body.id) is not None
        or session.scalar(select(Organisation).where(Organisation.name == body.name)) is not None
    ):
        raise Problem(409, "organisation-exists", "an organisation with this id or name exists")
    org = Organisation(id=body.id, name=body.name)
    session.add(org)
    audit(session, f"user:{admin.user_id}", "organisation.created", "organisation", body.id, name=body.name)
    session.commit()
    return _out(org)


@router.post("/{org_id}/verify", response_model=OrganisationOut)
def verify(org_id: str, admin: AdminUser, session: SessionDep) -> OrganisationOut:
    org = session.get(Organisation, org_id)
    if org is None:
        raise Problem(404, "organisation-not-found", f"no organisation {org_id!r}")
    if org.verified_at is None:
        org.verified_at = utcnow()
        bump_version(session)  # its characters and rules now take effect: workers reload them
        audit(session, f"user:{admin.user_id}", "organisation.verified", "organisation", org_id)
        session.commit()
    return _out(org)


@router.get("", response_model=list[OrganisationOut])
def list_orgs(who: RightsHolder, session: SessionDep) -> list[OrganisationOut]:
    q = select(Organisation).order_by(Organisation.id)
    if who.role != "admin":
        q = q.where(Organisation.id == who.organisation_id)
    return [_out(o) for o in session.scalars(q)]


@router.get("/{org_id}", response_model=OrganisationOut)
def get_org(org_id: str, who: RightsHolder, session: SessionDep) -> OrganisationOut:
    org = session.get(Organisation, org_id)
    # Another organisation's existence is not disclosed: same answer as a missing one.
    if org is None or (who.role != "admin" and who.organisation_id != org_id):
        raise Problem(404, "organisation-not-found", f"no organisation {org_id!r}")
    return _out(org)

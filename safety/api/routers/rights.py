"""Rights holders' registry: characters and works, reference media, versioned opt-in rules, reports.

A ``rights_holder`` sees and changes only its own organisation's characters (another
organisation's are answered with 404, not 403, so their existence is not disclosed); an ``admin``
may act on any. Rules take effect only once an admin verified the organisation. Every change is
audited; rule changes return the published videos they took down or relabelled.
"""

from __future__ import annotations

import csv
import io
import shutil
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Query, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import select
from sqlalchemy.orm import Session

from policies.rights import RuleSpec
from policies.text import PLAIN_LINE, PLAIN_LINES
from policies.vocabulary import REFERENCE_IMAGE_MAX_BYTES
from safety.accounts import Principal
from safety.api.deps import RightsHolder, SessionDep, StateDep
from safety.api.problems import PROBLEM_RESPONSES, Problem
from safety.assets import LocalAssetStore
from safety.media.budget import DEFAULT_IMAGE_LIMITS, DecodeBusy
from safety.rights import registry
from safety.rights.media import ReferenceRejected
from safety.rights.models import RightsCharacter, RightsReference, RightsRule
from safety.store import Organisation
from safety.store.audit import audit

router = APIRouter(prefix="/v1/rights", tags=["rights"], responses=PROBLEM_RESPONSES)

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_\-]{0,63}$")]
Lang = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")]
# Names and descriptions reach creator messages and the review page: no control/bidi characters.
Text200 = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True), PLAIN_LINE]
Description = Annotated[
    str, StringConstraints(min_length=3, max_length=1000, strip_whitespace=True), PLAIN_LINE
]
VideoRef = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,127}$")]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NameIn(_In):
    text: Text200
    lang: Lang = "en"
    kind: Literal["name", "alias"] = "alias"
    ambiguous: bool = Field(
        default=False, description="also an everyday word: matches are held, not rejected"
    )


class CharacterIn(_In):
    slug: Slug
    name: Text200
    names: Annotated[list[NameIn], Field(max_length=100)] = Field(default_factory=list)
    descriptions: dict[Lang, Annotated[list[Description], Field(max_length=20)]] = Field(default_factory=dict)
    official_clips: Annotated[list[VideoRef], Field(max_length=1000)] = Field(
        default_factory=list, description="video ids of the owner's official clips (for remix conditions)"
    )
    organisation_id: str | None = Field(default=None, description="admins only: the owning organisation")


class CharacterPatch(_In):
    name: Text200 | None = None
    names: Annotated[list[NameIn], Field(max_length=100)] | None = None
    descriptions: dict[Lang, Annotated[list[Description], Field(max_length=20)]] | None = None
    official_clips: Annotated[list[VideoRef], Field(max_length=1000)] | None = None


class CharacterOut(BaseModel):
    id: str
    organisation_id: str
    slug: str
    name: str
    names: list[dict[str, Any]]
    descriptions: dict[str, list[str]]
    official_clips: list[str]
    status: str
    references: int
    active_rule: str | None
    shadow_rule: str | None
    effective: bool = Field(description="false until an admin verified the organisation")
    created_at: datetime


class ReferenceOut(BaseModel):
    id: str
    character_id: str
    kind: str
    label: str
    sha256: str
    meta: dict[str, Any]
    created_at: datetime


class RuleIn(RuleSpec):
    mode: Literal["shadow", "active"] = Field(
        default="shadow", description="shadow: evaluated and counted, never enforced, until activated"
    )
    note: Annotated[str, StringConstraints(max_length=2000), PLAIN_LINES] = ""


class RuleOut(BaseModel):
    id: str
    character_id: str
    version: int
    status: str
    spec: dict[str, Any]
    note: str
    created_by: str
    created_at: datetime
    activated_at: datetime | None
    retired_at: datetime | None


class RuleChangeOut(BaseModel):
    rule: RuleOut | None
    affected_videos: list[str] = Field(description="published videos taken down or relabelled by this change")


def _actor(who: Principal) -> str:
    return f"user:{who.user_id}"


def _org_for_create(session: Session, who: Principal, requested: str | None) -> Organisation:
    if who.role == "admin":
        if requested is None:
            raise Problem(422, "organisation-required", "Admins must name the organisation_id")
        org_id = requested
    else:
        if requested is not None and requested != who.organisation_id:
            raise Problem(403, "forbidden", "You may only register characters for your own organisation")
        if who.organisation_id is None:
            raise Problem(403, "no-organisation", "Your key belongs to no organisation")
        org_id = who.organisation_id
    org = session.get(Organisation, org_id)
    if org is None:
        raise Problem(404, "organisation-not-found", f"no organisation {org_id!r}")
    return org


def _character(session: Session, who: Principal, character_id: str) -> RightsCharacter:
    char = session.get(RightsCharacter, character_id)
    if (
        char is None
        or char.status == "removed"
        or (who.role != "admin" and char.organisation_id != who.organisation_id)
    ):
        raise Problem(404, "character-not-found", f"no character {character_id!r}")
    return char


def _char_out(session: Session, c: RightsCharacter) -> CharacterOut:
    refs = session.scalars(
        select(RightsReference.id).where(
            RightsReference.character_id == c.id, RightsReference.status == "active"
        )
    ).all()
    rules = {r.status: r.id for r in session.scalars(
        select(RightsRule).where(RightsRule.character_id == c.id, RightsRule.status.in_(("active", "shadow")))
    )}  # fmt: skip
    org = session.get(Organisation, c.organisation_id)
    return CharacterOut(
        id=c.id,
        organisation_id=c.organisation_id,
        slug=c.slug,
        name=c.name,
        names=list(c.names),
        descriptions={str(k): [str(t) for t in v] for k, v in c.descriptions.items()},
        official_clips=[str(v) for v in c.official_clips],
        status=c.status,
        references=len(refs),
        active_rule=rules.get("active"),
        shadow_rule=rules.get("shadow"),
        effective=org is not None and org.verified_at is not None,
        created_at=c.created_at,
    )


def _rule_out(r: RightsRule) -> RuleOut:
    return RuleOut(
        id=r.id, character_id=r.character_id, version=r.version, status=r.status, spec=dict(r.spec),
        note=r.note, created_by=r.created_by, created_at=r.created_at, activated_at=r.activated_at,
        retired_at=r.retired_at,
    )  # fmt: skip


def _ref_out(r: RightsReference) -> ReferenceOut:
    return ReferenceOut(id=r.id, character_id=r.character_id, kind=r.kind, label=r.label, sha256=r.sha256,
                        meta=dict(r.meta), created_at=r.created_at)  # fmt: skip


def _names(body: list[NameIn]) -> list[dict[str, Any]]:
    return [n.model_dump() for n in body]


# -- characters ----------------------------------------------------------------------------------


@router.post("/characters", response_model=CharacterOut, status_code=201, summary="Register a character")
def create_character(body: CharacterIn, who: RightsHolder, session: SessionDep) -> CharacterOut:
    org = _org_for_create(session, who, body.organisation_id)
    taken = session.scalar(
        select(RightsCharacter.id).where(
            RightsCharacter.organisation_id == org.id, RightsCharacter.slug == body.slug
        )
    )
    if taken is not None:
        raise Problem(409, "character-exists", f"your organisation already has a character {body.slug!r}")
    char = registry.create_character(
        session,
        org.id,
        slug=body.slug,
        name=body.name,
        names=_names(body.names),
        descriptions={k: list(v) for k, v in body.descriptions.items()},
        official_clips=list(body.official_clips),
        actor=_actor(who),
        user_id=who.user_id,
    )
    session.commit()
    return _char_out(session, char)


@router.get("/characters", response_model=list[CharacterOut])
def list_characters(
    who: RightsHolder,
    session: SessionDep,
    organisation_id: Annotated[str | None, Query(max_length=64)] = None,
    q: Annotated[str | None, Query(max_length=200, description="substring of the name")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[CharacterOut]:
    query = select(RightsCharacter).where(RightsCharacter.status == "active")
    if who.role != "admin":
        query = query.where(RightsCharacter.organisation_id == who.organisation_id)
    elif organisation_id is not None:
        query = query.where(RightsCharacter.organisation_id == organisation_id)
    if q:
        query = query.where(RightsCharacter.name.ilike(f"%{_escape_like(q)}%", escape="\\"))
    chars = session.scalars(
        query.order_by(RightsCharacter.name, RightsCharacter.id).limit(limit).offset(offset)
    )
    return [_char_out(session, c) for c in chars]


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@router.get("/characters/{character_id}", response_model=CharacterOut)
def get_character(character_id: str, who: RightsHolder, session: SessionDep) -> CharacterOut:
    return _char_out(session, _character(session, who, character_id))


@router.patch("/characters/{character_id}", response_model=CharacterOut)
def update_character(
    character_id: str, body: CharacterPatch, who: RightsHolder, session: SessionDep
) -> CharacterOut:
    char = _character(session, who, character_id)
    changes = body.model_dump(exclude_none=True)
    if body.name is not None:
        char.name = body.name
    if body.names is not None:
        char.names = _names(body.names)
    if body.descriptions is not None:
        char.descriptions = {k: list(v) for k, v in body.descriptions.items()}
    if body.official_clips is not None:
        char.official_clips = list(body.official_clips)
    registry.touch(session, char)
    audit(session, _actor(who), "rights.character.updated", "rights_character", char.id, changes=changes)
    session.commit()
    return _char_out(session, char)


@router.delete("/characters/{character_id}", status_code=204)
def remove_character(character_id: str, who: RightsHolder, session: SessionDep) -> Response:
    """The character is no longer protected (nothing matches it); its history stays for reports."""
    char = _character(session, who, character_id)
    char.status = "removed"
    registry.touch(session, char)
    audit(session, _actor(who), "rights.character.removed", "rights_character", char.id)
    session.commit()
    return Response(status_code=204)


# -- references ----------------------------------------------------------------------------------


@router.post(
    "/characters/{character_id}/references",
    response_model=ReferenceOut,
    status_code=201,
    summary="Upload a reference image, clip or audio track (metadata is stripped before storage)",
)
def add_reference(
    character_id: str,
    who: RightsHolder,
    session: SessionDep,
    state: StateDep,
    file: Annotated[UploadFile, File(description="PNG/JPEG/WebP image, video clip, or audio track")],
    kind: Annotated[Literal["image", "clip", "audio"], Form()] = "image",
    label: Annotated[str, Form(max_length=200)] = "",
) -> ReferenceOut:
    char = _character(session, who, character_id)
    workdir = state.workdir("rights-")
    try:
        upload = _save_upload(
            file, workdir / "upload", _upload_cap(state.settings.api_max_upload_bytes, kind)
        )
        assets = LocalAssetStore(state.settings.assets_dir)
        try:
            ref = registry.add_reference(
                session,
                assets,
                char,
                kind,
                upload,
                workdir,
                label=label,
                actor=_actor(who),
                user_id=who.user_id,
                image_limits=state.extras.get("image_limits", DEFAULT_IMAGE_LIMITS),
            )
        except ReferenceRejected as exc:
            raise Problem(422, exc.code, "The reference was refused", str(exc)) from exc
        except DecodeBusy as exc:
            raise Problem(
                503,
                "decode-busy",
                "Too many images are being processed",
                str(exc),
                headers={"Retry-After": "5"},
            ) from exc
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    session.commit()
    return _ref_out(ref)


def _upload_cap(setting: int, kind: str) -> int:
    """The upload setting; images are also held to what the decoder takes in memory."""
    return min(setting, REFERENCE_IMAGE_MAX_BYTES) if kind == "image" else setting


def _save_upload(file: UploadFile, path: Path, limit: int) -> Path:
    size = 0
    with path.open("wb") as out:
        while chunk := file.file.read(1 << 20):
            size += len(chunk)
            if size > limit:
                raise Problem(
                    413, "payload-too-large", f"References of this kind may be at most {limit} bytes"
                )
            out.write(chunk)
    if size == 0:
        raise Problem(422, "reference.empty", "The upload is empty")
    return path


@router.get("/characters/{character_id}/references", response_model=list[ReferenceOut])
def list_references(character_id: str, who: RightsHolder, session: SessionDep) -> list[ReferenceOut]:
    char = _character(session, who, character_id)
    refs = session.scalars(
        select(RightsReference)
        .where(RightsReference.character_id == char.id, RightsReference.status == "active")
        .order_by(RightsReference.created_at)
    )
    return [_ref_out(r) for r in refs]


@router.delete("/characters/{character_id}/references/{reference_id}", status_code=204)
def remove_reference(
    character_id: str, reference_id: str, who: RightsHolder, session: SessionDep
) -> Response:
    char = _character(session, who, character_id)
    ref = session.get(RightsReference, reference_id)
    if ref is None or ref.character_id != char.id or ref.status != "active":
        raise Problem(404, "reference-not-found", f"no reference {reference_id!r}")
    ref.status = "removed"
    registry.touch(session, char)
    audit(session, _actor(who), "rights.reference.removed", "rights_character", char.id, reference_id=ref.id)
    session.commit()
    return Response(status_code=204)


# -- rules ---------------------------------------------------------------------------------------


@router.post("/characters/{character_id}/rules", response_model=RuleChangeOut, status_code=201)
def create_rule(
    character_id: str, body: RuleIn, who: RightsHolder, session: SessionDep, state: StateDep
) -> RuleChangeOut:
    """A new rule version; ``mode: shadow`` (default) counts what it would change before it is activated."""
    char = _character(session, who, character_id)
    spec = RuleSpec.model_validate(body.model_dump(exclude={"mode", "note"}))
    rule, affected = registry.create_rule(
        session, char, spec, mode=body.mode, note=body.note, actor=_actor(who)
    )
    session.commit()
    if affected:  # the takedowns and relabels it caused go out now, not at the relay's next pass
        state.kick_relay()
    return RuleChangeOut(rule=_rule_out(rule), affected_videos=affected)


@router.get("/characters/{character_id}/rules", response_model=list[RuleOut])
def list_rules(character_id: str, who: RightsHolder, session: SessionDep) -> list[RuleOut]:
    char = _character(session, who, character_id)
    return [_rule_out(r) for r in registry.rules_of(session, char.id)]


def _rule(session: Session, char: RightsCharacter, version: int) -> RightsRule:
    rule = session.scalar(
        select(RightsRule).where(RightsRule.character_id == char.id, RightsRule.version == version)
    )
    if rule is None:
        raise Problem(404, "rule-not-found", f"no version {version} of this character's rule")
    return rule


@router.post("/characters/{character_id}/rules/{version}/activate", response_model=RuleChangeOut)
def activate_rule(
    character_id: str, version: int, who: RightsHolder, session: SessionDep, state: StateDep
) -> RuleChangeOut:
    """Enforce this version (a shadow one, or an older one to roll back)."""
    char = _character(session, who, character_id)
    rule = _rule(session, char, version)
    try:
        affected = registry.activate(session, char, rule, actor=_actor(who))
    except registry.RegistryError as exc:
        raise Problem(exc.status, exc.code, str(exc)) from exc
    session.commit()
    if affected:
        state.kick_relay()
    return RuleChangeOut(rule=_rule_out(rule), affected_videos=affected)


@router.post("/characters/{character_id}/rules/withdraw", response_model=RuleChangeOut)
def withdraw_rule(
    character_id: str, who: RightsHolder, session: SessionDep, state: StateDep
) -> RuleChangeOut:
    """Withdraw the opt-in: default deny again; published videos that relied on it are taken down."""
    char = _character(session, who, character_id)
    affected = registry.withdraw(session, char, actor=_actor(who))
    session.commit()
    if affected:
        state.kick_relay()
    return RuleChangeOut(rule=None, affected_videos=affected)


@router.get("/characters/{character_id}/rules/{version}/shadow")
def shadow_counts(character_id: str, version: int, who: RightsHolder, session: SessionDep) -> dict[str, Any]:
    """What this version would change: back-tested on recorded matches, and live shadow counts."""
    char = _character(session, who, character_id)
    return registry.backtest(session, char, _rule(session, char, version))


@router.get("/characters/{character_id}/rules/{version}/hits")
def rule_hits(
    character_id: str,
    version: int,
    who: RightsHolder,
    session: SessionDep,
    bucket: Literal["day", "hour"] = "day",
) -> list[dict[str, Any]]:
    """Videos decided under this version over time, by the character's outcome."""
    char = _character(session, who, character_id)
    return registry.hit_counts(session, _rule(session, char, version).id, bucket)


# -- reports ---------------------------------------------------------------------------------------


@router.get("/characters/{character_id}/matches")
def matches(
    character_id: str,
    who: RightsHolder,
    session: SessionDep,
    format: Literal["json", "csv"] = "json",
    limit: Annotated[int, Query(ge=1, le=10_000)] = 500,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Any:
    """Videos that matched the character, the decision and the rule applied (``format=csv`` to download)."""
    char = _character(session, who, character_id)
    rows = registry.report_rows(session, char.id, limit, offset)
    if format == "json":
        return rows
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(registry.CSV_FIELDS))
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _csv_safe(v) for k, v in row.items()})
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{char.slug}-matches.csv"'},
    )


def _csv_safe(value: object) -> object:
    """Spreadsheet formula injection: a cell starting with = + - @ is prefixed with a quote."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value

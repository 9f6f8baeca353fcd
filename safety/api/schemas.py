"""Request and response models of the HTTP API (OpenAPI is generated from these)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from policies import Audience
from policies.text import PLAIN_LINE
from safety.store.accounts import ROLES

Role = Literal["admin", "moderator", "rights_holder", "creator", "platform"]
assert set(ROLES) == set(Role.__args__)  # type: ignore[attr-defined]
Code = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_.:\-]{1,64}$")]
ReportReason = Literal[
    "bullying_harassment",
    "minor_safety",
    "self_harm",
    "sexual_content",
    "violence",
    "hate",
    "impersonation",
    "copyright",
    "spam",
    "other",
]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


class MeOut(BaseModel):
    id: str
    name: str
    role: Role
    organisation_id: str | None
    creator_id: str | None
    blur_sensitive: bool


class MeSettingsIn(_In):
    blur_sensitive: bool


class UserIn(_In):
    name: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.@\-]{1,128}$")]
    role: Role
    organisation_id: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    creator_id: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = None
    password: Annotated[str, StringConstraints(min_length=10, max_length=256)] | None = None
    key_expires_days: Annotated[int, Field(ge=1, le=3650)] | None = None


class UserOut(BaseModel):
    id: str
    name: str
    role: Role
    organisation_id: str | None
    creator_id: str | None
    disabled: bool
    created_at: datetime


class UserCreatedOut(BaseModel):
    user: UserOut
    api_key: str = Field(description="Shown once; store it now.")


class UserPatch(_In):
    """Admin changes to an account; a new role or password (or disabling) ends its web sessions."""

    role: Role | None = None
    password: Annotated[str, StringConstraints(min_length=10, max_length=256)] | None = None
    disabled: bool | None = None


class CredentialOut(BaseModel):
    """An API key or web session of a user (never its secret)."""

    key_id: str
    kind: Literal["api", "session"]
    label: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class SessionsEndedOut(BaseModel):
    ended: int


class KeyIn(_In):
    label: Annotated[str, StringConstraints(max_length=128)] = ""
    expires_days: Annotated[int, Field(ge=1, le=3650)] | None = None


class KeyOut(BaseModel):
    key_id: str
    api_key: str = Field(description="Shown once; store it now.")


class OrganisationIn(_In):
    id: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_\-]{1,63}$")]
    # The owner's name appears in creator messages ("... which <owner> has not licensed ...").
    name: Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True), PLAIN_LINE]


class OrganisationOut(BaseModel):
    id: str
    name: str
    verified: bool
    created_at: datetime


class ReviewItemOut(BaseModel):
    id: str
    video_id: str
    kind: Literal["hold", "report", "appeal"]
    status: str
    priority: Literal["low", "normal", "high", "urgent"]
    priority_value: int
    reasons: list[str]
    creator_age_band: str
    lease_owner: str | None
    lease_expires_at: datetime | None
    created_at: datetime


class ReviewPage(BaseModel):
    items: list[ReviewItemOut]
    next_cursor: str | None


class QueueCounts(BaseModel):
    total: int
    by_kind: dict[str, int]
    by_priority: dict[str, int]


class FrameBox(BaseModel):
    x: float
    y: float
    w: float
    h: float
    label: str
    score: float | None = None


class EvidenceFrame(BaseModel):
    index: int
    t: float
    url: str
    boxes: list[FrameBox]
    sensitive: bool


class EvidenceOut(BaseModel):
    item: ReviewItemOut
    video: dict[str, Any]
    decision: dict[str, Any] | None
    signals: list[dict[str, Any]]
    trace: list[dict[str, Any]]
    frames: list[EvidenceFrame]
    frames_error: str | None = None
    history: list[dict[str, Any]]
    reports: list[dict[str, Any]]
    appeal: dict[str, Any] | None
    sensitive: bool
    rights: list[dict[str, Any]] = Field(
        default_factory=list, description="registered characters found, their owner, rule and cues"
    )


class DecisionIn(_In):
    action: Literal["approve", "reject", "escalate", "remove", "keep", "uphold", "overturn"]
    audience: Audience | None = None
    reasons: Annotated[list[Code], Field(max_length=16)] = Field(default_factory=list)
    note: Annotated[str, StringConstraints(max_length=2000)] | None = None


class DecisionOut(BaseModel):
    id: str
    item_id: str
    video_id: str
    action: str
    audience: str | None
    reasons: list[str]
    asset_uri: str | None
    # approve/overturn: "queued" (the reviewed snapshot is published in the background; the
    # video.published/v1 event follows); see GET /v1/review/publish-jobs/{id}
    publish_status: str | None = None
    created_at: datetime


class PublishJobOut(BaseModel):
    id: str
    video_id: str
    status: str  # queued | running | done | failed
    media_sha256: str
    audience: str
    asset_uri: str | None
    error: str | None
    attempts: int
    created_at: datetime
    finished_at: datetime | None


class ReportIn(_In):
    video_id: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    reporter_id: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    reason: ReportReason
    details: Annotated[str, StringConstraints(max_length=2000)] | None = None


class ReportOut(BaseModel):
    id: str
    video_id: str
    reason: str
    item_id: str
    item_priority: str
    created: bool


class AppealIn(_In):
    video_id: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    statement: Annotated[str, StringConstraints(min_length=1, max_length=4000)]


class AppealOut(BaseModel):
    id: str
    video_id: str
    status: str
    statement: str
    created_at: datetime
    decided_at: datetime | None


class VideoOut(BaseModel):
    video_id: str
    creator_id: str
    state: str | None
    prompt: str
    created_at: datetime
    reasons: list[str] = Field(default_factory=list)
    message: str | None = None
    audience: str | None = None


class AuditOut(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    subject_type: str
    subject_id: str
    details: dict[str, Any]


class AuditPage(BaseModel):
    entries: list[AuditOut]
    next_cursor: int | None


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    checks: dict[str, str] = Field(default_factory=dict)

"""The event contract on Kafka: one pydantic model per message type, JSON Schema exported.

Everything is keyed by ``video_id``. Inbound events are validated strictly; outbound ones
carry ``decision_id`` so downstream consumers can de-duplicate a rare re-emission.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from policies import Audience, Priority


def _no_nul(value: str) -> str:
    """Refuse NUL: PostgreSQL text cannot store it, so such an event could never be recorded
    (the insert would fail the same way on every retry and stall the partition)."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _storable_instant(value: datetime) -> datetime:
    """Refuse instants that leave the representable range once converted to UTC
    (``9999-12-31T23:59:59-14:00``): they parse, but can never be stored or read back."""
    if value.tzinfo is not None:
        try:
            value.astimezone(UTC)
        except OverflowError:
            raise ValueError("is outside the range of representable instants") from None
    return value


NoNul = AfterValidator(_no_nul)
VideoId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,127}$")]
UserId = Annotated[str, StringConstraints(min_length=1, max_length=128), NoNul]
Instant = Annotated[datetime, AfterValidator(_storable_instant)]


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Creator(_Event):
    id: UserId
    age_band: Literal["teen", "adult"]


class VideoGenerated(_Event):
    """In: ``videos.generated``. A new generated video asking to be published."""

    model_config = ConfigDict(extra="ignore", frozen=True)  # producers may add fields

    schema_: Literal["video.generated/v1"] = Field(alias="schema")
    video_id: VideoId
    creator: Creator
    prompt: Annotated[str, StringConstraints(max_length=10_000), NoNul]
    uri: Annotated[str, StringConstraints(min_length=1, max_length=4096), NoNul]
    cameos: Annotated[list[UserId], Field(max_length=32)] = Field(default_factory=list)
    remix_of: VideoId | None = None
    created_at: Instant
    generator: Annotated[str, StringConstraints(max_length=200), NoNul] | None = None
    # Where the creator publishes from (ISO 3166 alpha-2), for rights holders' territory conditions.
    territory: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] | None = None


class Obligation(_Event):
    """A rights holder's duty on a published video: show ``attribution``; tag revenue ``revenue_share``."""

    character_id: str
    name: str
    owner: str
    rule_id: str | None = None
    attribution: str | None = None
    revenue_share: str | None = None


class VideoPublished(_Event):
    """Out: ``feed.publish``. The video may be shown to ``audience``."""

    schema_: Literal["video.published/v1"] = Field(default="video.published/v1", alias="schema")
    video_id: str
    audience: Audience
    labels: list[str]
    asset_uri: str
    decision_id: str
    policy_version: str
    obligations: list[Obligation] = Field(default_factory=list)


class VideoHeld(_Event):
    """Out: ``moderation.review``. A person must decide; ``reasons`` say why."""

    schema_: Literal["video.held/v1"] = Field(default="video.held/v1", alias="schema")
    video_id: str
    reasons: list[str]
    priority: Priority
    decision_id: str
    policy_version: str
    failed_stage: str | None = None


class VideoRejected(_Event):
    """Out: ``videos.rejected``. Reason codes for machines plus a sentence for the creator."""

    schema_: Literal["video.rejected/v1"] = Field(default="video.rejected/v1", alias="schema")
    video_id: str
    creator_id: str
    reasons: list[str]
    message: str
    decision_id: str
    policy_version: str


class VideoTakedown(_Event):
    """Out: ``feed.takedown``. A published video must come down (consent revoked, report...)."""

    schema_: Literal["video.takedown/v1"] = Field(default="video.takedown/v1", alias="schema")
    video_id: str
    reasons: list[str]
    decision_id: str | None = None
    requested_at: datetime


class VideoRelabelled(_Event):
    """Out: ``feed.relabel``. A published video stays up with new labels and obligations (a rights
    holder changed the terms it was published under)."""

    schema_: Literal["video.relabelled/v1"] = Field(default="video.relabelled/v1", alias="schema")
    video_id: str
    labels: list[str]
    obligations: list[Obligation]
    reasons: list[str]
    decision_id: str
    requested_at: datetime


class DeadLetter(_Event):
    """Out: ``videos.generated.dlq``. An event that could not be parsed or kept failing."""

    schema_: Literal["dead-letter/v1"] = Field(default="dead-letter/v1", alias="schema")
    error: str
    error_type: str
    source_topic: str
    source_partition: int
    source_offset: int
    # Set when a whole batch that could not be decoded was skipped: its last offset (source_offset
    # is its first) and value_b64 holds the raw batch as fetched.
    source_last_offset: int | None = None
    key_b64: str | None
    value_b64: str  # the value, cut to the event size limit when it was larger (see value_bytes)
    value_bytes: int | None = None
    value_sha256: str | None = None
    attempts: int
    failed_at: datetime


OutboundEvent = VideoPublished | VideoHeld | VideoRejected | VideoTakedown | VideoRelabelled | DeadLetter

ALL_EVENTS: dict[str, type[BaseModel]] = {
    "video.generated/v1": VideoGenerated,
    "video.published/v1": VideoPublished,
    "video.held/v1": VideoHeld,
    "video.rejected/v1": VideoRejected,
    "video.takedown/v1": VideoTakedown,
    "video.relabelled/v1": VideoRelabelled,
    "dead-letter/v1": DeadLetter,
}


def to_json_bytes(event: BaseModel) -> bytes:
    return event.model_dump_json(by_alias=True).encode()


def json_schemas() -> dict[str, dict[str, Any]]:
    return {name: model.model_json_schema(by_alias=True) for name, model in ALL_EVENTS.items()}


def export_schemas(directory: Path) -> list[Path]:
    """Write one ``<schema>.json`` per event (``video.generated-v1.json`` ...) for consumers."""
    directory.mkdir(parents=True, exist_ok=True)
    out = []
    for name, schema in json_schemas().items():
        path = directory / f"{name.replace('/', '-')}.json"
        path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
        out.append(path)
    return out

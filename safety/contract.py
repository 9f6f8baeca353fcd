"""The event contract as an AsyncAPI 3.0 document, generated from the same pydantic models as the
JSON Schemas in ``schemas/`` (``feedguard schemas`` writes both; a test fails when the committed
files drift from the models).

Payloads are the models' JSON Schemas with their shared definitions hoisted into
``components/schemas``, so the document is self-contained; topics, keys, headers and which side
produces what come from :data:`CHANNELS`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from safety.events import ALL_EVENTS
from safety.topics import (
    DEAD_LETTERS,
    FEED_PUBLISH,
    FEED_RELABEL,
    FEED_TAKEDOWN,
    MODERATION_REVIEW,
    VIDEOS_GENERATED,
    VIDEOS_REJECTED,
)

ASYNCAPI_FILE = "asyncapi.yaml"
REF = "#/components/schemas/{model}"


@dataclass(frozen=True)
class Channel:
    topic: str
    schema: str  # the ALL_EVENTS name of its payload
    producer: str  # who writes it
    consumer: str  # who reads it
    key: str  # what the Kafka key holds
    decision_header: bool  # every message carries the decision_id header
    summary: str


CHANNELS = (
    Channel(VIDEOS_GENERATED, "video.generated/v1", "platform", "feedguard worker", "video_id", False,
            "A new generated video to moderate."),
    Channel(FEED_PUBLISH, "video.published/v1", "feedguard worker and outbox relay", "platform", "video_id",
            True, "Every check ran and the policy allows the video: publish the signed asset."),
    Channel(MODERATION_REVIEW, "video.held/v1", "feedguard worker", "platform, review tools", "video_id",
            True, "A person must decide, or a stage failed (fail closed)."),
    Channel(VIDEOS_REJECTED, "video.rejected/v1", "feedguard worker and outbox relay", "platform", "video_id",
            True, "The policy or the media says no; the message is for the creator."),
    Channel(FEED_TAKEDOWN, "video.takedown/v1", "feedguard outbox relay", "platform", "video_id", True,
            "A published video must come down (consent revoked, opt-in withdrawn, moderator removal)."),
    Channel(FEED_RELABEL, "video.relabelled/v1", "feedguard outbox relay", "platform", "video_id", True,
            "A published video stays up under new terms (labels, obligations)."),
    Channel(DEAD_LETTERS, "dead-letter/v1", "feedguard worker", "operators", "the original key; "
            "'topic:partition:first_offset' for a skipped batch", False,
            "Events that could not be parsed, kept failing, or sat in a batch that could not be decoded."),
)  # fmt: skip


def _name(schema: str) -> str:
    """``video.published/v1`` -> ``videoPublishedV1`` (AsyncAPI component keys)."""
    parts = schema.replace("/", ".").replace("-", ".").split(".")
    return parts[0] + "".join(p[:1].upper() + p[1:] for p in parts[1:])


def _payloads() -> tuple[dict[str, Any], dict[str, Any]]:
    """(payload schema per event name, shared component schemas)."""
    shared: dict[str, Any] = {}
    payloads: dict[str, Any] = {}
    for name, model in ALL_EVENTS.items():
        schema = _schema_of(model)
        for key, definition in schema.pop("$defs", {}).items():
            if shared.setdefault(key, definition) != definition:
                raise ValueError(f"two different models are both called {key}")
        payloads[name] = schema
    return payloads, shared


def _schema_of(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_json_schema(by_alias=True, ref_template=REF)


def asyncapi_document(version: str = "1") -> dict[str, Any]:
    payloads, shared = _payloads()
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for ch in CHANNELS:
        cid, mid = _name(ch.topic), _name(ch.schema)
        header_props: dict[str, Any] = {
            "decision_id": {"type": "string", "description": "the decision (or action) id, as in the body"},
            "schema": {
                "type": "string",
                "description": "the payload's schema name (worker-produced messages)",
            },
        }
        messages[mid] = {
            "name": ch.schema,
            "title": ch.schema,
            "summary": ch.summary,
            "contentType": "application/json",
            "headers": {
                "type": "object",
                "properties": header_props if ch.decision_header else {},
                "required": ["decision_id"] if ch.decision_header else [],
            },
            "payload": payloads[ch.schema],
            "bindings": {
                "kafka": {"key": {"type": "string", "description": ch.key}, "bindingVersion": "0.5.0"}
            },
        }
        channels[cid] = {
            "address": ch.topic,
            "title": ch.topic,
            "description": f"{ch.summary} Produced by: {ch.producer}. Consumed by: {ch.consumer}.",
            "messages": {mid: {"$ref": f"#/components/messages/{mid}"}},
        }
        ours = ch.producer.startswith("feedguard")
        operations[("send" if ours else "receive") + cid[:1].upper() + cid[1:]] = {
            "action": "send" if ours else "receive",
            "channel": {"$ref": f"#/channels/{cid}"},
            "summary": f"feedguard {'produces' if ours else 'consumes'} {ch.topic} "
            f"({ch.producer} -> {ch.consumer})",
            "messages": [{"$ref": f"#/channels/{cid}/messages/{mid}"}],
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "feedguard event contract",
            "version": version,
            "description": "Kafka topics between a video platform and feedguard. JSON, UTF-8; "
            "generated from safety/events.py (see schemas/*.json for the same payloads).",
            "license": {"name": "Apache-2.0"},
        },
        "defaultContentType": "application/json",
        "servers": {
            "kafka": {
                "host": "127.0.0.1:9092",
                "protocol": "kafka",
                "description": "any Kafka-compatible broker (`feedguard broker` runs Tansu here)",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": dict(sorted(shared.items()))},
    }


def render_asyncapi() -> str:
    return yaml.safe_dump(json.loads(json.dumps(asyncapi_document())), sort_keys=False, width=100)


def export_asyncapi(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / ASYNCAPI_FILE
    path.write_text(render_asyncapi())
    return path

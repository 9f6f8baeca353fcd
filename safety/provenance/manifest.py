"""The C2PA manifest definition for a published video, and a short summary read back from one.

What a viewer (or a regulator) should learn from the credentials alone: the video was made by a
trained model (IPTC ``trainedAlgorithmicMedia``, the generator as software agent), which moderation
decision let it out and under which policy and grants, and which invisible watermark it carries
(``c2pa.soft-binding``), so the record can be found again if the manifest is stripped.

A remix whose parent was published by us gets the parent as a ``parentOf`` ingredient, with the
parent's own manifest. The C2PA "create" intent forbids a parent ingredient, so a remix records
``c2pa.opened`` (the parent) then ``c2pa.edited`` with the AI source type instead of ``c2pa.created``.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from safety.provenance.watermark import ALGORITHM as WATERMARK_ALGORITHM_V1
from safety.provenance.watermark2 import ALGORITHM as WATERMARK_ALGORITHM_V2
from safety.provenance.watermark3 import ALGORITHM as WATERMARK_ALGORITHM
from safety.publishing import PublishRequest

__all__ = [
    "MODERATION_LABEL",
    "TRAINED_ALGORITHMIC_MEDIA",
    "Parent",
    "build_manifest",
    "soft_binding_id",
    "summarize",
]

TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
MODERATION_LABEL = "org.feedguard.moderation"
SOFT_BINDING_LABEL = "c2pa.soft-binding"
_PARENT_ID = "parent"


@dataclass(frozen=True)
class Parent:
    """The published file of the video this one remixes, found through its provenance record."""

    video_id: str
    watermark_id: str
    path: Path


def _version() -> str:
    try:
        return metadata.version("feedguard")
    except metadata.PackageNotFoundError:
        return "0.0.0"


def _json_safe(value: Any) -> Any:
    """Grants come from other stages; make sure they serialise (datetimes become ISO strings)."""
    return json.loads(json.dumps(value, default=str))


def build_manifest(
    request: PublishRequest,
    watermark_id: str,
    *,
    watermarked: bool,
    parent: Parent | None,
    claim_generator: str = "feedguard",
    watermark_algorithm: str = WATERMARK_ALGORITHM,
) -> tuple[dict[str, Any], list[tuple[dict[str, Any], Path]]]:
    """Manifest definition and ingredients (definition, file) for ``Builder`` / ``sign``."""
    event, decision = request.event, request.decision
    agent = {"name": event.generator or claim_generator}
    when = event.created_at.isoformat()
    if parent is None:
        actions: list[dict[str, Any]] = [
            {
                "action": "c2pa.created",
                "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA,
                "softwareAgent": agent,
                "when": when,
            },
        ]
    else:
        actions = [
            {"action": "c2pa.opened", "parameters": {"ingredientIds": [_PARENT_ID]}},
            {
                "action": "c2pa.edited",
                "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA,
                "softwareAgent": agent,
                "when": when,
                "description": f"remix of {parent.video_id}",
            },
        ]
    if watermarked:
        actions.append({"action": "c2pa.watermarked", "softwareAgent": {"name": claim_generator}})
    moderation: dict[str, Any] = {
        "video_id": event.video_id,
        "decision_id": request.decision_id,
        "policy_version": decision.policy_version,
        "policy_digest": decision.policy_digest,
        "audience": decision.audience,
        "labels": list(decision.labels),
        "grants": _json_safe(request.grants),
        "watermark_id": watermark_id,
    }
    if request.media_sha256:  # the exact source bytes every check (and any reviewer) saw
        moderation["source_sha256"] = request.media_sha256
    if request.reviewed_by:  # that a person reviewed it, never who: the manifest is public
        moderation["human_review"] = True
    if event.remix_of:
        moderation["remix_of"] = event.remix_of
        moderation["remix_parent_available"] = parent is not None
    assertions: list[dict[str, Any]] = [
        {"label": "c2pa.actions", "data": {"actions": actions}},
        {"label": MODERATION_LABEL, "data": moderation},
    ]
    if watermarked:
        value = base64.b64encode(bytes.fromhex(watermark_id)).decode()
        assertions.append(
            {
                "label": SOFT_BINDING_LABEL,
                "data": {
                    "alg": watermark_algorithm,
                    "blocks": [{"scope": {}, "value": value}],
                    "name": "feedguard invisible watermark (watermark id)",
                },
            }
        )
    manifest = {
        "claim_generator_info": [{"name": claim_generator, "version": _version()}],
        "title": f"{event.video_id}.mp4",
        "format": "video/mp4",
        "assertions": assertions,
    }
    ingredients: list[tuple[dict[str, Any], Path]] = []
    if parent is not None:
        ingredients.append(
            (
                {"title": f"{parent.video_id}.mp4", "relationship": "parentOf", "label": _PARENT_ID},
                parent.path,
            )
        )
    return manifest, ingredients


def _assertion(manifest: dict[str, Any], label: str) -> Any:
    for assertion in manifest.get("assertions") or []:
        if isinstance(assertion, dict) and str(assertion.get("label", "")).split(".v")[0] == label:
            return assertion.get("data")
    return None


def soft_binding_id(manifest: dict[str, Any]) -> str | None:
    """The watermark id a manifest declares in its soft-binding assertion, if ours."""
    data = _assertion(manifest, SOFT_BINDING_LABEL)
    if not isinstance(data, dict) or data.get("alg") not in (
        WATERMARK_ALGORITHM,
        WATERMARK_ALGORITHM_V2,
        WATERMARK_ALGORITHM_V1,
    ):
        return None
    for block in data.get("blocks") or []:
        try:
            return base64.b64decode(block["value"]).hex()
        except (KeyError, TypeError, ValueError):
            continue
    return None


def summarize(manifest: dict[str, Any] | None) -> dict[str, Any] | None:
    """The few facts people ask about, from an active manifest as ``Reader`` returns it."""
    if not manifest:
        return None
    actions_data = _assertion(manifest, "c2pa.actions")
    actions = actions_data.get("actions", []) if isinstance(actions_data, dict) else []
    ai = [a for a in actions if a.get("digitalSourceType") == TRAINED_ALGORITHMIC_MEDIA]
    agent = ai[0].get("softwareAgent") if ai else None
    generator = agent.get("name") if isinstance(agent, dict) else agent
    signature = manifest.get("signature_info") or {}
    return {
        "label": manifest.get("label"),
        "title": manifest.get("title"),
        "ai_generated": bool(ai),
        "generator": generator,
        "actions": [a.get("action") for a in actions],
        "moderation": _assertion(manifest, MODERATION_LABEL),
        "watermark_id": soft_binding_id(manifest),
        "ingredients": [
            {
                "title": i.get("title"),
                "relationship": i.get("relationship"),
                "active_manifest": i.get("active_manifest"),
            }
            for i in manifest.get("ingredients") or []
        ],
        "signer": {k: signature.get(k) for k in ("issuer", "common_name", "alg", "time") if signature.get(k)},
    }

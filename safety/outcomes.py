"""Map between pipeline results, stored decision rows and outbound events (one place)."""

from __future__ import annotations

import dataclasses
from typing import Any

from pydantic import BaseModel

from classifiers import Signal
from policies import Audience, Decision, Priority
from safety.events import Obligation, VideoGenerated, VideoHeld, VideoPublished, VideoRejected
from safety.pipeline import PipelineResult
from safety.store.models import DecisionRow
from safety.topics import FEED_PUBLISH as TOPIC_PUBLISH
from safety.topics import MODERATION_REVIEW as TOPIC_REVIEW
from safety.topics import VIDEOS_REJECTED as TOPIC_REJECTED


def signal_json(signal: Signal) -> dict[str, Any]:
    data = dataclasses.asdict(signal)
    data["evidence"] = [{k: v for k, v in e.items() if v is not None} for e in data["evidence"]]
    return data


def to_row(event: VideoGenerated, result: PipelineResult, worker_id: str) -> DecisionRow:
    d = result.decision
    read = result.registry_versions()
    return DecisionRow(
        id=result.decision_id,
        video_id=event.video_id,
        policy_version=d.policy_version,
        policy_digest=d.policy_digest,
        outcome=d.outcome.value,
        audience=d.audience.value if d.audience else None,
        reasons=list(d.reasons),
        creator_message=d.creator_message,
        priority=d.priority.value if d.priority else None,
        labels=list(d.labels),
        signals=[signal_json(s) for s in result.signals],
        trace=[h.model_dump(mode="json") for h in d.trace],
        shadow=[h.model_dump(mode="json") for h in d.shadow],
        detectors=result.detectors,
        failed_stage=result.failed_stage,
        error=result.error,
        stage_ms=dict(result.stage_ms),
        asset_uri=result.asset_uri,
        obligations=result.obligations or None,
        worker_id=worker_id,
        context=result.context or None,
        shadow_decision=verdict_json(result.shadow_decision) if result.shadow_decision else None,
        # What the decision read; it is consistent with every change up to that version.
        likeness_version=read.get("likeness"),
        rights_version=read.get("rights"),
        likeness_checked=read.get("likeness"),
        rights_checked=read.get("rights"),
    )


def verdict_json(d: Decision) -> dict[str, Any]:
    """The compact form of a decision kept for shadow policies and replays."""
    return {
        "policy_version": d.policy_version,
        "outcome": d.outcome.value,
        "audience": d.audience.value if d.audience else None,
        "reasons": list(d.reasons),
        "rules": [h.rule_id for h in d.trace],
    }


def outbound(row: DecisionRow, creator_id: str) -> tuple[str, BaseModel]:
    """The topic and event a stored decision is announced with."""
    if row.outcome == "published":
        if row.asset_uri is None or row.audience is None:
            raise ValueError(f"published decision {row.id} lacks an asset or audience")
        return TOPIC_PUBLISH, VideoPublished(
            video_id=row.video_id,
            audience=Audience(row.audience),
            labels=list(row.labels),
            asset_uri=row.asset_uri,
            decision_id=row.id,
            policy_version=row.policy_version,
            obligations=[Obligation.model_validate(o) for o in row.obligations or []],
        )
    if row.outcome == "held":
        return TOPIC_REVIEW, VideoHeld(
            video_id=row.video_id,
            reasons=list(row.reasons),
            priority=Priority(row.priority or "normal"),
            decision_id=row.id,
            policy_version=row.policy_version,
            failed_stage=row.failed_stage,
        )
    if row.outcome == "rejected":
        return TOPIC_REJECTED, VideoRejected(
            video_id=row.video_id,
            creator_id=creator_id,
            reasons=list(row.reasons),
            message=row.creator_message or "This video can't be published.",
            decision_id=row.id,
            policy_version=row.policy_version,
        )
    raise ValueError(f"unknown outcome {row.outcome!r}")


def summary(row: DecisionRow) -> dict[str, Any]:
    """The per-video line the demo and ``scan --json`` print."""
    return {
        "video_id": row.video_id,
        "outcome": row.outcome,
        "audience": row.audience,
        "reasons": list(row.reasons),
        "priority": row.priority,
        "labels": list(row.labels),
        "decision_id": row.id,
        "policy_version": row.policy_version,
        "failed_stage": row.failed_stage,
        "creator_message": row.creator_message,
        "rules": [h["rule_id"] for h in row.trace],
        "asset_uri": row.asset_uri,
        "obligations": list(row.obligations or []),
        "ms": round(sum(float(v) for v in row.stage_ms.values()), 1),
    }

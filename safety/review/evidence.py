"""Everything a moderator needs to judge an item, and the frame thumbnails it shows.

Thumbnails are sampled again from the video's media snapshot with the same media code the
pipeline uses (the pipeline keeps no frames), cached as JPEG in the data directory, and boxes
from the signals' evidence are mapped onto the nearest thumbnail in time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
from sqlalchemy import select
from sqlalchemy.orm import Session

from safety.assets import LocalAssetStore
from safety.config import Settings
from safety.media import MediaRejected, MediaUnavailable, probe, sample_frames
from safety.media.snapshot import SnapshotError, SnapshotStore
from safety.store import Appeal, DecisionRow, Report, ReviewAction, ReviewItem, Video

SENSITIVE_PREFIXES = (
    "prompt.sexual",
    "prompt.gore",
    "prompt.violence",
    "prompt.self_harm",
    "frames.sexual",
    "frames.nudity",
    "text.sexual",
    "text.violence",
    "text.self_harm",
    "frames.violence",
)
MAX_THUMBS = 12


@dataclass(frozen=True)
class Thumb:
    index: int
    t: float
    path: Path


def is_sensitive(signals: list[dict[str, Any]]) -> bool:
    """Blur by default when sexual or violent signals fired (reviewer wellness)."""
    return any(
        s.get("score", 0) >= 0.3 and str(s.get("name", "")).startswith(SENSITIVE_PREFIXES) for s in signals
    )


def thumbnails(settings: Settings, video: Video, asset_uri: str | None) -> list[Thumb]:
    """Sample up to MAX_THUMBS frames (cached on disk) from the media snapshot every check read and
    any approval publishes; once the snapshot is past retention, from the published asset. The
    event's URI is never read again: what the moderator sees is what was decided."""
    snapshots = SnapshotStore(settings.snapshots_dir)
    source: Path | None = None
    tag = "asset"
    if video.media_sha256:
        try:
            source, tag = snapshots.open(video.media_sha256, verify=False).path, video.media_sha256[:16]
        except SnapshotError:
            source = None
    if source is None and asset_uri:
        try:
            source = LocalAssetStore(settings.assets_dir).path_for(asset_uri)
        except ValueError:
            source = None
    if source is None or not source.is_file():
        raise MediaUnavailable("snapshot.missing", "the media snapshot of this video is no longer kept")
    cache = settings.data_dir / "thumbs" / video.video_id / tag
    index = cache / "index.txt"
    if index.exists():
        pairs = (line.split() for line in index.read_text().splitlines() if line)
        return [Thumb(int(i), float(t), cache / f"{i}.jpg") for i, t in pairs]
    info = probe(source, settings.media_limits)
    fps = min(2.0, MAX_THUMBS / max(info.duration_s, 0.5))
    batch = sample_frames(info, fps=fps, scene_threshold=None, max_side=360, limits=settings.media_limits)
    cache.mkdir(parents=True, exist_ok=True)
    thumbs = []
    for i, (frame, t) in enumerate(zip(batch.frames[:MAX_THUMBS], batch.timestamps, strict=False)):
        out = cache / f"{i}.jpg"
        cv2.imwrite(str(out), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 80])
        thumbs.append(Thumb(i, float(t), out))
    index.write_text("".join(f"{th.index} {th.t:.3f}\n" for th in thumbs))
    return thumbs


def boxes_by_thumb(signals: list[dict[str, Any]], thumbs: list[Thumb]) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = {th.index: [] for th in thumbs}
    if not thumbs:
        return out
    for sig in signals:
        for ev in sig.get("evidence", []):
            box, t = ev.get("box"), ev.get("t")
            if not box or t is None:
                continue
            nearest = min(thumbs, key=lambda th: abs(th.t - float(t)))
            out[nearest.index].append(
                {**box, "label": ev.get("label") or sig["name"], "score": ev.get("score")}
            )
    return out


def build_evidence(session: Session, settings: Settings, item: ReviewItem, frame_url: str) -> dict[str, Any]:
    """The item page's data. ``frame_url`` is a format string with ``{index}``."""
    video = session.get(Video, item.video_id)
    assert video is not None
    decisions = list(
        session.scalars(
            select(DecisionRow).where(DecisionRow.video_id == video.video_id).order_by(DecisionRow.created_at)
        )
    )
    decision = next((d for d in decisions if d.id == item.decision_id), decisions[-1] if decisions else None)
    actions = list(
        session.scalars(
            select(ReviewAction)
            .where(ReviewAction.video_id == video.video_id)
            .order_by(ReviewAction.created_at)
        )
    )
    signals = list(decision.signals) if decision else []
    published_asset = next((a.asset_uri for a in reversed(actions) if a.asset_uri), None) or (
        decision.asset_uri if decision and decision.outcome == "published" else None
    )
    frames: list[dict[str, Any]] = []
    frames_error = None
    try:
        thumbs = thumbnails(settings, video, published_asset)
        boxes = boxes_by_thumb(signals, thumbs)
        frames = [
            {
                "index": th.index,
                "t": th.t,
                "url": frame_url.format(index=th.index),
                "boxes": boxes[th.index],
                "sensitive": is_sensitive(signals),
            }
            for th in thumbs
        ]
    except (MediaRejected, MediaUnavailable) as exc:
        frames_error = str(exc)
    reports = list(session.scalars(select(Report).where(Report.video_id == video.video_id)))
    appeal = session.get(Appeal, item.appeal_id) if item.appeal_id else None
    history = [
        {
            "kind": "pipeline",
            "id": d.id,
            "outcome": d.outcome,
            "audience": d.audience,
            "reasons": d.reasons,
            "policy_version": d.policy_version,
            "at": d.created_at.isoformat(),
            "failed_stage": d.failed_stage,
        }
        for d in decisions
    ] + [
        {
            "kind": "moderator",
            "id": a.id,
            "action": a.action,
            "audience": a.audience,
            "reasons": a.reasons,
            "moderator_id": a.moderator_id,
            "note": a.note,
            "at": a.created_at.isoformat(),
        }
        for a in actions
    ]
    return {
        "video": {
            "video_id": video.video_id,
            "creator_id": video.creator_id,
            "creator_age_band": video.creator_age_band,
            "prompt": video.prompt,
            "uri": video.uri,
            "state": video.state,
            "cameos": video.cameos,
            "remix_of": video.remix_of,
            "created_at": video.created_at.isoformat(),
        },
        "decision": None
        if decision is None
        else {
            "id": decision.id,
            "outcome": decision.outcome,
            "audience": decision.audience,
            "reasons": decision.reasons,
            "priority": decision.priority,
            "labels": decision.labels,
            "policy_version": decision.policy_version,
            "failed_stage": decision.failed_stage,
            "error": decision.error,
            "stage_ms": decision.stage_ms,
            "detectors": decision.detectors,
            "shadow": decision.shadow,
        },
        "signals": signals,
        "trace": list(decision.trace) if decision else [],
        "frames": frames,
        "frames_error": frames_error,
        "history": sorted(history, key=lambda h: str(h["at"])),
        "reports": [
            {
                "reason": r.reason,
                "reporter_id": r.reporter_id,
                "details": r.details,
                "at": r.created_at.isoformat(),
            }
            for r in reports
        ],
        "appeal": None
        if appeal is None
        else {
            "id": appeal.id,
            "statement": appeal.statement,
            "status": appeal.status,
            "rejected_by": appeal.rejected_by,
        },
        "sensitive": is_sensitive(signals),
        "rights": rights_matches(session, decision.id) if decision else [],
    }


def rights_matches(session: Session, decision_id: str) -> list[dict[str, Any]]:
    """Registered characters found in the video, with their owner, the rule applied and the cues."""
    from safety.rights.models import RightsCharacter, RightsMatch
    from safety.store import Organisation

    rows = session.execute(
        select(RightsMatch, RightsCharacter.name, Organisation.name)
        .join(RightsCharacter, RightsCharacter.id == RightsMatch.character_id)
        .join(Organisation, Organisation.id == RightsCharacter.organisation_id)
        .where(RightsMatch.decision_id == decision_id)
        .order_by(RightsMatch.score.desc())
    ).all()
    return [
        {
            "character_id": m.character_id,
            "name": name,
            "owner": owner,
            "score": m.score,
            "methods": m.methods,
            "outcome": m.outcome,
            "rule_id": m.rule_id,
            "effect": m.effect,
            "reasons": m.reasons,
            "obligations": m.obligations,
            "evidence": m.evidence,
        }
        for m, name, owner in rows
    ]

"""Changes to the rights registry, each in the caller's transaction with its audit entry, the
registry-version bump workers poll, and (for rule changes) the takedowns or relabels it causes.

Rules are versions: creating one never edits another. ``shadow`` versions are evaluated beside the
active one on every new match and can be back-tested on recorded matches; ``activate`` makes one
enforcing (the previous active becomes ``superseded``); ``withdraw`` leaves the character on the
default deny. Every change of the enforcing rule re-decides the published videos that relied on the
old one, from the facts recorded with each match.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import UTC
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from policies.rights import (
    CONTEXT_SIGNALS,
    CharacterMatch,
    RuleSpec,
    evaluate,
)
from safety.assets import AssetStore
from safety.media.budget import DEFAULT_IMAGE_LIMITS, ImageLimits
from safety.registry.reconcile import sweep_own
from safety.registry.versions import RIGHTS, record_change
from safety.rights.gate import GateResult
from safety.rights.media import clean_audio, clean_clip, clean_image, png_bytes
from safety.rights.models import RightsCharacter, RightsMatch, RightsReference, RightsRule
from safety.rights.reconcile import RightsChecker, facts_of, rule_of, terms_for
from safety.rights.view import bump_version
from safety.store import DecisionRow
from safety.store.audit import audit
from safety.store.models import utcnow


class RegistryError(ValueError):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code = status, code


def new_character_id() -> str:
    return f"chr_{uuid.uuid4().hex[:16]}"


def create_character(
    session: Session,
    organisation_id: str,
    *,
    slug: str,
    name: str,
    names: list[dict[str, Any]],
    descriptions: dict[str, list[str]],
    official_clips: list[str],
    actor: str,
    user_id: str,
) -> RightsCharacter:
    char = RightsCharacter(
        id=new_character_id(),
        organisation_id=organisation_id,
        slug=slug,
        name=name,
        names=names,
        descriptions=descriptions,
        official_clips=official_clips,
        created_by=user_id,
    )
    session.add(char)
    session.flush()
    touch(session, char)
    audit(session, actor, "rights.character.created", "rights_character", char.id,
          organisation_id=organisation_id, slug=slug, name=name)  # fmt: skip
    return char


def add_reference(
    session: Session,
    assets: AssetStore,
    char: RightsCharacter,
    kind: str,
    upload: Path,
    workdir: Path,
    *,
    label: str,
    actor: str,
    user_id: str,
    image_limits: ImageLimits = DEFAULT_IMAGE_LIMITS,
) -> RightsReference:
    """Validate ``upload``, store its metadata-free form in the asset store, index it (bump)."""
    ref_id = f"ref_{uuid.uuid4().hex[:16]}"
    base = f"rights/{char.organisation_id}/{char.id}/{ref_id}"
    ref = RightsReference(id=ref_id, character_id=char.id, kind=kind, label=label, created_by=user_id)
    if kind == "image":
        img = clean_image(upload.read_bytes(), image_limits)
        png = workdir / "ref.png"
        png.write_bytes(img.png)
        ref.asset_key = f"{base}.png"
        assets.put(ref.asset_key, png)
        ref.sha256, ref.meta = img.sha256, img.meta
    elif kind == "clip":
        clip = clean_clip(upload, workdir)
        ref.asset_key = f"{base}.mp4"
        assets.put(ref.asset_key, clip.path)
        keys = []
        for i, frame in enumerate(clip.frames):
            path = workdir / f"f{i}.png"
            path.write_bytes(png_bytes(frame))
            keys.append(f"{base}/frame{i:03d}.png")
            assets.put(keys[-1], path)
        ref.frame_keys, ref.frame_times = keys, [round(t, 3) for t in clip.times]
        ref.sha256, ref.meta = clip.sha256, clip.meta
    elif kind == "audio":
        audio = clean_audio(upload, workdir)
        ref.asset_key = f"{base}.flac"
        assets.put(ref.asset_key, audio.path)
        ref.fingerprint = audio.fingerprint.astype("<u4").tobytes()
        ref.sha256, ref.meta = audio.sha256, audio.meta
    else:
        raise ValueError(f"unknown reference kind {kind!r}")
    session.add(ref)
    session.flush()
    touch(session, char)
    audit(session, actor, "rights.reference.added", "rights_character", char.id,
          reference_id=ref.id, kind=kind, sha256=ref.sha256, meta=ref.meta)  # fmt: skip
    return ref


def touch(session: Session, char: RightsCharacter) -> None:
    """The character's registration changed: workers re-index it."""
    char.updated_at = utcnow()
    bump_version(session)


# -- rules ------------------------------------------------------------------------------------


def rules_of(session: Session, character_id: str) -> list[RightsRule]:
    return list(
        session.scalars(
            select(RightsRule).where(RightsRule.character_id == character_id).order_by(RightsRule.version)
        )
    )


def _current(session: Session, character_id: str, status: str) -> RightsRule | None:
    return session.scalar(
        select(RightsRule).where(RightsRule.character_id == character_id, RightsRule.status == status)
    )


def create_rule(
    session: Session, char: RightsCharacter, spec: RuleSpec, *, mode: str, note: str, actor: str
) -> tuple[RightsRule, list[str]]:
    """A new version in ``shadow`` or straight to ``active``; returns it and the videos affected."""
    version = (
        session.scalar(select(func.max(RightsRule.version)).where(RightsRule.character_id == char.id)) or 0
    ) + 1
    rule = RightsRule(
        id=f"{char.id}@{version}",
        character_id=char.id,
        version=version,
        spec=spec.model_dump(mode="json"),
        status="draft",
        note=note,
        created_by=actor,
    )
    session.add(rule)
    session.flush()
    audit(session, actor, "rights.rule.created", "rights_rule", rule.id,
          character_id=char.id, version=version, mode=mode, spec=rule.spec, note=note)  # fmt: skip
    if mode == "active":
        return rule, activate(session, char, rule, actor=actor)
    previous = _current(session, char.id, "shadow")
    if previous is not None:
        previous.status, previous.retired_at = "superseded", utcnow()
    rule.status = "shadow"
    bump_version(session)
    return rule, []


def activate(session: Session, char: RightsCharacter, rule: RightsRule, *, actor: str) -> list[str]:
    """Make ``rule`` the enforcing version (also a rollback to an older one)."""
    if rule.status == "active":
        return []
    if rule.status == "withdrawn":
        raise RegistryError(
            409, "rule-withdrawn", "a withdrawn version cannot be activated; create a new one"
        )
    previous = _current(session, char.id, "active")
    if previous is not None:
        previous.status, previous.retired_at = "superseded", utcnow()
    old_status = rule.status
    rule.status, rule.activated_at, rule.retired_at = "active", utcnow(), None
    session.flush()
    record_change(session, RIGHTS, "rule.activated", [f"character:{char.id}"], actor=actor)
    audit(session, actor, "rights.rule.activated", "rights_rule", rule.id, character_id=char.id,
          previous=previous.id if previous else None, from_status=old_status)  # fmt: skip
    return sweep_own(session, RightsChecker(), actor)


def withdraw(session: Session, char: RightsCharacter, *, actor: str) -> list[str]:
    """The owner withdraws its opt-in: the default deny applies again, published uses come down."""
    current = _current(session, char.id, "active")
    if current is None:
        return []
    current.status, current.retired_at = "withdrawn", utcnow()
    session.flush()
    record_change(session, RIGHTS, "rule.withdrawn", [f"character:{char.id}"], actor=actor)
    audit(session, actor, "rights.rule.withdrawn", "rights_rule", current.id, character_id=char.id)
    return sweep_own(session, RightsChecker(), actor)


# -- recorded matches, shadow back-tests and reports --------------------------------------------


def record_rights(session: Session, row: DecisionRow, result: GateResult) -> int:
    """Store each matched character's verdict with the facts its rule read (decision's transaction)."""
    wanted = {s for names in CONTEXT_SIGNALS.values() for s in names}
    facts = result.facts
    stored = {
        "audience": facts.audience.value if facts.audience else None,
        "signals": {k: round(v, 4) for k, v in facts.signals.items() if k in wanted and v > 0},
        "remix_of": facts.remix_of,
        "territory": facts.territory,
        "at": facts.at.isoformat() if facts.at else None,
    }
    shadow = {v.character_id: v for v in result.verdict.shadow}
    obligations = {o["character_id"]: o for o in result.verdict.obligations}
    for v in result.verdict.characters:
        s = shadow.get(v.character_id)
        session.add(
            RightsMatch(
                video_id=row.video_id,
                decision_id=row.id,
                character_id=v.character_id,
                score=float(v.score),
                methods=list(v.methods),
                outcome=v.outcome.value,
                decision_outcome=row.outcome,
                rule_id=v.rule_id,
                effect=v.effect,
                reasons=list(v.reasons),
                obligations=obligations.get(v.character_id),
                shadow_rule_id=s.rule_id if s else None,
                shadow_outcome=s.outcome.value if s else None,
                facts=stored,
                evidence=list(result.evidence.get(v.character_id, [])),
            )
        )
    return len(result.verdict.characters)


def backtest(
    session: Session, char: RightsCharacter, rule: RightsRule, limit: int = 50_000
) -> dict[str, Any]:
    """What ``rule`` would have decided on the character's recorded matches, against what happened."""
    terms = {char.id: terms_for(session, char, rule_of(rule))}
    transitions: Counter[str] = Counter()
    evaluated = changed = 0
    matches = session.scalars(
        select(RightsMatch)
        .where(RightsMatch.character_id == char.id)
        .order_by(RightsMatch.id.desc())
        .limit(limit)
    )
    for m in matches:
        verdict = evaluate([CharacterMatch(char.id, m.score, tuple(m.methods))], terms, facts_of(m))
        if not verdict.characters:
            continue
        evaluated += 1
        new = verdict.characters[0].outcome.value
        if new != m.outcome:
            changed += 1
            transitions[f"{m.outcome}->{new}"] += 1
    live = Counter(
        f"{o}->{s}"
        for o, s in session.execute(
            select(RightsMatch.outcome, RightsMatch.shadow_outcome).where(
                RightsMatch.shadow_rule_id == rule.id
            )
        )
        if s is not None
    )
    return {
        "rule_id": rule.id,
        "status": rule.status,
        "evaluated": evaluated,
        "would_change": changed,
        "transitions": dict(transitions),
        "live_shadow": {
            "evaluated": sum(live.values()),
            "transitions": {k: v for k, v in live.items() if k.split("->")[0] != k.split("->")[1]},
        },
    }


def hit_counts(session: Session, rule_id: str, bucket: str = "day") -> list[dict[str, Any]]:
    """Matches decided under ``rule_id`` per day (or hour), split by the character's outcome."""
    fmt = "%Y-%m-%dT%H:00Z" if bucket == "hour" else "%Y-%m-%d"
    counts: Counter[tuple[str, str]] = Counter()
    for at, outcome in session.execute(
        select(RightsMatch.created_at, RightsMatch.outcome).where(RightsMatch.rule_id == rule_id)
    ):
        counts[(at.astimezone(UTC).strftime(fmt), outcome)] += 1
    periods = sorted({p for p, _ in counts})
    return [{"period": p, **{o: counts[(p, o)] for o in ("published", "held", "rejected")}} for p in periods]


CSV_FIELDS: Sequence[str] = (
    "video_id", "matched_at", "decision_id", "video_outcome", "character_outcome", "rule_id", "effect",
    "score", "methods", "reasons", "attribution", "revenue_share", "shadow_rule_id", "shadow_outcome",
)  # fmt: skip


def report_rows(session: Session, character_id: str, limit: int, offset: int) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(RightsMatch)
        .where(RightsMatch.character_id == character_id)
        .order_by(RightsMatch.created_at.desc(), RightsMatch.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [
        {
            "video_id": m.video_id,
            "matched_at": m.created_at.isoformat(),
            "decision_id": m.decision_id,
            "video_outcome": m.decision_outcome,
            "character_outcome": m.outcome,
            "rule_id": m.rule_id,
            "effect": m.effect,
            "score": round(m.score, 3),
            "methods": " ".join(m.methods),
            "reasons": " ".join(m.reasons),
            "attribution": (m.obligations or {}).get("attribution"),
            "revenue_share": (m.obligations or {}).get("revenue_share"),
            "shadow_rule_id": m.shadow_rule_id,
            "shadow_outcome": m.shadow_outcome,
        }
        for m in rows
    ]

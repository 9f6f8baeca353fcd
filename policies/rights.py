"""Rights holders' opt-in rules as data, and how they turn character matches into a verdict.

Default deny: a confidently matched character with no active rule (or a ``deny`` rule) rejects the
video with ``rights.not_licensed``, naming the character. ``allow`` publishes; ``allow_with_conditions``
publishes only when every condition holds, otherwise rejects or holds (the rule says which) naming
the failed condition; ``track`` publishes and records. Obligations (an attribution label, a
revenue-share tag) of every rule that let the video out travel with it. Matches in the ambiguous
band are held for a person unless the character's rule would publish them anyway.

This runs after the policy engine: conditions read the audience the policy rated the video for.
Pure code over plain values: the service loads rules and matches; nothing here touches storage.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from policies.model import Audience, Decision, Outcome, Priority, RuleHit
from policies.text import PLAIN_LINE

CONFIDENT, REVIEW = 0.8, 0.4
"""Score bands shared with the character detector: >= CONFIDENT matches, REVIEW..CONFIDENT is ambiguous."""

CONTEXT_SIGNALS: Mapping[str, tuple[str, ...]] = {
    "sexual": ("prompt.sexual", "text.sexual", "text.sexual_minors", "frames.sexual"),
    "violence": ("prompt.violence", "prompt.gore", "text.violence"),
    "self_harm": ("prompt.self_harm", "text.self_harm"),
    "hate": ("prompt.hate", "text.hate_harassment"),
    "drugs": ("prompt.drugs", "text.drugs"),
    "dangerous": ("prompt.dangerous", "text.dangerous_acts"),
}
"""Contexts a rights holder can exclude, and the safety signals that establish each one."""
CONTEXT_THRESHOLD = 0.5

Context = Literal["sexual", "violence", "self_harm", "hate", "drugs", "dangerous"]
Territory = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]


class Effect(StrEnum):
    ALLOW = "allow"
    ALLOW_WITH_CONDITIONS = "allow_with_conditions"
    DENY = "deny"
    TRACK = "track"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Conditions(_Strict):
    """What must hold for ``allow_with_conditions``; unset fields impose nothing."""

    audiences: list[Audience] | None = Field(
        default=None, description="the video's rated audience must be one of these"
    )
    excluded_contexts: list[Context] = Field(
        default_factory=list, description="no use alongside these kinds of content"
    )
    official_remixes_only: bool = Field(
        default=False, description="only remixes of one of the character's official clips"
    )
    territories: list[Territory] | None = Field(
        default=None, description="ISO 3166 alpha-2 codes the creator may publish from"
    )
    not_before: datetime | None = None
    not_after: datetime | None = None
    on_fail: Literal["reject", "hold"] = Field(
        default="reject", description="what a failed condition does: reject outright or hold for review"
    )

    @model_validator(mode="after")
    def _dates(self) -> Conditions:
        if self.not_before and self.not_after and self.not_after <= self.not_before:
            raise ValueError("not_after must be later than not_before")
        return self

    def is_empty(self) -> bool:
        return (
            self.audiences is None
            and not self.excluded_contexts
            and not self.official_remixes_only
            and self.territories is None
            and self.not_before is None
            and self.not_after is None
        )


class Obligations(_Strict):
    """Duties that travel with a published video (feed event and C2PA moderation assertion)."""

    attribution: Annotated[str, StringConstraints(min_length=1, max_length=200), PLAIN_LINE] | None = None
    revenue_share: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:\-]{1,64}$")] | None = None

    def is_empty(self) -> bool:
        return self.attribution is None and self.revenue_share is None


class RuleSpec(_Strict):
    """The body of one rule version, as a rights holder writes it."""

    effect: Effect
    conditions: Conditions = Field(default_factory=Conditions)
    obligations: Obligations = Field(default_factory=Obligations)

    @model_validator(mode="after")
    def _consistent(self) -> RuleSpec:
        if self.effect is Effect.ALLOW_WITH_CONDITIONS and self.conditions.is_empty():
            raise ValueError("allow_with_conditions needs at least one condition")
        if self.effect in (Effect.ALLOW, Effect.TRACK, Effect.DENY) and not self.conditions.is_empty():
            raise ValueError(f"{self.effect.value} takes no conditions (use allow_with_conditions)")
        if self.effect is Effect.DENY and not self.obligations.is_empty():
            raise ValueError("deny takes no obligations")
        return self


@dataclass(frozen=True, slots=True)
class Rule:
    """A stored rule version: ``rule_id`` is stable per version (e.g. ``<character>@3``)."""

    rule_id: str
    version: int
    spec: RuleSpec


@dataclass(frozen=True, slots=True)
class CharacterTerms:
    """What the rights gate knows of one registered character when deciding."""

    character_id: str
    name: str
    owner: str  # the organisation's display name
    active: Rule | None = None
    shadow: Rule | None = None
    official_clips: frozenset[str] = frozenset()  # video ids of the owner's official clips


@dataclass(frozen=True, slots=True)
class CharacterMatch:
    character_id: str
    score: float
    methods: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class UseFacts:
    """The facts about this use that conditions read."""

    audience: Audience | None  # what the policy rated it (None when it is not publishable anyway)
    signals: Mapping[str, float]
    remix_of: str | None = None
    territory: str | None = None
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class CharacterVerdict:
    """One matched character's outcome under one rule (or none)."""

    character_id: str
    name: str
    score: float
    methods: tuple[str, ...]
    outcome: Outcome
    rule_id: str | None
    effect: str  # the rule's effect, or "none" (default deny)
    reasons: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()
    obligations: Obligations | None = None
    message: str | None = None
    ambiguous: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "character_id": self.character_id,
            "name": self.name,
            "score": round(self.score, 4),
            "methods": list(self.methods),
            "outcome": self.outcome.value,
            "rule_id": self.rule_id,
            "effect": self.effect,
            "reasons": list(self.reasons),
            "failed": list(self.failed),
            "obligations": self.obligations.model_dump(exclude_none=True) if self.obligations else None,
            "ambiguous": self.ambiguous,
        }


@dataclass(frozen=True)
class RightsVerdict:
    characters: list[CharacterVerdict] = field(default_factory=list)
    shadow: list[CharacterVerdict] = field(default_factory=list)
    owners: dict[str, str] = field(default_factory=dict)  # character id -> owner's display name

    @property
    def obligations(self) -> list[dict[str, Any]]:
        """Obligations of the characters that let a published video out, one entry per character."""
        out = []
        for v in self.characters:
            if v.outcome is Outcome.PUBLISH and v.obligations is not None and not v.obligations.is_empty():
                out.append(
                    {
                        "character_id": v.character_id,
                        "name": v.name,
                        "owner": self.owners.get(v.character_id, ""),
                    }
                    | {"rule_id": v.rule_id}
                    | v.obligations.model_dump(exclude_none=True)
                )
        return out


def evaluate(
    matches: Sequence[CharacterMatch], terms: Mapping[str, CharacterTerms], facts: UseFacts
) -> RightsVerdict:
    """Each matched, registered character against its active (and shadow) rule."""
    verdicts, shadows, owners = [], [], {}
    for m in sorted(matches, key=lambda m: (-m.score, m.character_id)):
        t = terms.get(m.character_id)
        if t is None or m.score < REVIEW:
            continue
        owners[t.character_id] = t.owner
        verdicts.append(_judge(m, t, t.active, facts))
        if t.shadow is not None:
            shadows.append(_judge(m, t, t.shadow, facts))
    return RightsVerdict(verdicts, shadows, owners)


def _judge(m: CharacterMatch, t: CharacterTerms, rule: Rule | None, facts: UseFacts) -> CharacterVerdict:
    ambiguous = m.score < CONFIDENT
    common: dict[str, Any] = {
        "character_id": t.character_id,
        "name": t.name,
        "score": m.score,
        "methods": m.methods,
        "rule_id": rule.rule_id if rule else None,
        "effect": rule.spec.effect.value if rule else "none",
        "ambiguous": ambiguous,
    }
    if rule is None or rule.spec.effect is Effect.DENY:
        if ambiguous:
            return CharacterVerdict(outcome=Outcome.HOLD, reasons=("rights.ambiguous",), **common)
        message = f"This video uses {t.name}, which {t.owner} has not licensed for generated videos."
        return CharacterVerdict(
            outcome=Outcome.REJECT, reasons=("rights.not_licensed",), message=message, **common
        )
    spec = rule.spec
    failed = (
        _failed_conditions(spec.conditions, t, facts) if spec.effect is Effect.ALLOW_WITH_CONDITIONS else []
    )
    if failed:
        if ambiguous or spec.conditions.on_fail == "hold":
            reasons = ("rights.ambiguous",) if ambiguous else ()
            return CharacterVerdict(
                outcome=Outcome.HOLD,
                reasons=(*reasons, *(f"rights.condition_failed.{f}" for f in failed)),
                failed=tuple(failed),
                **common,
            )
        message = (
            f"This video uses {t.name}; {t.owner} allows it only under conditions this video does not "
            f"meet: {', '.join(_CONDITION_TEXT[f] for f in failed)}."
        )
        return CharacterVerdict(
            outcome=Outcome.REJECT,
            reasons=tuple(f"rights.condition_failed.{f}" for f in failed),
            failed=tuple(failed),
            message=message,
            **common,
        )
    reason = "rights.tracked" if spec.effect is Effect.TRACK else "rights.licensed"
    return CharacterVerdict(
        outcome=Outcome.PUBLISH, reasons=(reason,), obligations=spec.obligations, **common
    )


_CONDITION_TEXT = {
    "audience": "the audience it is rated for",
    "context": "the kind of content around the character",
    "official_remix": "it must be a remix of an official clip",
    "territory": "where it is published from",
    "date_range": "the licensed period",
}


def _failed_conditions(c: Conditions, t: CharacterTerms, facts: UseFacts) -> list[str]:
    failed = []
    if c.audiences is not None and (facts.audience is None or facts.audience not in c.audiences):
        failed.append("audience")
    for ctx in c.excluded_contexts:
        if any(facts.signals.get(s, 0.0) >= CONTEXT_THRESHOLD for s in CONTEXT_SIGNALS[ctx]):
            failed.append("context")
            break
    if c.official_remixes_only and (facts.remix_of is None or facts.remix_of not in t.official_clips):
        failed.append("official_remix")
    if c.territories is not None and (facts.territory is None or facts.territory not in c.territories):
        failed.append("territory")
    at = facts.at
    if (c.not_before or c.not_after) and (
        at is None or (c.not_before and at < c.not_before) or (c.not_after and at > c.not_after)
    ):
        failed.append("date_range")
    return failed


def apply(decision: Decision, verdict: RightsVerdict) -> Decision:
    """Fold the characters' outcomes into the policy's decision: reject > hold > publish.

    Each character verdict becomes a rule hit in the trace (``rights:<rule id or default>``), so the
    decision lists the rights rules that produced it like any policy rule; shadow rule versions go
    to ``shadow``.
    """
    if not verdict.characters and not verdict.shadow:
        return decision
    hits = [_hit(v, "enforce") for v in verdict.characters]
    shadow = [_hit(v, "shadow") for v in verdict.shadow]
    rejects = [v for v in verdict.characters if v.outcome is Outcome.REJECT]
    holds = [v for v in verdict.characters if v.outcome is Outcome.HOLD]
    publish_reasons = [r for v in verdict.characters if v.outcome is Outcome.PUBLISH for r in v.reasons]
    labels = list(decision.labels)
    if any("attribution" in o for o in verdict.obligations):
        labels = sorted({*labels, "rights.attribution"})
    update: dict[str, Any] = {
        "trace": [*decision.trace, *hits],
        "shadow": [*decision.shadow, *shadow],
        "labels": labels,
    }
    if decision.outcome is Outcome.REJECT or rejects:
        messages = [decision.creator_message] if decision.outcome is Outcome.REJECT else []
        messages += [v.message for v in rejects if v.message]
        reasons = (list(decision.reasons) if decision.outcome is Outcome.REJECT else []) + [
            r for v in rejects for r in v.reasons
        ]
        update |= {
            "outcome": Outcome.REJECT,
            "audience": None,
            "priority": None,
            "reasons": _unique(reasons),
            "creator_message": " ".join(m for m in messages if m).strip() or None,
        }
    elif decision.outcome is Outcome.HOLD or holds:
        reasons = (list(decision.reasons) if decision.outcome is Outcome.HOLD else []) + [
            r for v in holds for r in v.reasons
        ]
        priority = decision.priority if decision.outcome is Outcome.HOLD else None
        update |= {
            "outcome": Outcome.HOLD,
            "audience": None,
            "reasons": _unique(reasons),
            "creator_message": None,
            "priority": max((p for p in (priority, Priority.NORMAL) if p), key=lambda p: p.rank),
        }
    else:
        update |= {"reasons": _unique([*decision.reasons, *publish_reasons])}
    return decision.model_copy(update=update)


def _hit(v: CharacterVerdict, mode: Literal["enforce", "shadow"]) -> RuleHit:
    action: Literal["reject", "hold", "label"] = (
        "reject" if v.outcome is Outcome.REJECT else "hold" if v.outcome is Outcome.HOLD else "label"
    )
    return RuleHit(
        rule_id=f"rights:{v.rule_id or v.character_id + '@default-deny'}",
        description=f"{v.name}: {v.effect}" + (f" (failed: {', '.join(v.failed)})" if v.failed else ""),
        action=action,
        mode=mode,
        reasons=list(v.reasons),
        matched=[],
    )


def _unique(items: Sequence[str]) -> list[str]:
    out: list[str] = []
    for item in items:
        if item not in out:
            out.append(item)
    return out


__all__ = [
    "CONTEXT_SIGNALS",
    "CharacterMatch",
    "CharacterTerms",
    "CharacterVerdict",
    "Conditions",
    "Effect",
    "Obligations",
    "RightsVerdict",
    "Rule",
    "RuleSpec",
    "UseFacts",
    "apply",
    "evaluate",
]

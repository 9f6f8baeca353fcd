"""Typed shape of policy files and of the decisions the engine returns.

A policy is data: pydantic validates the YAML so a typo fails at load with its line number,
and every decision carries the rules (and the signal values) that produced it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator, model_validator

# Re-exported for the policy model; policies.vocabulary owns them.
from policies.vocabulary import Audience as Audience
from policies.vocabulary import Outcome as Outcome
from policies.vocabulary import Priority as Priority


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Number = float


class SignalCondition(_Strict):
    """True when the named signal's score compares as stated (a missing signal scores 0)."""

    signal: str
    gte: Number | None = None
    gt: Number | None = None
    lte: Number | None = None
    lt: Number | None = None

    @model_validator(mode="after")
    def _one_op(self) -> SignalCondition:
        ops = [op for op in ("gte", "gt", "lte", "lt") if getattr(self, op) is not None]
        if len(ops) != 1:
            raise ValueError("a signal condition needs exactly one of gte, gt, lte, lt")
        return self


class FactCondition(_Strict):
    """True when a context fact (creator age band, remix, ...) compares as stated."""

    fact: str
    eq: Any = None
    ne: Any = None
    in_: list[Any] | None = Field(default=None, alias="in")
    not_in: list[Any] | None = None
    gte: Number | None = None
    lte: Number | None = None
    exists: bool | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _one_op(self) -> FactCondition:
        ops = [
            op
            for op in ("eq", "ne", "in_", "not_in", "gte", "lte", "exists")
            if getattr(self, op) is not None
        ]
        if len(ops) != 1:
            raise ValueError("a fact condition needs exactly one of eq, ne, in, not_in, gte, lte, exists")
        return self


class AllOf(_Strict):
    all: list[Condition] = Field(min_length=1)


class AnyOf(_Strict):
    any: list[Condition] = Field(min_length=1)


class Not(_Strict):
    not_: Condition = Field(alias="not")
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _condition_kind(value: Any) -> str | None:
    """Pick the union branch by its key, so errors speak of the branch the author meant."""
    if isinstance(value, BaseModel):
        return type(value).__name__
    if isinstance(value, dict):
        for key, tag in (
            ("signal", "SignalCondition"),
            ("fact", "FactCondition"),
            ("all", "AllOf"),
            ("any", "AnyOf"),
            ("not", "Not"),
        ):
            if key in value:
                return tag
    return None


Condition = Annotated[
    Annotated[SignalCondition, Tag("SignalCondition")]
    | Annotated[FactCondition, Tag("FactCondition")]
    | Annotated[AllOf, Tag("AllOf")]
    | Annotated[AnyOf, Tag("AnyOf")]
    | Annotated[Not, Tag("Not")],
    Discriminator(
        _condition_kind,
        custom_error_type="condition_kind",
        custom_error_message="a condition needs one of the keys signal, fact, all, any, not",
    ),
]
AllOf.model_rebuild()
AnyOf.model_rebuild()
Not.model_rebuild()

Action = Literal["reject", "hold", "restrict", "label"]


class Then(_Strict):
    """What a matching rule does. ``restrict`` raises the audience; ``label`` only adds labels."""

    action: Action
    reasons: list[str] = Field(default_factory=list)
    message: str | None = None
    priority: Priority = Priority.NORMAL
    audience: Audience | None = None
    labels: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> Then:
        if self.action == "restrict" and self.audience is None:
            raise ValueError("action 'restrict' needs an audience")
        if self.action in ("reject", "hold") and not self.reasons:
            raise ValueError(f"action {self.action!r} needs at least one reason code")
        if self.action == "reject" and not self.message:
            raise ValueError("action 'reject' needs a message for the creator")
        return self


class Rule(_Strict):
    id: Annotated[str, Field(pattern=r"^[a-z0-9_.\-]+$")]
    description: str
    when: Condition
    then: Then
    mode: Literal["enforce", "shadow"] = "enforce"


class Defaults(_Strict):
    audience: Audience = Audience.EVERYONE


class PolicyDocument(_Strict):
    """The whole YAML file. ``detectors`` holds per-detector options (e.g. the prompt lexicon)."""

    policy: Annotated[str, Field(pattern=r"^[a-z0-9_\-]+$")]
    version: Annotated[str, Field(pattern=r"^\d+\.\d+\.\d+$")]
    description: str = ""
    detectors: dict[str, dict[str, Any]] = Field(default_factory=dict)
    defaults: Defaults = Field(default_factory=Defaults)
    rules: list[Rule] = Field(min_length=1)

    @field_validator("rules")
    @classmethod
    def _unique_ids(cls, rules: list[Rule]) -> list[Rule]:
        seen: set[str] = set()
        for rule in rules:
            if rule.id in seen:
                raise ValueError(f"duplicate rule id {rule.id!r}")
            seen.add(rule.id)
        return rules


class ConditionTrace(BaseModel):
    """One leaf condition that held, with the value it saw: the 'why' of a rule hit."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["signal", "fact"]
    name: str
    op: str
    expected: Any
    actual: Any


class RuleHit(BaseModel):
    model_config = ConfigDict(frozen=True)

    rule_id: str
    description: str
    action: Action
    mode: Literal["enforce", "shadow"]
    reasons: list[str] = Field(default_factory=list)
    audience: Audience | None = None
    matched: list[ConditionTrace] = Field(default_factory=list)


class Decision(BaseModel):
    """The engine's verdict plus its explanation. ``audience`` is set only when published."""

    model_config = ConfigDict(frozen=True)

    outcome: Outcome
    audience: Audience | None
    reasons: list[str]
    creator_message: str | None
    priority: Priority | None
    labels: list[str]
    policy: str
    policy_version: str
    policy_digest: str
    trace: list[RuleHit]
    shadow: list[RuleHit] = Field(default_factory=list)

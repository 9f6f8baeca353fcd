"""Interpret a policy: signals + context facts -> one explained decision.

Evaluation has two phases so rules can depend on the rating: ``restrict`` rules first set
the audience (exposed as the fact ``rating.audience``), then every other rule is evaluated.
Reject beats hold beats publish; shadow rules are evaluated and recorded but never act.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from policies.loader import LoadedPolicy
from policies.model import (
    AllOf,
    AnyOf,
    Audience,
    Condition,
    ConditionTrace,
    Decision,
    FactCondition,
    Not,
    Outcome,
    Priority,
    Rule,
    RuleHit,
    SignalCondition,
)
from policies.vocabulary import KNOWN_FACTS, Fact


@dataclass(frozen=True, slots=True)
class Facts:
    """What the engine decides on: max score per signal name, and flat context facts."""

    signals: Mapping[str, float]
    context: Mapping[str, Any] = field(default_factory=dict)


def _leaves(cond: Condition) -> list[SignalCondition | FactCondition]:
    if isinstance(cond, AllOf):
        return [leaf for c in cond.all for leaf in _leaves(c)]
    if isinstance(cond, AnyOf):
        return [leaf for c in cond.any for leaf in _leaves(c)]
    if isinstance(cond, Not):
        return _leaves(cond.not_)
    return [cond]


def referenced_signals(policy: LoadedPolicy) -> set[str]:
    """Signal names the policy's rules read; the pipeline checks some detector produces each."""
    return {
        leaf.signal
        for rule in policy.document.rules
        for leaf in _leaves(rule.when)
        if isinstance(leaf, SignalCondition)
    }


def check_facts(policy: LoadedPolicy) -> None:
    """Fail at start-up (not per video) when a rule reads a fact the pipeline never sets."""
    unknown = {
        leaf.fact
        for rule in policy.document.rules
        for leaf in _leaves(rule.when)
        if isinstance(leaf, FactCondition) and leaf.fact not in KNOWN_FACTS
    }
    if unknown:
        raise ValueError(f"{policy.source}: unknown facts {sorted(unknown)}; known: {sorted(KNOWN_FACTS)}")


def _cmp(op: str, actual: Any, expected: Any) -> bool:
    if op == "exists":
        return (actual is not None) == bool(expected)
    if op == "eq":
        return bool(actual == expected)
    if op == "ne":
        return bool(actual != expected)
    if op == "in_":
        return actual in expected
    if op == "not_in":
        return actual not in expected
    if actual is None:
        return False
    if op == "gte":
        return bool(actual >= expected)
    if op == "gt":
        return bool(actual > expected)
    if op == "lte":
        return bool(actual <= expected)
    if op == "lt":
        return bool(actual < expected)
    raise ValueError(f"unknown operator {op}")


def _eval(cond: Condition, facts: Facts, trace: list[ConditionTrace]) -> bool:
    """Evaluate ``cond``; leaves that held (on the deciding path) are appended to ``trace``."""
    if isinstance(cond, AllOf):
        local: list[ConditionTrace] = []
        if all(_eval(c, facts, local) for c in cond.all):
            trace.extend(local)
            return True
        return False
    if isinstance(cond, AnyOf):
        hit = False
        for c in cond.any:
            local = []
            if _eval(c, facts, local):
                trace.extend(local)
                hit = True
        return hit
    if isinstance(cond, Not):
        return not _eval(cond.not_, facts, [])
    if isinstance(cond, SignalCondition):
        score = float(facts.signals.get(cond.signal, 0.0))
        for op in ("gte", "gt", "lte", "lt"):
            expected = getattr(cond, op)
            if expected is not None:
                ok = _cmp(op, score, expected)
                if ok:
                    trace.append(
                        ConditionTrace(
                            kind="signal", name=cond.signal, op=op, expected=expected, actual=round(score, 4)
                        )
                    )
                return ok
    if isinstance(cond, FactCondition):
        actual = facts.context.get(cond.fact)
        for op in ("eq", "ne", "in_", "not_in", "gte", "lte", "exists"):
            expected = getattr(cond, op)
            if expected is not None:
                ok = _cmp(op, actual, expected)
                if ok:
                    trace.append(
                        ConditionTrace(
                            kind="fact", name=cond.fact, op=op.rstrip("_"), expected=expected, actual=actual
                        )
                    )
                return ok
    raise TypeError(f"unsupported condition {cond!r}")


def _hit(rule: Rule, matched: list[ConditionTrace]) -> RuleHit:
    return RuleHit(
        rule_id=rule.id,
        description=rule.description,
        action=rule.then.action,
        mode=rule.mode,
        reasons=list(rule.then.reasons),
        audience=rule.then.audience,
        matched=matched,
    )


class PolicyEngine:
    """Stateless evaluator for one loaded policy; safe to share between threads."""

    def __init__(self, policy: LoadedPolicy) -> None:
        check_facts(policy)
        self.policy = policy
        rules = policy.document.rules
        self._rating_rules = [r for r in rules if r.then.action == "restrict"]
        self._other_rules = [r for r in rules if r.then.action != "restrict"]

    @property
    def version(self) -> str:
        return self.policy.version

    def decide(self, facts: Facts) -> Decision:
        enforced: list[tuple[Rule, RuleHit]] = []
        shadow: list[RuleHit] = []

        def run(rules: list[Rule], f: Facts) -> None:
            for rule in rules:
                matched: list[ConditionTrace] = []
                if _eval(rule.when, f, matched):
                    hit = _hit(rule, matched)
                    if rule.mode == "shadow":
                        shadow.append(hit)
                    else:
                        enforced.append((rule, hit))

        run(self._rating_rules, facts)
        audience = Audience.strictest(
            self.policy.document.defaults.audience,
            *(r.then.audience for r, _ in enforced if r.then.audience is not None),
        )
        run(self._other_rules, Facts(facts.signals, {**facts.context, Fact.RATING_AUDIENCE: audience.value}))

        rejects = [(r, h) for r, h in enforced if r.then.action == "reject"]
        holds = [(r, h) for r, h in enforced if r.then.action == "hold"]
        labels = sorted({label for r, _ in enforced for label in r.then.labels})
        doc = self.policy.document
        common: dict[str, Any] = {
            "labels": labels,
            "policy": doc.policy,
            "policy_version": self.policy.version,
            "policy_digest": self.policy.digest,
            "trace": [h for _, h in enforced],
            "shadow": shadow,
        }
        if rejects:
            return Decision(
                outcome=Outcome.REJECT,
                audience=None,
                reasons=_unique(c for r, _ in rejects for c in r.then.reasons),
                creator_message=" ".join(_unique(r.then.message or "" for r, _ in rejects)).strip(),
                priority=None,
                **common,
            )
        if holds:
            return Decision(
                outcome=Outcome.HOLD,
                audience=None,
                reasons=_unique(c for r, _ in holds for c in r.then.reasons),
                creator_message=None,
                priority=max((r.then.priority for r, _ in holds), key=lambda p: p.rank),
                **common,
            )
        return Decision(
            outcome=Outcome.PUBLISH,
            audience=audience,
            reasons=_unique(c for r, _ in enforced for c in r.then.reasons),
            creator_message=None,
            priority=None,
            **common,
        )


def _unique(items: Any) -> list[str]:
    out: list[str] = []
    for item in items:
        if item and item not in out:
            out.append(item)
    return out


__all__ = ["KNOWN_FACTS", "Facts", "PolicyEngine", "Priority", "check_facts", "referenced_signals"]

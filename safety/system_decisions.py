"""Decisions the pipeline makes itself, not the policy: media that cannot be moderated is rejected with
its code, and a stage that did not complete holds the video (fail closed). Each is stamped with the active
policy's identity and a ``builtin.*`` rule hit, so replay and the review page explain them like any other."""

from __future__ import annotations

from policies import Decision, LoadedPolicy, Outcome, Priority, RuleHit
from safety.media import MediaRejected


def system_decision(
    policy: LoadedPolicy,
    outcome: Outcome,
    rule_id: str,
    description: str,
    reasons: list[str],
    message: str | None,
    priority: Priority | None,
) -> Decision:
    hit = RuleHit(
        rule_id=rule_id,
        description=description,
        action="reject" if outcome is Outcome.REJECT else "hold",
        mode="enforce",
        reasons=reasons,
    )
    return Decision(
        outcome=outcome,
        audience=None,
        reasons=reasons,
        creator_message=message,
        priority=priority,
        labels=[],
        policy=policy.document.policy,
        policy_version=policy.version,
        policy_digest=policy.digest,
        trace=[hit],
    )


def media_rejection(policy: LoadedPolicy, stage: str, exc: MediaRejected) -> Decision:
    return system_decision(
        policy,
        Outcome.REJECT,
        f"builtin.{stage}",
        "The media or its URI cannot be moderated.",
        [exc.code],
        exc.detail,
        None,
    )


def stage_failure_hold(policy: LoadedPolicy, stage: str) -> Decision:
    return system_decision(
        policy,
        Outcome.HOLD,
        "builtin.fail_closed",
        f"Stage {stage} did not complete, so not every check ran: a person must decide.",
        [f"pipeline.stage_failed.{stage}"],
        None,
        Priority.HIGH,
    )

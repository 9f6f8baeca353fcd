"""Publishing a video a moderator approved: the same publish step (and provenance) as the pipeline."""

from __future__ import annotations

import tempfile
from pathlib import Path

from policies import Audience, Decision, Outcome, RuleHit
from safety.accounts import Principal
from safety.api.problems import Problem
from safety.api.state import AppState
from safety.events import VideoGenerated
from safety.media import MediaRejected, MediaUnavailable, probe, resolve_uri
from safety.publishing import PublishRequest
from safety.store import DecisionRow, ReviewAction, Video


def publish_for_review(
    state: AppState, video: Video, action: ReviewAction, decision: DecisionRow | None, who: Principal
) -> str:
    s = state.settings
    audience = Audience(action.audience or "everyone")
    moderated = Decision(
        outcome=Outcome.PUBLISH,
        audience=audience,
        reasons=[],
        creator_message=None,
        priority=None,
        labels=sorted({*(decision.labels if decision else []), "reviewed"}),
        policy=(decision.policy_version.split("@")[0] if decision else "moderator"),
        policy_version=decision.policy_version if decision else "moderator",
        policy_digest=decision.policy_digest if decision else "",
        trace=[
            RuleHit(
                rule_id=f"moderator.{action.action}",
                description=f"{action.action} by {who.name}",
                action="label",
                mode="enforce",
            )
        ],
    )
    with tempfile.TemporaryDirectory(prefix="feedguard-approve-") as tmp:
        try:
            source = resolve_uri(
                video.uri,
                media_roots=s.media_roots,
                http_allow_hosts=s.http_allow_hosts,
                limits=s.media_limits,
                workdir=Path(tmp),
            )
            info = probe(source, s.media_limits)
        except (MediaRejected, MediaUnavailable) as exc:
            raise Problem(
                409, "media-unavailable", "The video's media cannot be fetched to publish it", str(exc)
            ) from exc
        request = PublishRequest(
            event=VideoGenerated.model_validate(video.event),
            source=source,
            info=info,
            decision_id=action.id,
            decision=moderated,
            reviewed_by=who.name,
            grants=[
                {"type": "rights.obligation", **o} for o in (decision.obligations or [] if decision else [])
            ],
        )
        try:
            return state.publisher.publish(request).uri
        except (MediaRejected, MediaUnavailable) as exc:  # e.g. frames stop short of the declared length
            title = "The video's media cannot be published"
            raise Problem(409, "media-unavailable", title, str(exc)) from exc

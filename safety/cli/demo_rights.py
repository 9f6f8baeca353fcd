"""The demo's rights act: a verified studio registers its character (a reference image), a video
using it is rejected by default, the studio opts in with conditions and an attribution, the next
video is published carrying the attribution in its ``feed.publish`` event, one that breaks a
condition is rejected naming it, and withdrawing the opt-in takes the published one down."""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from policies.rights import RuleSpec
from safety.assets import LocalAssetStore
from safety.rights import registry
from safety.rights.gate import RightsGate
from safety.rights.models import RightsCharacter
from safety.rights.samples import character_png, character_video
from safety.rights.view import registry_version
from safety.runtime import Runtime
from safety.store import Organisation
from safety.store.models import utcnow

ORG, ORG_NAME = "acme", "Acme Studios"
ATTRIBUTION = "Pip Quillfeather © Acme Studios"
RULE = {
    "effect": "allow_with_conditions",
    "conditions": {"audiences": ["everyone", "13+"], "excluded_contexts": ["sexual", "violence"]},
    "obligations": {"attribution": ATTRIBUTION, "revenue_share": "acme-pip-01"},
}


@dataclass
class RightsAct:
    runtime: Runtime
    character_id: str
    uri: str

    def event(self, video_id: str, prompt: str) -> dict[str, Any]:
        return {
            "schema": "video.generated/v1", "video_id": video_id,
            "creator": {"id": "creator-fan", "age_band": "adult"}, "prompt": prompt, "uri": self.uri,
            "cameos": [], "remix_of": None, "created_at": datetime.now(UTC).isoformat(),
            "generator": "feedguard-demo", "territory": "GB",
        }  # fmt: skip

    def _view_sees(self, version_after: int) -> None:
        """Workers pick registry changes up within a poll interval (1 s); the demo waits for it."""
        gate = self.runtime.pipeline.rights
        assert isinstance(gate, RightsGate)
        deadline = time.monotonic() + 10
        while (gate.view.version or 0) < version_after and time.monotonic() < deadline:
            time.sleep(0.1)
            gate.view.refresh()

    def opt_in(self, say: Any) -> None:
        with self.runtime.db.session() as s:
            char = s.get(RightsCharacter, self.character_id)
            assert char is not None
            rule, _ = registry.create_rule(
                s, char, RuleSpec.model_validate(RULE), mode="active", note="fan videos", actor="demo:acme"
            )
        self._view_sees(_version(self.runtime))
        say(f"  {ORG_NAME} opted in ({rule.id}): audiences everyone/13+, not with sexual or violent content,")
        say(f"    obligations: attribution {ATTRIBUTION!r}, revenue share tag acme-pip-01")

    def withdraw(self, relay_send: Any, say: Any) -> list[str]:
        with self.runtime.db.session() as s:
            char = s.get(RightsCharacter, self.character_id)
            assert char is not None
            taken = registry.withdraw(s, char, actor="demo:acme")
        relay_send()
        say(f"  {ORG_NAME} withdrew the opt-in: takedown queued for {', '.join(taken) or 'nothing'}")
        return taken


def register(runtime: Runtime, media: Path, say: Any) -> RightsAct:
    """A verified organisation, its character with a reference image, and a video that shows it."""
    settings = runtime.settings
    with runtime.db.session() as s, tempfile.TemporaryDirectory() as tmp:
        if s.get(Organisation, ORG) is None:
            s.add(Organisation(id=ORG, name=ORG_NAME, verified_at=utcnow()))
            s.flush()
        char = registry.create_character(
            s, ORG, slug="pip", name="Pip Quillfeather",
            names=[{"text": "Professor Pip", "lang": "en", "kind": "alias", "ambiguous": False}],
            descriptions={"en": ["a small round green owl wizard in a tall purple hat with yellow stars"]},
            official_clips=[], actor="demo:acme", user_id="demo",
        )  # fmt: skip
        png = character_png(Path(tmp) / "pip.png")
        registry.add_reference(s, LocalAssetStore(settings.assets_dir), char, "image", png, Path(tmp),
                               label="key art", actor="demo:acme", user_id="demo")  # fmt: skip
        cid = char.id
    clip = character_video(media / "demo-pip.mp4", "pip")
    say(
        f"  {ORG_NAME} (verified) registered Pip Quillfeather ({cid}) with one reference image; default: deny"
    )
    act = RightsAct(runtime, cid, clip.resolve().as_uri())
    act._view_sees(_version(runtime))
    return act


def _version(runtime: Runtime) -> int:
    with runtime.db.session() as s:
        return registry_version(s)

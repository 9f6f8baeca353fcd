"""The demo's likeness act: enrol a cameo, publish a consented video, reject an unconsented one,
revoke the grant and watch the takedown arrive on ``feed.takedown``."""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from safety.likeness.detector import LikenessDetector
from safety.likeness.enrol import enrol_from_video
from safety.likeness.reconcile import LikenessChecker
from safety.likeness.registry import cameo_of, enrol_cameo, revoke
from safety.likeness.samples import Portrait, scene_video, verification_video
from safety.media.samples import ASSETS
from safety.registry.reconcile import sweep_own
from safety.runtime import Runtime

OWNER = "creator-eileen"  # the person whose likeness this is
FRIEND = "creator-friend"  # approved by the owner
STRANGER = "creator-stranger"  # not approved


@dataclass(frozen=True)
class CameoAct:
    events: list[dict[str, Any]]
    expected: dict[str, str]


def astronaut() -> Portrait:
    """The shipped 384 px NASA portrait with its face box (by eye, scaled from the 512 px original)."""
    bgr = cv2.imread(str(ASSETS / "astronaut.jpg"))
    if bgr is None:
        raise FileNotFoundError(ASSETS / "astronaut.jpg")
    image = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    return Portrait("astronaut", np.ascontiguousarray(image), (131, 52, 79, 82))


def enrol(runtime: Runtime, media: Path, say: Any) -> CameoAct:
    """Enrol the owner from a verification recording and prepare two videos that show her."""
    likeness = next(d for d in runtime.pipeline.detectors if isinstance(d, LikenessDetector))
    with tempfile.TemporaryDirectory() as tmp:  # the recording is never kept
        recording = verification_video(Path(tmp) / "verify.mp4", astronaut())
        enrolment = enrol_from_video(recording, faces=likeness.faces, embedder=likeness.embedder)
    with runtime.db.session() as s:
        enrol_cameo(
            s,
            owner_id=OWNER,
            owner_user_id=None,
            age_band="adult",
            enrolment=enrolment,
            actor="demo",
            permission="approved",
            approved=[FRIEND],
        )
    say(
        f"  enrolled cameo of {OWNER} ({len(enrolment.vectors)} face embeddings, no video kept);"
        f" approved: {FRIEND}"
    )
    _wait_for_index(likeness)
    clip = scene_video(media / "demo-cameo.mp4", [astronaut()], n=8)
    uri = clip.resolve().as_uri()
    events = [_event("demo-cameo-friend", FRIEND, uri), _event("demo-cameo-stranger", STRANGER, uri)]
    return CameoAct(events, {"demo-cameo-friend": "published", "demo-cameo-stranger": "rejected"})


def revoke_and_take_down(runtime: Runtime, relay_send: Any, say: Any) -> list[str]:
    """Withdraw the friend's grant: published videos of the friend showing the owner come down."""
    with runtime.db.session() as s:
        cameo = cameo_of(s, OWNER, lock=True)
        assert cameo is not None
        revoke(s, cameo, actor=f"creator:{OWNER}", creator_id=FRIEND)
        taken = sweep_own(s, LikenessChecker(), f"creator:{OWNER}")
    relay_send()
    say(f"  {OWNER} revoked {FRIEND}'s grant: takedown queued for {', '.join(taken) or 'nothing'}")
    return taken


def _wait_for_index(likeness: LikenessDetector, timeout_s: float = 10.0) -> None:
    """Workers pick registry changes up within a poll interval; the demo waits for it."""
    deadline = time.monotonic() + timeout_s
    start = likeness.view.version
    while time.monotonic() < deadline:
        likeness.view.refresh()
        if likeness.view.version != start:
            return
        time.sleep(0.2)


def _event(video_id: str, creator: str, uri: str) -> dict[str, Any]:
    return {
        "schema": "video.generated/v1", "video_id": video_id, "creator": {"id": creator, "age_band": "adult"},
        "prompt": "an astronaut waves at the camera", "uri": uri, "cameos": [OWNER], "remix_of": None,
        "created_at": datetime.now(UTC).isoformat(), "generator": "feedguard-demo",
    }  # fmt: skip

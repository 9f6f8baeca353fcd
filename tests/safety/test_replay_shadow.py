"""Shadow policies and `feedguard policy replay` on stored signals (PostgreSQL)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fgtest import ROOT, event

from policies import load_policy
from safety.config import Settings
from safety.events import VideoGenerated
from safety.replay import replay
from safety.runtime import build_runtime

DEFAULT = ROOT / "policies" / "files" / "default.yaml"


def stricter_policy(tmp_path: Path) -> Path:
    """The default policy (as version 99.0.0) where any violence is held instead of rated 13+."""
    text = re.sub(r'(?m)^version: "[^"]+"', 'version: "99.0.0"', DEFAULT.read_text())
    text = text.replace(
        """  - id: hold.self_harm""",
        """  - id: hold.any_violence
    description: Candidate rule; every violent prompt gets a human look.
    when: {signal: prompt.violence, gte: 0.5}
    then: {action: hold, reasons: [violence.review], priority: normal}

  - id: hold.self_harm""",
    )
    path = tmp_path / "stricter.yaml"
    path.write_text(text)
    return path


def decide_all(settings: Settings, videos: dict[str, Path]) -> None:
    rt = build_runtime(settings, worker_id="t")
    try:
        for vid, prompt, clip in [
            ("r-fight", "two knights in a sword fight", "plain"),
            ("r-war", "soldiers fighting in a medieval battle", "bars"),
            ("r-cat", "a cat on a sofa", "plain"),
            ("r-broken", "a sword fight", "corrupt"),
        ]:
            rt.moderator.handle(
                VideoGenerated.model_validate(event(vid, videos[clip].resolve().as_uri(), prompt))
            )
    finally:
        rt.close()


def test_a_shadow_policy_is_recorded_but_never_acts(
    pg_url: str, tmp_path: Path, videos: dict[str, Path], video_root: Path
) -> None:
    settings = Settings(
        database_url=pg_url,
        data_dir=tmp_path,
        media_roots=[video_root],
        shadow_policy_file=stricter_policy(tmp_path),
    )
    rt = build_runtime(settings, worker_id="t")
    try:
        row = rt.moderator.handle(
            VideoGenerated.model_validate(
                event("s-fight", videos["plain"].resolve().as_uri(), "two knights in a sword fight")
            )
        ).row
    finally:
        rt.close()
    assert (row.outcome, row.audience) == ("published", "13+")  # the enforced policy decided
    assert row.shadow_decision == {
        "policy_version": "feedguard-default@99.0.0",
        "outcome": "held",
        "audience": None,
        "reasons": ["violence.review"],
        "rules": ["rate.violence", "hold.any_violence"],
    }
    assert row.context is not None and row.context["creator.age_band"] == "adult"


def test_replay_reports_what_a_policy_would_change(
    pg_url: str, tmp_path: Path, videos: dict[str, Path], video_root: Path
) -> None:
    settings = Settings(database_url=pg_url, data_dir=tmp_path, media_roots=[video_root])
    decide_all(settings, videos)
    from safety.store import Database

    db = Database(pg_url)
    since = datetime.now(UTC) - timedelta(hours=1)
    report = replay(db, load_policy(stricter_policy(tmp_path)), since).as_dict()
    assert report["considered"] == 3 and report["skipped"] == {"media_rejected": 1}
    # "soldiers fighting in a medieval battle": an everyday violent word the classifier agrees with (P80)
    # rates 13+ (policy 3.1.0's head, which reads character n-grams, agrees; 3.0.0's did not)
    assert report["transitions"] == {"published 13+ -> held": 2}
    assert {e["video_id"] for e in report["examples"]} == {"r-fight", "r-war"}
    # The same policy as enforced changes nothing.
    same = replay(db, load_policy(), since).as_dict()
    assert same["changed"] == 0 and same["considered"] == 3
    # Nothing before `since` is considered.
    assert replay(db, load_policy(), datetime.now(UTC) + timedelta(minutes=1)).considered == 0
    db.dispose()

    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "safety",
            "policy",
            "replay",
            "--policy",
            str(stricter_policy(tmp_path)),
            "--since",
            since.isoformat(),
            "--database-url",
            pg_url,
            "--json",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    transitions = json.loads(out.stdout)["transitions"]
    assert transitions == {"published 13+ -> held": 2}
    text = subprocess.run(
        [
            sys.executable,
            "-m",
            "safety",
            "policy",
            "replay",
            "--policy",
            str(stricter_policy(tmp_path)),
            "--since",
            since.date().isoformat(),
            "--database-url",
            pg_url,
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert "2 would change" in text.stdout and "r-fight: published 13+ -> held" in text.stdout

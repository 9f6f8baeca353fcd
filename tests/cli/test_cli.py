"""The commands users run, as subprocesses: what they print and how they exit."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from fgtest import ROOT
from kafka import KafkaAdminClient

from streams import free_port


def feedguard(
    *args: str, timeout: float = 120, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "safety", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )


def test_scan_json_has_the_demo_keys(videos: dict[str, Path], tmp_path: Path) -> None:
    r = feedguard(
        "scan", str(videos["plain"]), "--prompt", "an epic sword fight", "--json", "--data-dir", str(tmp_path)
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert {"video_id", "outcome", "audience", "reasons"} <= out.keys()
    assert (out["outcome"], out["audience"]) == ("published", "13+")
    assert out["rules"] == ["rate.violence"]
    assert out["signals"]["prompt.violence"] >= 0.5


def test_scan_teen_and_corrupt(videos: dict[str, Path], tmp_path: Path) -> None:
    teen = json.loads(
        feedguard(
            "scan",
            str(videos["plain"]),
            "--prompt",
            "a sexy dance",
            "--creator-age-band",
            "teen",
            "--json",
            "--data-dir",
            str(tmp_path),
        ).stdout
    )
    assert teen["outcome"] == "rejected" and teen["reasons"] == ["teen_creator.sexual_content"]
    bad = json.loads(feedguard("scan", str(videos["corrupt"]), "--json", "--data-dir", str(tmp_path)).stdout)
    assert (bad["outcome"], bad["reasons"]) == ("rejected", ["media.corrupt"])
    r = feedguard("scan", str(tmp_path / "missing.mp4"))
    assert r.returncode == 2 and "no such file" in r.stderr


@pytest.mark.longest
def test_demo_json_decides_every_sample() -> None:
    r = feedguard("demo", "--json", timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(lines) == 15
    by_id = {x["video_id"]: x for x in lines}
    assert {x["outcome"] for x in lines} == {"published", "held", "rejected"}
    assert by_id["demo-knights"]["audience"] == "13+"
    assert by_id["demo-lingerie-adult"]["audience"] == "18+"
    assert by_id["demo-self-harm"]["outcome"] == "held"
    assert by_id["demo-corrupt"]["reasons"] == ["media.corrupt"]
    # a teen's self-harm video: urgent self-harm review, and its 18+ rating also needs a person
    assert by_id["demo-goodbye"]["reasons"][0] == "self_harm.review"
    assert (
        by_id["demo-astronaut"]["outcome"] == "published" and by_id["demo-sunrise"]["audience"] == "everyone"
    )
    assert all(x["outcome"] == x["expected"].split()[0] for x in lines), lines
    # Likeness: the approved creator's video was published, then taken down after revocation;
    # the stranger's was rejected without naming who was recognised.
    assert by_id["demo-cameo-friend"]["outcome"] == "published" and by_id["demo-cameo-friend"]["taken_down"]
    stranger = by_id["demo-cameo-stranger"]
    assert stranger["reasons"] == ["likeness.no_consent"] and "eileen" not in (
        stranger["creator_message"] or ""
    )
    # Rights: rejected by default naming the character; published after the opt-in with the
    # attribution in the feed.publish event; a condition broken; taken down after withdrawal.
    unlicensed = by_id["demo-pip-unlicensed"]
    assert (
        unlicensed["reasons"] == ["rights.not_licensed"]
        and "Pip Quillfeather" in unlicensed["creator_message"]
    )
    licensed = by_id["demo-pip-licensed"]
    assert (
        licensed["outcome"] == "published" and licensed["topic"] == "feed.publish" and licensed["taken_down"]
    )
    assert licensed["feed_obligations"][0]["attribution"] == "Pip Quillfeather © Acme Studios"
    assert licensed["feed_obligations"][0]["revenue_share"] == "acme-pip-01"
    assert "rights.condition_failed.context" in by_id["demo-pip-violent"]["reasons"]
    assert all(x["topic"] != "-" for x in lines), "every outcome was read back from Kafka"


def test_db_upgrade_on_postgres(pg_url: str) -> None:
    from safety.store import Database

    head = Database(pg_url).head_revision()
    r = feedguard("db", "upgrade", "--database-url", pg_url)
    assert r.returncode == 0 and f"upgraded revision {head}" in r.stdout, r.stderr
    r = feedguard("db", "upgrade", "--database-url", pg_url)
    assert f"already at revision {head}" in r.stdout
    assert feedguard("db", "current", "--database-url", pg_url).stdout.strip() == head


def test_policy_check_reports_the_bad_line(tmp_path: Path) -> None:
    ok = feedguard("policy", "check")
    assert ok.returncode == 0 and "feedguard-default@3.3.0 ok" in ok.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        'policy: x\nversion: "1.0.0"\nrules:\n  - id: a\n    description: d\n'
        "    when: {signal: prompt.sexual, gte: high}\n    then: {action: hold, reasons: [r]}\n"
    )
    r = feedguard("policy", "check", str(bad))
    assert r.returncode == 2
    assert f"{bad}:6:" in r.stderr and "gte" in r.stderr


def test_schemas_are_exported(tmp_path: Path) -> None:
    r = feedguard("schemas", str(tmp_path))
    assert r.returncode == 0
    schema = json.loads((tmp_path / "video.generated-v1.json").read_text())
    assert {"video_id", "creator", "uri", "prompt"} <= set(schema["required"])
    assert (tmp_path / "video.published-v1.json").exists()


def test_broker_command_serves_on_loopback_and_stops_on_sigint() -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "safety", "broker", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.strip() == f"bootstrap: 127.0.0.1:{port}"
        admin = KafkaAdminClient(bootstrap_servers=f"127.0.0.1:{port}")
        assert "videos.generated" in admin.list_topics()
        admin.close()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()

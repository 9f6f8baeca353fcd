"""The registry of protected characters and works, as plain in-memory data the matchers index.

The service builds a :class:`ReferenceIndex` from its database and hands it to
:func:`classifiers.rights.detector.build_character_detector`; workers may cache it with
:meth:`ReferenceIndex.to_bytes`. Derived features (hashes, keypoint descriptors, embeddings) are
cached inside the index per character, so a cached index does not recompute them, and an update
of one character invalidates only that character's features. The byte format is a NumPy ``.npz``
read with ``allow_pickle=False``: loading a cache file cannot execute code.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import cv2
import numpy as np
import numpy.typing as npt

U8 = npt.NDArray[np.uint8]
Arrays = dict[str, npt.NDArray[Any]]
FORMAT = "feedguard.rights.references/1"
CHROMAPRINT_ITEM_S = 4096 / 3 / 11025
"""Seconds of audio per Chromaprint fingerprint item (hop of 1365.33 samples at 11025 Hz)."""


@dataclass(frozen=True, slots=True)
class CharacterName:
    """A name or alias; ``ambiguous`` marks one that is also an everyday word ("Alice", "Sunny")."""

    text: str
    lang: str = "en"
    kind: Literal["name", "alias"] = "name"
    ambiguous: bool = False


@dataclass(frozen=True, slots=True)
class ReferenceClip:
    """A short reference clip as RGB frames and their times (seconds)."""

    frames: tuple[U8, ...]
    timestamps: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.frames) != len(self.timestamps):
            raise ValueError("clip frames and timestamps differ in length")


@dataclass(frozen=True, slots=True)
class AudioReference:
    """A reference track as a raw Chromaprint fingerprint (``fpcalc -raw``), 32-bit items."""

    label: str
    fingerprint: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Character:
    """One protected character or work: everything a rights holder registered for it.

    ``images`` are RGB (``H x W x 3``) or RGBA uint8; with RGBA the alpha channel marks the
    character, so keypoints on a transparent background are not required in the scene.
    ``descriptions`` maps a language code to descriptions in that language.
    """

    character_id: str
    names: tuple[CharacterName, ...] = ()
    descriptions: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    images: tuple[U8, ...] = ()
    clips: tuple[ReferenceClip, ...] = ()
    audio: tuple[AudioReference, ...] = ()
    owner: str | None = None

    def __post_init__(self) -> None:
        if not self.character_id:
            raise ValueError("character_id must not be empty")
        for img in self.images:
            _check_image(img)
        for clip in self.clips:
            for frame in clip.frames:
                _check_image(frame, alpha=False)

    def all_descriptions(self) -> list[tuple[str, str]]:
        """``(lang, text)`` pairs in a stable order."""
        return [(lang, text) for lang in sorted(self.descriptions) for text in self.descriptions[lang]]


def _check_image(img: U8, *, alpha: bool = True) -> None:
    channels = (3, 4) if alpha else (3,)
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] not in channels:
        raise ValueError(f"reference images must be H x W x {channels} uint8, got {img.dtype} {img.shape}")


def rgb_and_mask(img: U8) -> tuple[U8, U8 | None]:
    """Split an RGBA reference into RGB (alpha composited over white) and a mask; RGB passes through."""
    if img.shape[2] == 3:
        return img, None
    alpha = img[..., 3:].astype(np.float32) / 255.0
    rgb = (img[..., :3].astype(np.float32) * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
    return rgb, img[..., 3].copy()


class ReferenceIndex:
    """Characters by id, a revision counter for incremental re-indexing, and a per-character feature cache.

    Matchers call :meth:`features` with a method key ("pdq/1", "orb/1", ...): on a miss the
    features are computed once and kept until that character changes. :attr:`revision` grows on
    every change and :meth:`revisions` says which characters changed, so a matcher re-indexes only those.
    """

    def __init__(self, characters: Iterable[Character] = ()) -> None:
        self._chars: dict[str, Character] = {}
        self._revs: dict[str, int] = {}
        self._features: dict[str, dict[str, Arrays]] = {}
        self.revision = 0
        for char in characters:
            self.upsert(char)

    def upsert(self, character: Character) -> None:
        """Add or replace a character; its cached features are dropped."""
        self.revision += 1
        self._chars[character.character_id] = character
        self._revs[character.character_id] = self.revision
        self._features.pop(character.character_id, None)

    def remove(self, character_id: str) -> None:
        """Forget a character (e.g. its rights holder withdrew it); unknown ids are ignored."""
        if self._chars.pop(character_id, None) is not None:
            self.revision += 1
            self._revs.pop(character_id, None)
            self._features.pop(character_id, None)

    def get(self, character_id: str) -> Character:
        return self._chars[character_id]

    def __contains__(self, character_id: object) -> bool:
        return character_id in self._chars

    def __iter__(self) -> Iterator[Character]:
        return iter(list(self._chars.values()))

    def __len__(self) -> int:
        return len(self._chars)

    def revisions(self) -> dict[str, int]:
        """Character id -> the revision at which it last changed."""
        return dict(self._revs)

    def features(self, method: str, character_id: str, compute: Callable[[Character], Arrays]) -> Arrays:
        """The character's features for ``method``, computed by ``compute`` on the first call."""
        cache = self._features.setdefault(character_id, {})
        if method not in cache:
            cache[method] = compute(self._chars[character_id])
        return cache[method]

    def to_bytes(self) -> bytes:
        """Serialise characters and cached features (images as PNG) into one ``.npz`` blob."""
        arrays: dict[str, npt.NDArray[Any]] = {}
        manifest: list[dict[str, Any]] = []
        for i, char in enumerate(self._chars.values()):
            entry: dict[str, Any] = {
                "id": char.character_id,
                "owner": char.owner,
                "names": [[n.text, n.lang, n.kind, n.ambiguous] for n in char.names],
                "descriptions": {k: list(v) for k, v in char.descriptions.items()},
                "images": len(char.images),
                "clips": [list(c.timestamps) for c in char.clips],
                "audio": [a.label for a in char.audio],
                "features": {m: sorted(v) for m, v in self._features.get(char.character_id, {}).items()},
            }
            manifest.append(entry)
            for j, img in enumerate(char.images):
                arrays[f"c{i}/img{j}"] = _png(img)
            for j, clip in enumerate(char.clips):
                for k, frame in enumerate(clip.frames):
                    arrays[f"c{i}/clip{j}/{k}"] = _png(frame)
            for j, track in enumerate(char.audio):
                arrays[f"c{i}/audio{j}"] = np.asarray(track.fingerprint, dtype=np.uint32)
            for method, feats in self._features.get(char.character_id, {}).items():
                for name, value in feats.items():
                    arrays[f"c{i}/f/{method}/{name}"] = value
        header = {"format": FORMAT, "characters": manifest}
        arrays["manifest"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
        buf = io.BytesIO()
        np.savez(buf, **arrays)  # type: ignore[arg-type]
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, blob: bytes) -> ReferenceIndex:
        """Load what :meth:`to_bytes` wrote; refuses other formats."""
        with np.load(io.BytesIO(blob), allow_pickle=False) as npz:
            header = json.loads(bytes(npz["manifest"]).decode())
            if header.get("format") != FORMAT:
                raise ValueError(f"not a reference index: format {header.get('format')!r}")
            index = cls()
            for i, entry in enumerate(header["characters"]):
                char = Character(
                    character_id=entry["id"],
                    owner=entry["owner"],
                    names=tuple(
                        CharacterName(t, lang, kind, bool(amb)) for t, lang, kind, amb in entry["names"]
                    ),
                    descriptions={k: tuple(v) for k, v in entry["descriptions"].items()},
                    images=tuple(_unpng(npz[f"c{i}/img{j}"]) for j in range(entry["images"])),
                    clips=tuple(
                        ReferenceClip(
                            tuple(_unpng(npz[f"c{i}/clip{j}/{k}"]) for k in range(len(times))), tuple(times)
                        )
                        for j, times in enumerate(entry["clips"])
                    ),
                    audio=tuple(
                        AudioReference(label, tuple(int(v) for v in npz[f"c{i}/audio{j}"]))
                        for j, label in enumerate(entry["audio"])
                    ),
                )
                index.upsert(char)
                for method, names in entry["features"].items():
                    index._features.setdefault(char.character_id, {})[method] = {
                        name: npz[f"c{i}/f/{method}/{name}"] for name in names
                    }
        return index


def _png(img: U8) -> U8:
    code = cv2.COLOR_RGBA2BGRA if img.shape[2] == 4 else cv2.COLOR_RGB2BGR
    ok, buf = cv2.imencode(".png", cv2.cvtColor(img, code))
    if not ok:
        raise ValueError("PNG encoding failed")
    return np.asarray(buf, dtype=np.uint8).ravel()


def _unpng(buf: U8) -> U8:
    img = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    if img is None:
        raise ValueError("corrupt PNG in reference index")
    code = cv2.COLOR_BGRA2RGBA if img.shape[2] == 4 else cv2.COLOR_BGR2RGB
    return np.ascontiguousarray(cv2.cvtColor(img, code), dtype=np.uint8)


def character(
    character_id: str,
    names: Sequence[str] = (),
    aliases: Sequence[str] = (),
    descriptions: Sequence[str] = (),
    images: Sequence[U8] = (),
    *,
    lang: str = "en",
    ambiguous: Sequence[str] = (),
    owner: str | None = None,
) -> Character:
    """Shorthand for a one-language :class:`Character`; names listed in ``ambiguous`` are flagged."""
    flagged = set(ambiguous)
    return Character(
        character_id=character_id,
        names=tuple(CharacterName(n, lang, "name", n in flagged) for n in names)
        + tuple(CharacterName(a, lang, "alias", a in flagged) for a in aliases),
        descriptions={lang: tuple(descriptions)} if descriptions else {},
        images=tuple(images),
        owner=owner,
    )

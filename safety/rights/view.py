"""Each worker's view of the rights registry: the reference index the detector matches against and
the terms (rules) the gate applies, refreshed when ``rights_registry.version`` moves.

Only characters of *verified* organisations are loaded: an unverified organisation's rules take no
effect, and neither do its characters (otherwise anyone could block a name by registering it).
Polling and swapping is the generic :class:`~safety.registry.view.RegistryView`; the reference
index is mutable (matchers re-index only characters whose registration changed), so it is updated
under the view's reading lock and the detector matches and reads the terms under that same lock:
the version it reports is the version of everything it used.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from classifiers import Detection, Detector, DetectorInput, ReportsArtifacts, VersionRead
from classifiers.base import Modality
from classifiers.rights import (
    AudioMatcher,
    AudioReference,
    Character,
    CharacterDetector,
    CharacterName,
    ReferenceClip,
    ReferenceIndex,
    audio_signal,
    build_character_detector,
)
from classifiers.rights.audio import AudioToolMissing
from classifiers.text_embed import SentenceEmbedder
from policies.rights import CharacterTerms
from policies.vocabulary import Fact
from safety.media.audio import check_tools as check_audio_tools
from safety.media.audio import fingerprint as audio_fingerprint
from safety.registry.versions import RIGHTS, bump, head
from safety.registry.view import RegistryView
from safety.rights.media import read_png
from safety.rights.models import RightsCharacter, RightsReference, RightsRule
from safety.rights.reconcile import rule_of
from safety.store import Database, Organisation

log = logging.getLogger("feedguard.rights")


def registry_version(session: Session) -> int:
    return head(session, RIGHTS)


def bump_version(session: Session) -> int:
    """Call in the transaction of every change workers must see (one atomic statement)."""
    return bump(session, RIGHTS)


@dataclass
class Registry:
    """What one load of the database gives: characters (for matching) and their terms (for rules)."""

    version: int
    # id -> (stamp, character); the character is None when the caller already holds that stamp
    characters: dict[str, tuple[str, Character | None]] = field(default_factory=dict)
    terms: dict[str, CharacterTerms] = field(default_factory=dict)


def load_registry(session: Session, assets_root: Path, known: dict[str, str] | None = None) -> Registry:
    """Characters of verified organisations and their rules; reference media is read only for
    characters whose stamp differs from ``known`` (id -> stamp), so a rule change reads no image."""
    version = registry_version(session)
    reg = Registry(version)
    rows = session.execute(
        select(RightsCharacter, Organisation.name)
        .join(Organisation, Organisation.id == RightsCharacter.organisation_id)
        .where(RightsCharacter.status == "active", Organisation.verified_at.is_not(None))
        .order_by(RightsCharacter.id)
    ).all()
    if not rows:
        return reg
    ids = [c.id for c, _ in rows]
    refs: dict[str, list[RightsReference]] = {}
    for ref in session.scalars(
        select(RightsReference)
        .where(RightsReference.character_id.in_(ids), RightsReference.status == "active")
        .order_by(RightsReference.created_at, RightsReference.id)
    ):
        refs.setdefault(ref.character_id, []).append(ref)
    rules: dict[tuple[str, str], RightsRule] = {}
    for rule in session.scalars(
        select(RightsRule).where(
            RightsRule.character_id.in_(ids), RightsRule.status.in_(("active", "shadow"))
        )
    ):
        rules[(rule.character_id, rule.status)] = rule
    for char, org_name in rows:
        mine = refs.get(char.id, [])
        stamp = f"{char.updated_at.isoformat()}|{org_name}|{','.join(r.id for r in mine)}"
        unchanged = known is not None and known.get(char.id) == stamp
        reg.characters[char.id] = (
            stamp,
            None if unchanged else _character(char, org_name, mine, assets_root),
        )
        active, shadow = rules.get((char.id, "active")), rules.get((char.id, "shadow"))
        reg.terms[char.id] = CharacterTerms(
            character_id=char.id,
            name=char.name,
            owner=org_name,
            active=rule_of(active) if active else None,
            shadow=rule_of(shadow) if shadow else None,
            official_clips=frozenset(str(v) for v in char.official_clips),
        )
    return reg


def _character(row: RightsCharacter, owner: str, refs: list[RightsReference], root: Path) -> Character:
    names = [CharacterName(row.name, "en", "name", False)]
    for n in row.names:
        names.append(CharacterName(str(n["text"]), str(n.get("lang", "en")), n.get("kind", "alias"),
                                   bool(n.get("ambiguous", False))))  # fmt: skip
    images, clips, audio = [], [], []
    for ref in refs:
        try:
            if ref.kind == "image":
                images.append(read_png(root / ref.asset_key))
            elif ref.kind == "clip":
                frames = tuple(read_png(root / key) for key in ref.frame_keys)
                clips.append(ReferenceClip(frames, tuple(float(t) for t in ref.frame_times)))
            elif ref.kind == "audio" and ref.fingerprint:
                items = np.frombuffer(ref.fingerprint, dtype=np.uint32)
                audio.append(AudioReference(ref.label or ref.id, tuple(int(v) for v in items)))
        except OSError:
            # A missing asset must not hide the character: names and other references still match.
            log.exception("rights reference %s of %s unreadable; skipped", ref.id, row.id)
    return Character(
        character_id=row.id,
        names=tuple(names),
        descriptions={str(k): tuple(str(t) for t in v) for k, v in row.descriptions.items()},
        images=tuple(images),
        clips=tuple(clips),
        audio=tuple(audio),
        owner=owner,
    )


@dataclass(frozen=True)
class RightsRead:
    """The artifact: the terms the detector's matches are to be judged by, at ``version``."""

    version: int
    terms: dict[str, CharacterTerms]


class RightsView(RegistryView[Registry]):
    """The index and terms of one worker, kept current with the registry."""

    def __init__(self, db: Database, assets_root: Path, *, poll_s: float = 1.0) -> None:
        self.assets_root = assets_root
        self.index = ReferenceIndex()
        self._stamps: dict[str, str] = {}
        super().__init__(db, RIGHTS, self._load_next, install=self._apply, poll_s=poll_s)

    def _load_next(self, session: Session, previous: Registry | None) -> Registry:
        return load_registry(session, self.assets_root, self._stamps)

    def _apply(self, reg: Registry) -> None:
        """Under the reading lock: bring the mutable index to ``reg`` (changed characters only)."""
        for cid in set(self._stamps) - set(reg.characters):
            self.index.remove(cid)
            del self._stamps[cid]
        for cid, (stamp, char) in reg.characters.items():
            if char is not None:
                self.index.upsert(char)
                self._stamps[cid] = stamp
        reg.characters.clear()  # the index holds them now

    @property
    def terms(self) -> dict[str, CharacterTerms]:
        return self.snapshot.terms

    @property
    def has_audio(self) -> bool:
        return any(c.audio for c in self.index)


class RightsDetector(ReportsArtifacts, Detector):
    """Registered characters in the prompt, frames and audio (the registry is data, not options)."""

    name: ClassVar[str] = "rights"
    version: ClassVar[str] = "1.0.0"
    consumes: ClassVar[frozenset[Modality]] = frozenset({Modality.FRAMES, Modality.TEXT})
    signal_names: ClassVar[tuple[str, ...]] = (*CharacterDetector.signal_names, "rights.audio")

    def __init__(self, view: RightsView, characters: CharacterDetector, audio: AudioMatcher | None) -> None:
        self.view = view
        self.characters = characters
        self.audio = audio

    def produces(self) -> tuple[str, ...]:
        return (*self.characters.produces(), "rights.audio")

    def analyse(self, data: DetectorInput) -> Detection:
        with self.view.reading() as reg:  # index, terms and version of one registry version
            signals = self.characters.detect(data)
            path = data.context.get("source_path")
            matches = []
            if path and data.context.get(Fact.MEDIA_HAS_AUDIO, True) and self.view.has_audio:
                if self.audio is None:  # fail closed: a registered track could not be listened for
                    raise RuntimeError("reference audio is registered but fpcalc is not installed")
                matches = self.audio.match(Path(str(path)))
            signals.append(audio_signal(self, matches))
            read = RightsRead(reg.version, reg.terms)
        return Detection(signals, (read, VersionRead("rights", reg.version)))

    def close(self) -> None:
        self.view.close()
        self.characters.close()


def build_rights_detector(
    db: Database, assets_root: Path, *, embedder: SentenceEmbedder | None = None, poll_s: float = 1.0
) -> RightsDetector:
    view = RightsView(db, assets_root, poll_s=poll_s)
    view.refresh(force=True)
    view.start()
    characters = build_character_detector(view.index, embedder=embedder)
    try:
        check_audio_tools()
        audio: AudioMatcher | None = AudioMatcher(view.index, audio_fingerprint)
    except AudioToolMissing:
        log.warning("fpcalc missing: reference audio is not matched (apt-get install libchromaprint-tools)")
        audio = None
    return RightsDetector(view, characters, audio)


__all__ = [
    "RightsDetector",
    "RightsRead",
    "RightsView",
    "build_rights_detector",
    "bump_version",
    "load_registry",
]

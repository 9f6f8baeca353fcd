"""Detection of registered characters and works (rights holders' opt-in registry; default deny).

Pure code: the service builds a :class:`ReferenceIndex` from its database and wires
:func:`build_character_detector` (frames + text) and :class:`AudioMatcher` (a media path).
"""

from classifiers.rights.audio import AudioMatch, AudioMatcher, AudioToolMissing, reference_from_file
from classifiers.rights.detector import (
    CONFIDENT,
    REVIEW,
    CharacterDetector,
    audio_signal,
    build_character_detector,
)
from classifiers.rights.references import (
    AudioReference,
    Character,
    CharacterName,
    ReferenceClip,
    ReferenceIndex,
    character,
)

__all__ = [
    "CONFIDENT",
    "REVIEW",
    "AudioMatch",
    "AudioMatcher",
    "AudioReference",
    "AudioToolMissing",
    "Character",
    "CharacterDetector",
    "CharacterName",
    "ReferenceClip",
    "ReferenceIndex",
    "audio_signal",
    "build_character_detector",
    "character",
    "reference_from_file",
]

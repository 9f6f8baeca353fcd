"""Reference tracks (music, signature sounds) found in a video's audio with Chromaprint fingerprints.

The service's fingerprinter (mono 11,025 Hz audio, Chromaprint's own rate, through ``fpcalc -raw``)
turns a track into 32-bit items, one per ~0.124 s, each summarising chroma changes. The same sound
keeps most bits through re-encoding and mixing; unrelated audio differs in about half. Each reference is slid
along the video's fingerprint; at the offsets where most items nearly agree, the longest run whose
smoothed bit error rate stays low is the matched time range. The frame pipeline has no audio, so
this matcher takes a media path: ``AudioMatcher(index, fingerprinter).match(path)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from classifiers.rights.references import CHROMAPRINT_ITEM_S, AudioReference, ReferenceIndex

U32 = npt.NDArray[np.uint32]
ITEM_BITS, CLOSE_BITS, SMOOTH_ITEMS = 32, 10, 16
MAX_BER, MIN_SECONDS = 0.3, 3.0


class AudioToolMissing(RuntimeError):
    """fpcalc or ffmpeg is not installed; say how to install it rather than skip silently (raised by
    the service's fingerprinter)."""


@dataclass(frozen=True, slots=True)
class AudioMatch:
    """A reference track heard in the video, and when."""

    character_id: str
    label: str
    start: float  # seconds into the video
    end: float
    reference_start: float  # seconds into the reference track
    bit_error_rate: float
    score: float


Fingerprinter = Callable[[Path, int], U32]
"""``(media path, max seconds) -> raw Chromaprint items`` of its first audio stream (empty when it
has none). The service supplies it (``safety.media.audio.fingerprint``): running ffmpeg and fpcalc
on hostile files is the service's job, done one hardened way."""


def reference_from_file(label: str, path: str | Path, fingerprinter: Fingerprinter) -> AudioReference:
    """An :class:`AudioReference` for a rights holder's uploaded track."""
    return AudioReference(label, tuple(int(v) for v in fingerprinter(Path(path), 600)))


def _longest_run(ok: npt.NDArray[np.bool_]) -> tuple[int, int]:
    """[start, end) of the longest run of True."""
    best, start = (0, 0), None
    for i, v in enumerate([*ok.tolist(), False]):
        if v and start is None:
            start = i
        elif not v and start is not None:
            if i - start > best[1] - best[0]:
                best = (start, i)
            start = None
    return best


def align(query: U32, ref: U32, *, min_items: int) -> tuple[int, int, int, float] | None:
    """Best ``(query_start, query_end, ref_start, bit_error_rate)`` of ``ref`` inside ``query``."""
    n, m = len(query), len(ref)
    if n < min_items or m < min_items:
        return None
    q64, r64 = query.astype(np.uint64), ref.astype(np.uint64)
    best: tuple[int, int, int, float] | None = None
    offsets = range(-(m - min_items), n - min_items + 1)  # query index = ref index + offset
    close = np.empty(len(offsets), dtype=np.int64)
    for k, off in enumerate(offsets):
        a, b = max(0, off), min(n, m + off)
        close[k] = int((np.bitwise_count(q64[a:b] ^ r64[a - off : b - off]) <= CLOSE_BITS).sum())
    for k in np.argsort(-close)[:5].tolist():
        if close[k] < min_items // 2:
            break
        off = offsets[k]
        a, b = max(0, off), min(n, m + off)
        errors = np.bitwise_count(q64[a:b] ^ r64[a - off : b - off]).astype(np.float64) / ITEM_BITS
        smooth = np.convolve(errors, np.ones(SMOOTH_ITEMS) / SMOOTH_ITEMS, mode="same")
        s, e = _longest_run(smooth <= MAX_BER)
        if e - s >= min_items:
            ber = float(errors[s:e].mean())
            if best is None or (e - s) * (1 - ber) > (best[1] - best[0]) * (1 - best[3]):
                best = (a + s, a + e, a + s - off, ber)
    return best


def match_score(seconds: float, ber: float, reference_seconds: float) -> float:
    """Long, clean agreement -> near 1; a short or noisy one stays in the review band."""
    clean = min(1.0, max(0.0, (0.4 - ber) / 0.25))
    length = min(1.0, seconds / max(MIN_SECONDS, min(10.0, reference_seconds)))
    return clean * (0.4 + 0.6 * length)


class AudioMatcher:
    """Matches a media file's audio against every reference track in a :class:`ReferenceIndex`.

    Cost is linear in the total length of the reference tracks (a sliding comparison per track),
    fine for hundreds of tracks; a registry of many thousands would need an inverted index on items.
    """

    def __init__(
        self,
        references: ReferenceIndex,
        fingerprinter: Fingerprinter,
        *,
        min_seconds: float = MIN_SECONDS,
        max_seconds: int = 600,
    ):
        self.fingerprinter = fingerprinter
        self.references = references
        self.min_items = max(8, round(min_seconds / CHROMAPRINT_ITEM_S))
        self.max_seconds = max_seconds

    def match(self, path: str | Path) -> list[AudioMatch]:
        """Reference tracks heard in ``path``, best first."""
        return self.match_fingerprint(self.fingerprinter(Path(path), self.max_seconds))

    def match_fingerprint(self, query: U32) -> list[AudioMatch]:
        """The same on an already computed fingerprint."""
        out = []
        for char in self.references:
            for track in char.audio:
                ref = np.asarray(track.fingerprint, dtype=np.uint32)
                found = align(query, ref, min_items=self.min_items)
                if found is None:
                    continue
                qs, qe, rs, ber = found
                seconds = (qe - qs) * CHROMAPRINT_ITEM_S
                score = match_score(seconds, ber, len(ref) * CHROMAPRINT_ITEM_S)
                out.append(
                    AudioMatch(
                        char.character_id,
                        track.label,
                        qs * CHROMAPRINT_ITEM_S,
                        qe * CHROMAPRINT_ITEM_S,
                        rs * CHROMAPRINT_ITEM_S,
                        ber,
                        score,
                    )
                )
        return sorted(out, key=lambda m: -m.score)

"""Chromaprint matching of a reference track inside a video's audio (needs fpcalc: libchromaprint-tools).

Without fpcalc these tests FAIL with the install hint (AudioToolMissing), never skip: a rights
check that silently stopped running would let reuse through.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from classifiers.rights.audio import AudioMatcher, reference_from_file
from classifiers.rights.detector import CONFIDENT, CharacterDetector, audio_signal
from classifiers.rights.references import Character, ReferenceIndex
from safety.media import tools
from safety.media.audio import U32, fingerprint


def fp(path: Path, seconds: int) -> U32:
    """The service's fingerprinter (hardened ffmpeg + fpcalc), for tracks in audio containers."""
    return fingerprint(path, seconds, demuxers=tools.AUDIO_DEMUXERS)


THEME = (440, 660, 550, 880, 330, 495, 740, 392, 587, 440, 784, 523, 659, 349, 698, 466, 932, 415)
OTHER = tuple(300 + 50 * i for i in range(18))


def _melody(path: Path, freqs: tuple[int, ...]) -> Path:
    """A tune of 0.4 s sine notes (lavfi ``sine``), the kind of signature sound a rights holder registers."""
    args: list[str] = []
    for f in freqs:
        args += ["-f", "lavfi", "-i", f"sine=frequency={f}:duration=0.4:sample_rate=22050"]
    chain = "".join(f"[{i}:a]" for i in range(len(freqs))) + f"concat=n={len(freqs)}:v=0:a=1[a]"
    subprocess.run(["ffmpeg", "-y", "-v", "error", *args, "-filter_complex", chain, "-map", "[a]", str(path)],
                   check=True)  # fmt: skip
    return path


def _video(path: Path, parts: list[Path], seconds: int) -> Path:
    """A test-pattern video whose audio is ``parts`` in sequence, mixed with white noise, AAC-encoded."""
    inputs = [a for p in parts for a in ("-i", str(p))]
    n = len(parts)
    chain = (
        "".join(f"[{i + 1}:a]" for i in range(n)) + f"concat=n={n}:v=0:a=1[seq];"
        f"[{n + 1}:a][seq]amix=inputs=2:duration=longest[a]"
    )
    video = f"testsrc2=size=160x90:rate=5:duration={seconds}"
    noise = f"anoisesrc=color=white:amplitude=0.02:duration={seconds}"
    cmd = ["ffmpeg", "-y", "-v", "error", "-f", "lavfi", "-i", video, *inputs, "-f", "lavfi", "-i", noise,
           "-filter_complex", chain, "-map", "0:v", "-map", "[a]", "-c:v", "libx264", "-c:a", "aac",
           "-shortest", str(path)]  # fmt: skip
    subprocess.run(cmd, check=True)
    return path


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("audio")
    theme, other = _melody(root / "theme.wav", THEME), _melody(root / "other.wav", OTHER)
    noise = root / "noise.wav"
    pink = "anoisesrc=color=pink:amplitude=0.05:duration=4:sample_rate=22050"
    subprocess.run(["ffmpeg", "-y", "-v", "error", "-f", "lavfi", "-i", pink, str(noise)], check=True)
    return {
        "theme": theme,
        "with_theme": _video(root / "with.mp4", [noise, theme, other], 16),
        "without": _video(root / "without.mp4", [other, noise], 12),
    }


def test_reference_track_inside_a_clip_is_matched_with_its_time_range(media: dict[str, Path]) -> None:
    index = ReferenceIndex(
        [Character("sunny", audio=(reference_from_file("theme song", media["theme"], fp),))]
    )
    [m] = AudioMatcher(index, fp).match(media["with_theme"])
    assert m.character_id == "sunny" and m.label == "theme song" and m.score >= CONFIDENT
    assert (
        3.0 <= m.start <= 5.0 and m.end - m.start >= 3.0 and m.bit_error_rate < 0.2
    )  # the theme plays at 4 s
    signal = audio_signal(CharacterDetector.__new__(CharacterDetector), [m])
    assert signal.name == "rights.audio" and signal.evidence[0].label == "sunny/audio/theme song"


def test_other_audio_is_not_matched(media: dict[str, Path]) -> None:
    index = ReferenceIndex(
        [Character("sunny", audio=(reference_from_file("theme song", media["theme"], fp),))]
    )
    assert AudioMatcher(index, fp).match(media["without"]) == []

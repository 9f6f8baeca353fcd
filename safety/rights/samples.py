"""Sample media for the rights demo and tests: an invented cartoon character as a PNG reference,
and H.264 videos of a scene it walks through (or a plain scene without it), drawn offline."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from classifiers.rights.synthetic import CARTOONS, background, draw_character, paste
from safety.media import tools
from safety.rights.media import png_bytes

WIDTH, HEIGHT, FPS = 640, 360, 24


def character_png(path: Path, name: str = "pip", size: int = 320) -> Path:
    """The drawn character as an RGBA PNG (alpha marks the character), like a studio's cut-out."""
    spec = next(c for c in CARTOONS if c.name == name)
    rgb, mask = draw_character(spec, size)
    path.write_bytes(png_bytes(np.dstack([rgb, mask])))
    return path


def character_video(
    path: Path, name: str | None = "pip", *, duration_s: float = 3.0, seed: int = 7, scale: float = 0.55
) -> Path:
    """A scene (seeded background) with the character gliding across it; ``name=None`` leaves it out."""
    bg = background(seed, WIDTH, HEIGHT)
    char = None
    if name is not None:
        spec = next(c for c in CARTOONS if c.name == name)
        char = draw_character(spec, 320)
    frames = max(1, int(duration_s * FPS))
    raw = tools.pipe_input("rawvideo", "-pix_fmt", "rgb24", "-s", f"{WIDTH}x{HEIGHT}", "-r", str(FPS))
    cmd = tools.ffmpeg("-v", "error", "-y", *raw, "-c:v", "libx264", "-preset", "veryfast",
                       "-pix_fmt", "yuv420p", "-movflags", "+faststart", tools.output(path))  # fmt: skip
    proc = tools.popen(cmd, stdin=tools.PIPE)
    assert proc.stdin is not None
    try:
        for i in range(frames):
            frame = bg
            if char is not None:
                frame, _ = paste(bg, char[0], scale=scale, x=0.2 + 0.6 * i / frames, y=0.5, mask=char[1])
            proc.stdin.write(np.ascontiguousarray(frame).tobytes())
        proc.stdin.close()
        err = proc.stderr.read() if proc.stderr else b""
        if proc.wait(120) != 0:
            raise RuntimeError(f"ffmpeg failed: {err.decode(errors='replace')[-300:]}")
    finally:
        if proc.poll() is None:
            proc.kill()
    return path

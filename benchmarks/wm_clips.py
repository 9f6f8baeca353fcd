"""Natural-looking 1280x720 test clips made offline from images shipped with scikit-image.

Each clip is rendered frame by frame (camera moves, objects, noise, darkening, shake) and piped to
ffmpeg as a near-lossless H.264 source (CRF 12). Nothing is downloaded. Used by
``benchmarks/watermark_eval.py``; deterministic for a given name, size, rate and duration.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np

W, H, FPS = 1280, 720, 24

Frame = np.ndarray


def _img(name: str) -> np.ndarray:
    import skimage.data

    img = getattr(skimage.data, name)()
    if img.dtype == bool:
        img = img.astype(np.uint8) * 255
    if img.ndim == 2:
        img = np.stack([img] * 3, axis=-1)
    return cv2.cvtColor(img[..., :3], cv2.COLOR_RGB2BGR).astype(np.float32)


def _fill(img: np.ndarray, w: int, h: int, margin: float) -> np.ndarray:
    """Resize so the image covers ``margin`` times the frame (room to move the camera)."""
    s = max(w * margin / img.shape[1], h * margin / img.shape[0])
    return cv2.resize(img, (round(img.shape[1] * s), round(img.shape[0] * s)), interpolation=cv2.INTER_CUBIC)


def _view(big: np.ndarray, cx: float, cy: float, zoom: float, angle: float, w: int, h: int) -> Frame:
    """The frame a camera centred at (cx, cy) of ``big`` sees, ``zoom`` x, rotated ``angle`` deg."""
    m = cv2.getRotationMatrix2D((cx, cy), angle, zoom)
    m[0, 2] += w / 2 - cx
    m[1, 2] += h / 2 - cy
    return cv2.warpAffine(big, m, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)


def _grain(rng: np.random.Generator, frame: Frame, sigma: float) -> Frame:
    return frame + rng.normal(0, sigma, frame.shape[:2])[..., None].astype(np.float32)


def zoom(image: str, n: int, w: int, h: int) -> Iterator[Frame]:
    big = _fill(_img(image), w, h, 1.0)
    rng = np.random.default_rng(1)
    for i in range(n):
        yield _grain(rng, _view(big, big.shape[1] / 2, big.shape[0] / 2, 1 + 0.3 * i / n, 0, w, h), 2)


def pan(image: str, n: int, w: int, h: int) -> Iterator[Frame]:
    big = _fill(_img(image), w, h, 1.35)
    rng = np.random.default_rng(2)
    for i in range(n):
        x = w / 2 + (big.shape[1] - w) * i / max(1, n - 1)
        yield _grain(rng, _view(big, x, big.shape[0] / 2, 1.0, 0, w, h), 2)


def moving_object(n: int, w: int, h: int) -> Iterator[Frame]:
    """A still background (grass) with a textured object (the cat) crossing the frame."""
    bg = _fill(_img("grass"), w, h, 1.0)[:h, :w]
    obj = _fill(_img("chelsea"), w // 3, h // 3, 1.0)
    oh, ow = obj.shape[:2]
    mask = np.zeros((oh, ow), np.float32)
    cv2.ellipse(mask, (ow // 2, oh // 2), (ow // 2 - 2, oh // 2 - 2), 0, 0, 360, 1.0, -1)
    mask = cv2.GaussianBlur(mask, (0, 0), 3)[..., None]
    rng = np.random.default_rng(3)
    for i in range(n):
        f = bg.copy()
        x = int((w - ow) * i / max(1, n - 1))
        y = int((h - oh) / 2 + 0.25 * h * np.sin(2 * np.pi * i / 96))
        f[y : y + oh, x : x + ow] = mask * obj + (1 - mask) * f[y : y + oh, x : x + ow]
        yield _grain(rng, f, 1.5)


def dark_sky(n: int, w: int, h: int) -> Iterator[Frame]:
    """A night sky: the Hubble deep field, dimmed, drifting slowly, with heavy sensor grain."""
    big = _fill(_img("hubble_deep_field"), w, h, 1.2) * 0.35 + 6
    rng = np.random.default_rng(4)
    for i in range(n):
        f = _view(big, big.shape[1] / 2 + 40 * i / n, big.shape[0] / 2 + 20 * i / n, 1.0, 0, w, h)
        yield _grain(rng, f, 6)


def shake(image: str, n: int, w: int, h: int) -> Iterator[Frame]:
    """Fast hand-held shake: random-walk translation (up to ~40 px/frame) and rotation jitter."""
    big = _fill(_img(image), w, h, 1.4)
    rng = np.random.default_rng(5)
    cx, cy, ang = big.shape[1] / 2, big.shape[0] / 2, 0.0
    for _ in range(n):
        cx = float(np.clip(cx + rng.normal(0, 18), w / 2 + 50, big.shape[1] - w / 2 - 50))
        cy = float(np.clip(cy + rng.normal(0, 12), h / 2 + 50, big.shape[0] - h / 2 - 50))
        ang = float(np.clip(ang + rng.normal(0, 0.6), -4, 4))
        f = _view(big, cx, cy, 1.0, ang, w, h)
        yield _grain(rng, cv2.GaussianBlur(f, (0, 0), 1.2), 2)


def dim_coins(n: int, w: int, h: int) -> Iterator[Frame]:
    """Dim, low-contrast coins under a slow zoom (contrast x0.35 around a dark grey)."""
    big = _fill(_img("coins"), w, h, 1.1)
    big = (big - big.mean()) * 0.35 + 45
    rng = np.random.default_rng(6)
    for i in range(n):
        yield _grain(rng, _view(big, big.shape[1] / 2, big.shape[0] / 2, 1 + 0.15 * i / n, 0, w, h), 1.5)


def clouds(n: int, w: int, h: int) -> Iterator[Frame]:
    """Procedural soft clouds over a blue gradient, drifting: flat, smooth, 'generated' look."""
    rng = np.random.default_rng(7)
    field = np.zeros((h + 200, w + 400), np.float32)
    for octave in range(5):
        cells = rng.normal(0, 1, ((h + 200) // (160 >> octave) + 2, (w + 400) // (160 >> octave) + 2))
        up = cv2.resize(cells.astype(np.float32), (w + 400, h + 200), interpolation=cv2.INTER_CUBIC)
        field += up * (0.55**octave)
    cloud = np.clip((field - 0.2) * 0.8, 0, 1)
    sky = np.zeros((h + 200, w + 400, 3), np.float32)
    grad = np.linspace(0, 1, h + 200, dtype=np.float32)[:, None]
    sky[..., 0] = 200 - 40 * grad
    sky[..., 1] = 140 - 30 * grad
    sky[..., 2] = 80 - 20 * grad
    img = sky * (1 - cloud[..., None]) + 235 * cloud[..., None]
    for i in range(n):
        x = int(300 * i / max(1, n - 1))
        yield _grain(rng, img[100 : 100 + h, x : x + w], 0.8)


def texture_zoom_out(n: int, w: int, h: int) -> Iterator[Frame]:
    """Brick wall: a fine regular texture, zooming out while the light fades down."""
    big = _fill(_img("brick"), w, h, 1.6)
    rng = np.random.default_rng(8)
    for i in range(n):
        f = _view(big, big.shape[1] / 2, big.shape[0] / 2, 1.5 - 0.4 * i / n, 0, w, h) * (1 - 0.4 * i / n)
        yield _grain(rng, f, 2)


CLIPS: dict[str, Callable[[int, int, int], Iterator[Frame]]] = {
    "astronaut-zoom": lambda n, w, h: zoom("astronaut", n, w, h),
    "coffee-pan": lambda n, w, h: pan("coffee", n, w, h),
    "cat-moving": moving_object,
    "dark-grainy-sky": dark_sky,
    "handheld-shake": lambda n, w, h: shake("rocket", n, w, h),
    "dim-coins": dim_coins,
    "clouds-flat": clouds,
    "brick-zoom-fade": texture_zoom_out,
}


def render(name: str, out: Path, seconds: float, w: int = W, h: int = H, fps: int = FPS) -> Path:
    """Render clip ``name`` to ``out`` (H.264 CRF 12, yuv420p) unless it already exists."""
    if out.exists():
        return out
    tmp = out.with_suffix(".part.mp4")
    cmd = ["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{w}x{h}"]
    cmd += ["-framerate", str(fps), "-i", "pipe:0", "-c:v", "libx264", "-preset", "fast", "-crf", "12"]
    cmd += ["-pix_fmt", "yuv420p", str(tmp)]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE)
    assert proc.stdin is not None
    for frame in CLIPS[name](round(seconds * fps), w, h):
        proc.stdin.write(np.clip(frame, 0, 255).astype(np.uint8).tobytes())
    proc.stdin.close()
    if proc.wait() != 0:
        raise RuntimeError(f"ffmpeg failed rendering {name}")
    tmp.rename(out)
    return out

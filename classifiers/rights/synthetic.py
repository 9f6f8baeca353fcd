"""Procedurally drawn fictional characters, logos and scenes for the rights tests and benchmark.

Real trademarked characters cannot ship as test data, so cartoons are drawn with OpenCV shapes
(faces, eyes, hats, patterns): distinct enough to be told apart, flat-coloured like real cartoons,
which is the hard case for keypoint matching. Everything is seeded, so runs are reproducible.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from classifiers.rights.references import Character, CharacterName, ReferenceIndex

U8 = npt.NDArray[np.uint8]
Colour = tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class CartoonSpec:
    """The look of one invented character: shapes and colours drawn by :func:`draw_character`."""

    name: str
    face: str  # "circle", "square", "oval", "triangle"
    skin: Colour
    hat: str  # "top", "wizard", "crown", "cap", "none", "antenna"
    hat_colour: Colour
    eyes: int  # 1, 2 or 3
    pattern: str  # "spots", "stripes", "stars", "none"
    pattern_colour: Colour
    mouth: str  # "smile", "teeth", "o", "zigzag"
    letter: str  # a badge letter: text gives corners that keypoint detectors love


CARTOONS: tuple[CartoonSpec, ...] = (
    CartoonSpec(
        "pip", "circle", (90, 170, 80), "wizard", (120, 50, 160), 2, "stars", (250, 230, 90), "smile", "P"
    ),
    CartoonSpec(
        "barnacle", "square", (240, 140, 40), "cap", (30, 60, 150), 2, "spots", (200, 60, 30), "teeth", "B"
    ),
    CartoonSpec("zorbo", "oval", (70, 120, 230), "antenna", (230, 230, 60), 3, "none", (0, 0, 0), "o", "Z"),
    CartoonSpec(
        "mabel", "circle", (250, 210, 170), "top", (200, 30, 40), 2, "stripes", (240, 200, 20), "smile", "M"
    ),
    CartoonSpec(
        "bramble",
        "triangle",
        (60, 110, 40),
        "crown",
        (230, 190, 30),
        2,
        "spots",
        (130, 80, 40),
        "zigzag",
        "K",
    ),
    CartoonSpec(
        "sunny", "square", (250, 225, 60), "none", (0, 0, 0), 2, "spots", (190, 170, 40), "teeth", "S"
    ),
)


def _shape(img: U8, mask: U8, kind: str, c: tuple[int, int], r: int, colour: Colour) -> None:
    x, y = c
    if kind == "circle":
        cv2.circle(img, c, r, colour, -1, cv2.LINE_AA)
        cv2.circle(mask, c, r, 255, -1)
    elif kind == "oval":
        cv2.ellipse(img, c, (int(r * 0.8), r), 0, 0, 360, colour, -1, cv2.LINE_AA)
        cv2.ellipse(mask, c, (int(r * 0.8), r), 0, 0, 360, 255, -1)
    elif kind == "square":
        cv2.rectangle(img, (x - r, y - r), (x + r, y + r), colour, -1)
        cv2.rectangle(mask, (x - r, y - r), (x + r, y + r), 255, -1)
    else:
        pts = np.array([[x, y - r], [x - r, y + r], [x + r, y + r]], dtype=np.int32)
        cv2.fillPoly(img, [pts], colour, cv2.LINE_AA)
        cv2.fillPoly(mask, [pts], 255)
    edge = tuple(max(0, v - 90) for v in colour)
    if kind in ("circle", "oval"):
        cv2.ellipse(img, c, (int(r * (0.8 if kind == "oval" else 1)), r), 0, 0, 360, edge, 3, cv2.LINE_AA)


def draw_character(spec: CartoonSpec, size: int = 256) -> tuple[U8, U8]:
    """The character as an RGB image on white plus its alpha mask (255 = character)."""
    img = np.full((size, size, 3), 255, dtype=np.uint8)
    mask = np.zeros((size, size), dtype=np.uint8)
    s = size / 256
    cx, cy, r = int(128 * s), int(150 * s), int(80 * s)
    _shape(img, mask, spec.face, (cx, cy), r, spec.skin)
    rng = np.random.default_rng(sum(map(ord, spec.name)))
    face = mask.copy()
    if spec.pattern == "spots":
        for _ in range(7):
            p = (int(cx + rng.uniform(-0.7, 0.7) * r), int(cy + rng.uniform(0.1, 0.8) * r))
            if face[p[1], p[0]]:
                cv2.circle(img, p, int(rng.uniform(5, 11) * s), spec.pattern_colour, -1, cv2.LINE_AA)
    elif spec.pattern == "stripes":
        for k in range(4):
            yy = int(cy + (0.25 + 0.17 * k) * r)
            row = np.where(face[yy])[0]
            if row.size:
                cv2.line(img, (int(row[0]), yy), (int(row[-1]), yy), spec.pattern_colour, max(1, int(5 * s)))
    elif spec.pattern == "stars":
        for k in range(5):
            p = (int(cx + (k - 2) * 0.3 * r), int(cy + 0.65 * r + (k % 2) * 8 * s))
            cv2.drawMarker(img, p, spec.pattern_colour, cv2.MARKER_STAR, int(12 * s), max(1, int(2 * s)))
    eye_xs = {1: [0.0], 2: [-0.35, 0.35], 3: [-0.45, 0.0, 0.45]}[spec.eyes]
    for ex in eye_xs:
        p = (int(cx + ex * r), int(cy - 0.2 * r))
        cv2.circle(img, p, int(16 * s), (255, 255, 255), -1, cv2.LINE_AA)
        cv2.circle(img, p, int(16 * s), (20, 20, 20), max(1, int(2 * s)), cv2.LINE_AA)
        cv2.circle(img, (p[0] + int(4 * s), p[1] + int(3 * s)), int(7 * s), (20, 20, 20), -1, cv2.LINE_AA)
    my = int(cy + 0.3 * r)
    dark = (60, 20, 20)
    if spec.mouth == "smile":
        cv2.ellipse(
            img, (cx, my), (int(30 * s), int(16 * s)), 0, 10, 170, dark, max(1, int(4 * s)), cv2.LINE_AA
        )
    elif spec.mouth == "teeth":
        cv2.rectangle(
            img, (cx - int(28 * s), my - int(8 * s)), (cx + int(28 * s), my + int(10 * s)), dark, -1
        )
        for k in range(4):
            x0 = cx - int(26 * s) + k * int(13 * s)
            cv2.rectangle(img, (x0, my - int(8 * s)), (x0 + int(10 * s), my), (255, 255, 255), -1)
    elif spec.mouth == "o":
        cv2.circle(img, (cx, my), int(10 * s), dark, -1, cv2.LINE_AA)
    else:
        pts = np.array(
            [[cx - 30 * s + 10 * s * k, my + (6 if k % 2 else -6) * s] for k in range(7)], np.int32
        )
        cv2.polylines(img, [pts], False, dark, max(1, int(3 * s)), cv2.LINE_AA)
    top = int(cy - r)
    hc = spec.hat_colour
    if spec.hat == "top":
        cv2.rectangle(img, (cx - int(60 * s), top - int(8 * s)), (cx + int(60 * s), top + int(6 * s)), hc, -1)
        cv2.rectangle(img, (cx - int(38 * s), top - int(60 * s)), (cx + int(38 * s), top), hc, -1)
        cv2.rectangle(
            img,
            (cx - int(38 * s), top - int(22 * s)),
            (cx + int(38 * s), top - int(12 * s)),
            (20, 20, 20),
            -1,
        )
    elif spec.hat == "wizard":
        pts = np.array(
            [[cx - 60 * s, top + 8 * s], [cx + 60 * s, top + 8 * s], [cx + 15 * s, top - 70 * s]], np.int32
        )
        cv2.fillPoly(img, [pts], hc, cv2.LINE_AA)
        cv2.drawMarker(
            img, (cx, top - int(20 * s)), (250, 230, 90), cv2.MARKER_STAR, int(18 * s), max(1, int(3 * s))
        )
    elif spec.hat == "crown":
        crown = [
            [cx - 50, top + 5],
            [cx - 50, top - 40],
            [cx - 25, top - 15],
            [cx, top - 50],
            [cx + 25, top - 15],
            [cx + 50, top - 40],
            [cx + 50, top + 5],
        ]
        cv2.fillPoly(
            img, [np.array([[cx + (px - cx) * s, top + (py - top) * s] for px, py in crown], np.int32)], hc
        )
        for dx in (-30, 0, 30):
            cv2.circle(img, (cx + int(dx * s), top - int(6 * s)), int(5 * s), (200, 20, 60), -1, cv2.LINE_AA)
    elif spec.hat == "cap":
        cv2.ellipse(img, (cx, top + int(5 * s)), (int(62 * s), int(40 * s)), 0, 180, 360, hc, -1, cv2.LINE_AA)
        cv2.rectangle(img, (cx, top - int(2 * s)), (cx + int(85 * s), top + int(10 * s)), hc, -1)
        cv2.circle(img, (cx, top - int(20 * s)), int(9 * s), (250, 250, 250), -1, cv2.LINE_AA)
    elif spec.hat == "antenna":
        for dx in (-30, 30):
            tip = (cx + int(dx * 1.4 * s), top - int(55 * s))
            cv2.line(
                img, (cx + int(dx * s), top + int(5 * s)), tip, (40, 40, 40), max(1, int(3 * s)), cv2.LINE_AA
            )
            cv2.circle(img, tip, int(9 * s), hc, -1, cv2.LINE_AA)
    hat_mask = np.any(img != 255, axis=2).astype(np.uint8) * 255
    mask = np.maximum(mask, hat_mask)
    cv2.putText(
        img,
        spec.letter,
        (cx - int(12 * s), cy + int(0.75 * r)),
        cv2.FONT_HERSHEY_DUPLEX,
        1.0 * s,
        (250, 250, 250),
        max(1, int(2 * s)),
        cv2.LINE_AA,
    )
    return img, mask


def draw_logo(seed: int, size: int = 256) -> U8:
    """A made-up logo: a coloured emblem with a star, rings and three letters."""
    rng = np.random.default_rng(seed)
    bg = tuple(int(v) for v in rng.integers(0, 256, 3))
    fg = tuple(255 - v for v in bg)
    img = np.full((size, size, 3), bg, dtype=np.uint8)
    c = size // 2
    cv2.circle(img, (c, c), int(size * 0.42), fg, int(size * 0.04), cv2.LINE_AA)
    n = int(rng.integers(5, 9))
    ang = np.linspace(0, 2 * np.pi, 2 * n, endpoint=False) + rng.uniform(0, np.pi)
    rad = np.where(np.arange(2 * n) % 2 == 0, size * 0.33, size * 0.15)
    star = np.stack([c + rad * np.cos(ang), c + rad * np.sin(ang)], 1).astype(np.int32)
    cv2.fillPoly(img, [star], tuple(int(v) for v in rng.integers(0, 256, 3)), cv2.LINE_AA)
    letters = "".join(chr(int(v)) for v in rng.integers(65, 91, 3))
    cv2.putText(
        img, letters, (int(size * 0.24), int(size * 0.88)), cv2.FONT_HERSHEY_TRIPLEX, size / 220, fg, 2
    )
    return img


def background(seed: int, width: int = 512, height: int = 288) -> U8:
    """A random scene: gradient sky, smooth noise texture and a few shapes (no reference in it)."""
    rng = np.random.default_rng(seed)
    yy = np.mgrid[0:height, 0:width][0].astype(np.float32)
    a, b = rng.integers(0, 256, 3).astype(np.float32), rng.integers(0, 256, 3).astype(np.float32)
    t = (yy / height)[..., None]
    img = a * (1 - t) + b * t
    noise = cv2.resize(
        rng.normal(0, 40, (height // 16 + 1, width // 16 + 1, 3)).astype(np.float32),
        (width, height),
        interpolation=cv2.INTER_CUBIC,
    )
    img = np.clip(img + noise + rng.normal(0, 4, img.shape), 0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(3, 9))):
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        p = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        if rng.random() < 0.5:
            cv2.circle(img, p, int(rng.integers(8, 60)), colour, -1, cv2.LINE_AA)
        else:
            q = (p[0] + int(rng.integers(-80, 80)), p[1] + int(rng.integers(-60, 60)))
            cv2.rectangle(img, p, q, colour, -1)
    return np.asarray(img, dtype=np.uint8)


def paste(
    scene: U8, ref: U8, *, scale: float, x: float, y: float, mask: U8 | None = None
) -> tuple[U8, tuple[float, float, float, float]]:
    """Paste ``ref`` resized so its long side is ``scale`` of the scene's short side, top-left at
    (x, y) as fractions of the free room; returns the scene and the normalised box it covers."""
    h, w = scene.shape[:2]
    side = max(8, int(min(h, w) * scale))
    rh, rw = ref.shape[:2]
    f = side / max(rh, rw)
    nw, nh = max(1, int(rw * f)), max(1, int(rh * f))
    small = cv2.resize(ref, (nw, nh), interpolation=cv2.INTER_AREA)
    x0, y0 = int((w - nw) * x), int((h - nh) * y)
    out = scene.copy()
    region = out[y0 : y0 + nh, x0 : x0 + nw]
    if mask is None:
        region[:] = small
    else:
        m = cv2.resize(mask, (nw, nh), interpolation=cv2.INTER_AREA)[..., None].astype(np.float32) / 255
        region[:] = (small * m + region * (1 - m)).astype(np.uint8)
    return out, (x0 / w, y0 / h, nw / w, nh / h)


def jpeg(img: U8, quality: int = 60) -> U8:
    """Round-trip through JPEG, the most common re-encoding a re-upload goes through."""
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(img[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("JPEG encode failed")
    decoded = np.asarray(cv2.imdecode(buf, cv2.IMREAD_COLOR), dtype=np.uint8)
    return np.ascontiguousarray(decoded[..., ::-1])


def colour_shift(img: U8, shift: tuple[int, int, int] = (25, -15, -20), gain: float = 1.1) -> U8:
    """A global grade, as filters and generators apply."""
    out = img.astype(np.float32) * gain + np.asarray(shift, dtype=np.float32)
    return np.asarray(np.clip(out, 0, 255), dtype=np.uint8)


def overlay_text(img: U8, text: str = "LIKE & SUBSCRIBE", y: float = 0.85) -> U8:
    """Caption text burnt into the picture."""
    out = img.copy()
    h, w = out.shape[:2]
    cv2.putText(out, text, (int(w * 0.05), int(h * y)), cv2.FONT_HERSHEY_SIMPLEX, w / 700, (255, 255, 255), 2)
    return out


DEMO_REGISTRY = Path(__file__).resolve().parent / "data" / "characters.json"


def demo_characters(*, images: bool = True) -> list[Character]:
    """The invented registry of ``data/characters.json``, with the drawn cartoons as RGBA references."""
    specs = {spec.name: spec for spec in CARTOONS}
    out = []
    for entry in json.loads(DEMO_REGISTRY.read_text())["characters"]:
        flagged = set(entry.get("ambiguous", []))
        names = [CharacterName(n, "en", "name", n in flagged) for n in entry["names"]]
        names += [CharacterName(n, "en", "alias", n in flagged) for n in entry["aliases"]]
        refs: tuple[U8, ...] = ()
        if images and entry.get("cartoon"):
            rgb, mask = draw_character(specs[entry["cartoon"]])
            refs = (np.dstack([rgb, mask]),)
        out.append(Character(entry["id"], tuple(names), {"en": tuple(entry["descriptions"])}, refs))
    return out


def demo_index(*, images: bool = True) -> ReferenceIndex:
    """A :class:`ReferenceIndex` of :func:`demo_characters`."""
    return ReferenceIndex(demo_characters(images=images))

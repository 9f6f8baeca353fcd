"""Rights holders' reference uploads: validate, strip every byte of metadata, normalise.

Images are sniffed by content (PNG, JPEG, WebP; the declared type is not trusted), their header
dimensions checked against a megapixel limit *before* decoding (a decompression bomb is refused
unread), the decode's memory reserved from the process's budget (``safety.media.budget``; JPEGs
decode at a reduced scale), EXIF orientation applied, and the pixels re-encoded as a fresh PNG:
EXIF, XMP, ICC, GPS and text chunks do not survive. Clips are probed within limits, sampled for
the index, and re-muxed with ``-map_metadata -1``. Audio is fingerprinted and kept only as a
metadata-free FLAC. Every ffmpeg call goes through ``safety.media.tools`` (allow-listed demuxers).
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageOps

from safety.media import MediaLimits, MediaRejected, probe, sample_frames, tools
from safety.media.audio import fingerprint
from safety.media.budget import DEFAULT_IMAGE_LIMITS, ImageLimits

U8 = npt.NDArray[np.uint8]

IMAGE_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}
MAX_IMAGE_BYTES = 20 * 1024 * 1024
MAX_IMAGE_SIDE = 8192
MAX_IMAGE_PIXELS = DEFAULT_IMAGE_LIMITS.max_pixels  # 12 MP unless configured (upload_max_megapixels)
MIN_IMAGE_SIDE = 32
STORED_MAX_SIDE = 1024  # matching works at <= 512 px; keep some headroom, not the original
CLIP_LIMITS = MediaLimits(max_bytes=200 * 1024 * 1024, max_duration_s=120.0, max_sampled_frames=64)
CLIP_FPS, CLIP_MAX_FRAMES = 1.0, 24
MAX_AUDIO_SECONDS = 600


class ReferenceRejected(ValueError):
    """``code`` is stable (``reference.too_large``, ``reference.unsupported_type``, ...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class CleanImage:
    pixels: U8  # RGB or RGBA
    png: bytes  # what is stored: no metadata
    sha256: str  # of the stored PNG
    meta: dict[str, Any]


def clean_image(data: bytes, limits: ImageLimits = DEFAULT_IMAGE_LIMITS) -> CleanImage:
    """Validate an uploaded image and return it re-encoded without metadata.

    Raises :class:`ReferenceRejected` for bad images and :class:`~safety.media.budget.DecodeBusy`
    when the decode budget stays full (retry later).
    """
    if len(data) == 0:
        raise ReferenceRejected("reference.empty", "The image is empty")
    if len(data) > MAX_IMAGE_BYTES:
        raise ReferenceRejected("reference.too_large", f"Images may be at most {MAX_IMAGE_BYTES} bytes")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            img: Image.Image = Image.open(io.BytesIO(data))
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ReferenceRejected(
                "reference.too_many_pixels", "The image declares too many pixels"
            ) from exc
        except Exception as exc:
            raise ReferenceRejected("reference.unsupported_type", "Not a PNG, JPEG or WebP image") from exc
        if img.format not in IMAGE_FORMATS:
            raise ReferenceRejected(
                "reference.unsupported_type", f"{img.format or 'unknown'} images are not accepted"
            )
        w, h = img.size
        if w > MAX_IMAGE_SIDE or h > MAX_IMAGE_SIDE or w * h > limits.max_pixels:
            raise ReferenceRejected(
                "reference.too_many_pixels",
                f"{w}x{h} exceeds {MAX_IMAGE_SIDE} px a side or {limits.max_pixels / 1e6:g} MP",
            )
        if min(w, h) < MIN_IMAGE_SIDE:
            raise ReferenceRejected("reference.too_small", f"{w}x{h}: each side needs {MIN_IMAGE_SIDE} px")
        if getattr(img, "n_frames", 1) > 1:
            raise ReferenceRejected("reference.animated", "Animated images are not accepted; send a clip")
        if img.format == "JPEG":  # DCT scaling: decode at >= the stored size, not the full size
            img.draft("RGB", (STORED_MAX_SIDE, STORED_MAX_SIDE))
        dw, dh = img.size
        with limits.budget.reserve(_decode_bytes(dw, dh), limits.wait_s):
            return _finish(img)


def _decode_bytes(w: int, h: int) -> int:
    """Pillow holds colour pixels in 4 bytes; ``_finish`` shrinks before converting, so at most a
    reduced copy (or, for palette images, one RGBA conversion) comes on top: ~6 bytes a pixel."""
    return w * h * 6


def _finish(img: Image.Image) -> CleanImage:
    try:
        img.load()
        ImageOps.exif_transpose(img, in_place=True)
    except Exception as exc:
        raise ReferenceRejected("reference.corrupt", "The image does not decode") from exc
    had_metadata = bool(img.info.get("exif") or img.info.get("xmp") or img.info.get("icc_profile")) or any(
        k in img.info for k in ("XML:com.adobe.xmp", "Description", "Comment", "comment", "parameters")
    )
    mode = "RGBA" if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info else "RGB"
    if img.mode not in ("P", "1"):  # shrink first: the conversion then copies 1 MP, not the upload
        img.thumbnail((STORED_MAX_SIDE, STORED_MAX_SIDE), Image.Resampling.LANCZOS)
    img = img.convert(mode)
    img.thumbnail((STORED_MAX_SIDE, STORED_MAX_SIDE), Image.Resampling.LANCZOS)
    # A brand-new image from the pixels alone: nothing of the upload's chunks can ride along.
    fresh = Image.frombytes(mode, img.size, img.tobytes())
    out = io.BytesIO()
    fresh.save(out, format="PNG", optimize=False)
    png = out.getvalue()
    return CleanImage(
        pixels=np.asarray(fresh, dtype=np.uint8),
        png=png,
        sha256=hashlib.sha256(png).hexdigest(),
        meta={"width": fresh.width, "height": fresh.height, "mode": mode, "metadata_stripped": had_metadata},
    )


@dataclass(frozen=True)
class CleanClip:
    path: Path  # re-muxed, no metadata
    frames: list[U8]
    times: list[float]
    sha256: str
    meta: dict[str, Any]


def clean_clip(source: Path, workdir: Path) -> CleanClip:
    """Probe and sample a reference clip, and write a metadata-free copy for the asset store."""
    try:
        info = probe(source, CLIP_LIMITS)
        batch = sample_frames(info, fps=CLIP_FPS, scene_threshold=0.3, max_side=512, limits=CLIP_LIMITS)
    except MediaRejected as exc:
        raise ReferenceRejected(f"reference.{exc.code.removeprefix('media.')}", exc.detail) from exc
    frames = [np.ascontiguousarray(f) for f in batch.frames][:CLIP_MAX_FRAMES]
    times = list(batch.timestamps)[:CLIP_MAX_FRAMES]
    if not frames:
        raise ReferenceRejected("reference.no_frames", "No frame of the clip decodes")
    out = workdir / "clip.mp4"
    _ffmpeg([*tools.file_input(source, tools.VIDEO_DEMUXERS), "-map", "0:v:0", "-map", "0:a:0?", "-c", "copy",
             "-map_metadata", "-1", "-map_chapters", "-1", "-fflags", "+bitexact", "-movflags", "+faststart",
             tools.output(out)])  # fmt: skip
    meta = {"duration_s": info.duration_s, "width": info.display_width, "height": info.display_height,
            "frames_indexed": len(frames)}  # fmt: skip
    return CleanClip(out, frames, times, _sha256(out), meta)


@dataclass(frozen=True)
class CleanAudio:
    path: Path  # mono FLAC, no metadata
    fingerprint: npt.NDArray[np.uint32]
    sha256: str
    meta: dict[str, Any]


def clean_audio(source: Path, workdir: Path) -> CleanAudio:
    """Fingerprint a reference track and keep a metadata-free FLAC of it.

    The track is read as one local file in an audio container (``tools.AUDIO_DEMUXERS``): a
    playlist or concat list dressed as ``.mp3`` is refused unread, so it can neither copy another
    file into the store nor tell whether a path exists.
    """
    out = workdir / "audio.flac"
    try:
        _ffmpeg([*tools.file_input(source, tools.AUDIO_DEMUXERS), "-map", "0:a:0", "-vn", "-ac", "1",
                 "-ar", "22050", "-t", str(MAX_AUDIO_SECONDS), "-map_metadata", "-1", "-c:a", "flac",
                 tools.output(out)])  # fmt: skip
    except ReferenceRejected as exc:
        if exc.code == "reference.timeout":
            raise
        raise ReferenceRejected("reference.no_audio", "No audio stream decodes") from exc
    items = fingerprint(out, MAX_AUDIO_SECONDS, demuxers=("flac",))
    if len(items) < 16:
        raise ReferenceRejected("reference.audio_too_short", "The track is too short to fingerprint")
    seconds = len(items) * 4096 / 3 / 11025
    return CleanAudio(out, items, _sha256(out), {"seconds": round(seconds, 1), "items": len(items)})


def _ffmpeg(args: list[str]) -> None:
    cmd = tools.ffmpeg("-v", "error", "-y", *args)
    try:
        proc = tools.run(cmd, timeout_s=120)
    except tools.TimeoutExpired as exc:
        raise ReferenceRejected("reference.timeout", "Processing the reference took too long") from exc
    if proc.returncode != 0:  # ffmpeg's own words are not echoed: they may name other files
        if b"not on whitelist" in proc.stderr or b"Invalid data found" in proc.stderr:
            raise ReferenceRejected("reference.unsupported_type", "Not a file in a supported container")
        raise ReferenceRejected("reference.corrupt", "The file cannot be read as a reference")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def png_bytes(pixels: U8) -> bytes:
    mode = "RGBA" if pixels.shape[2] == 4 else "RGB"
    out = io.BytesIO()
    Image.fromarray(pixels, mode).save(out, format="PNG")
    return out.getvalue()


def read_png(path: Path) -> U8:
    with Image.open(path) as img:
        img.load()
        mode = "RGBA" if img.mode == "RGBA" else "RGB"
        return np.asarray(img.convert(mode), dtype=np.uint8)

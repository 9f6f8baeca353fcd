"""Cameo enrolment recordings (POST /v1/cameos) as hostile uploads: wrong declared types, wrong
content behind a right type, too big, too long, decompression bombs, no face, hostile file names
and URIs. Each is refused with a stable problem type, and nothing of any recording (accepted or
not) is kept: not on disk, not in the database; only face vectors are.
"""

from __future__ import annotations

import struct
import subprocess
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fgapi import Api
from sqlalchemy import func, select, text

from safety.likeness.models import Cameo, CameoEmbedding
from safety.likeness.samples import portraits, verification_video
from safety.media import samples

LiveApi = Callable[..., Api]  # the live_api fixture (conftest)
PROBLEM = "application/problem+json"
FFMPEG = ["ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-y"]


def _big_png(size: int) -> bytes:
    """A black size x size RGB PNG, compressed by repeating one full-flushed zlib block."""
    row = b"\x00" * (1 + 3 * size)
    per = (1 << 20) // len(row)
    blocks, rest = divmod(size, per)
    comp = zlib.compressobj(9)
    first = comp.compress(row * per) + comp.flush(zlib.Z_FULL_FLUSH)
    again = comp.compress(row * per) + comp.flush(zlib.Z_FULL_FLUSH)
    adler = 1
    for _ in range(blocks):
        adler = zlib.adler32(row * per, adler)
    tail = comp.compress(row * rest) + comp.flush()
    adler = zlib.adler32(row * rest, adler)
    idat = first + again * (blocks - 1) + tail[:-4] + struct.pack(">I", adler)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("cameo_media")

    def ff(*args: str) -> None:
        subprocess.run([*FFMPEG, *args], check=True, capture_output=True, timeout=60)

    out = {
        "face": verification_video(root / "face.mp4", portraits()["astronaut"]),
        "no-face": samples.make_video(root / "no-face.mp4", duration_s=2.0, width=160, height=90),
        "audio": samples.make_audio_only(root / "audio.mp4", duration_s=1.0),
        "text": samples.make_not_video(root / "text.mp4"),
    }
    ff("-f", "lavfi", "-i", "testsrc2=s=64x36", "-frames:v", "1", "-f", "image2", str(root / "still.png"))
    out["png"] = root / "still.png"
    too_long = root / "too-long.mp4"
    ff(
        "-f",
        "lavfi",
        "-i",
        "color=c=gray:s=16x16:r=1",
        "-t",
        "40",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        str(too_long),
    )
    out["too-long"] = too_long
    bomb = root / "bomb"
    bomb.mkdir()
    ff("-f", "lavfi", "-i", "color=c=gray:s=16x16", "-frames:v", "1", str(bomb / "f00.png"))
    big = _big_png(16000)
    for i in (1, 2):
        (bomb / f"f{i:02d}.png").write_bytes(big)
    ff("-f", "image2", "-framerate", "2", "-i", str(bomb / "f%02d.png"), "-c", "copy", str(root / "bomb.mkv"))
    out["bomb"] = root / "bomb.mkv"
    return out


@pytest.fixture
def cameo_api(live_api: LiveApi, media: dict[str, Path]) -> Iterator[Api]:
    yield live_api(media_root=media["face"].parent, api_max_upload_bytes=2 * 1024 * 1024)


def _no_trace_of(api: Api, *payloads: bytes) -> None:
    """Nothing of the recordings is left: no temporary file, no file anywhere in the data
    directory holding their bytes, no database column holding them."""
    leftovers = [p for p in (api.settings.data_dir / "tmp").rglob("*") if p.is_file()]
    assert not leftovers, leftovers
    probes = [p[len(p) // 2 : len(p) // 2 + 64] for p in payloads if len(p) >= 256]
    for path in api.settings.data_dir.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not any(probe in data for probe in probes), f"{path} holds a recording's bytes"
    with api.db.session() as s:
        big = s.execute(
            text(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = 'public' AND data_type = 'bytea'"
            )
        ).all()
        for table, column in big:
            size = s.scalar(text(f'SELECT coalesce(max(octet_length("{column}")), 0) FROM "{table}"'))
            assert (size or 0) < 64 * 1024, f"{table}.{column} holds {size} bytes"


def _upload(
    path: Path, kind: str = "video/mp4", name: str | None = None
) -> dict[str, tuple[str, bytes, str]]:
    return {"file": (name or path.name, path.read_bytes(), kind)}


CONTENT_CASES = [
    ("face", "text/plain", 415, "unsupported-media-type"),
    ("face", "image/png", 415, "unsupported-media-type"),
    ("face", "application/x-sh", 415, "unsupported-media-type"),
    ("png", "video/mp4", 422, "media.no_video"),  # a still image dressed as a video
    ("text", "video/mp4", 422, "media.corrupt"),
    ("audio", "video/mp4", 422, "media.no_video"),
    ("too-long", "video/mp4", 422, "media.too_long"),  # recordings are at most 30 s
    ("bomb", "video/x-matroska", 422, "media.resolution_too_high"),  # 16000x16000 frames
    ("no-face", "video/mp4", 422, "enrol.no_face"),
]


def test_recordings_are_validated_by_type_and_content(cameo_api: Api, media: dict[str, Path]) -> None:
    creator = cameo_api.client(cameo_api.user("creator", creator_id="cam-owner", age_band="adult"))
    wrong = {}
    for clip, kind, status, problem in CONTENT_CASES:
        r = creator.post("/v1/cameos", files=_upload(media[clip], kind), data={"age_band": "adult"})
        ok = r.status_code == status and r.headers["content-type"] == PROBLEM
        if not (ok and r.json()["type"].endswith("/" + problem)):
            wrong[(clip, kind)] = (r.status_code, r.text[:200])
    assert not wrong, wrong
    with cameo_api.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Cameo)) == 0
    _no_trace_of(cameo_api, *(media[clip].read_bytes() for clip, *_ in CONTENT_CASES))


def test_empty_and_oversized_recordings(cameo_api: Api, media: dict[str, Path]) -> None:
    creator = cameo_api.client(cameo_api.user("creator", creator_id="cam-owner", age_band="adult"))
    empty = creator.post(
        "/v1/cameos", files={"file": ("e.mp4", b"", "video/mp4")}, data={"age_band": "adult"}
    )
    assert empty.status_code == 422 and empty.json()["type"].endswith("/media.empty"), empty.text
    big = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * (3 * 1024 * 1024)
    over = creator.post(
        "/v1/cameos", files={"file": ("big.mp4", big, "video/mp4")}, data={"age_band": "adult"}
    )
    assert over.status_code == 413 and over.json()["type"].endswith("/payload-too-large"), over.text
    _no_trace_of(cameo_api, big)


def test_an_accepted_recording_leaves_only_vectors(cameo_api: Api, media: dict[str, Path]) -> None:
    creator = cameo_api.client(cameo_api.user("creator", creator_id="cam-owner", age_band="adult"))
    hostile_name = "../../../../tmp/feedguard-pwned.mp4"
    r = creator.post(  # (type parameters are ignored: the type is what counts)
        "/v1/cameos",
        files=_upload(media["face"], "video/mp4; x=../../etc", name=hostile_name),
        data={"age_band": "adult"},
    )
    assert r.status_code == 201, r.text
    assert not Path("/tmp/feedguard-pwned.mp4").exists()  # the client's file name is never a path
    with cameo_api.db.session() as s:
        vectors = s.scalar(select(func.count()).select_from(CameoEmbedding))
        assert vectors == r.json()["vectors"] >= 5
    _no_trace_of(cameo_api, media["face"].read_bytes())


URI_CASES = [
    ("file:///etc/passwd", "uri.outside_media_roots"),
    ("file:///proc/self/environ", "uri.outside_media_roots"),
    ("{root}/../../etc/passwd", "uri.outside_media_roots"),
    ("http://169.254.169.254/latest/meta-data/", "uri.host_not_allowed"),
    ("gopher://127.0.0.1:25/_HELO", "uri.scheme_not_allowed"),
    ("{root}/text.mp4", "media.corrupt"),
]


def test_recording_uris_are_checked_like_event_uris(cameo_api: Api, media: dict[str, Path]) -> None:
    platform = cameo_api.client(cameo_api.user("platform"))
    wrong = {}
    for uri, problem in URI_CASES:
        target = uri.replace("{root}", media["face"].parent.as_uri())
        r = platform.post("/v1/cameos", data={"uri": target, "owner_id": "someone", "age_band": "adult"})
        if r.status_code != 422 or not r.json()["type"].endswith("/" + problem):
            wrong[uri] = (r.status_code, r.text[:200])
    assert not wrong, wrong
    _no_trace_of(cameo_api)


def test_exactly_one_source(cameo_api: Api, media: dict[str, Path]) -> None:
    platform = cameo_api.client(cameo_api.user("platform"))
    both = platform.post(
        "/v1/cameos",
        files=_upload(media["face"]),
        data={"uri": media["face"].as_uri(), "owner_id": "x", "age_band": "adult"},
    )
    assert both.status_code == 422 and both.json()["type"].endswith("/media-required")
    neither = platform.post("/v1/cameos", data={"owner_id": "x", "age_band": "adult"})
    assert neither.status_code == 422 and neither.json()["type"].endswith("/media-required")

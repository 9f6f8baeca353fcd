"""Rights fixtures: drawn character media (PNG, H.264 scenes with and without it, a theme tune),
a live API on a fresh PostgreSQL database, and a rights holder whose organisation is verified."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from fgapi import Api, api_settings, serve
from fgrights import Rights

from safety.rights.samples import character_png, character_video
from safety.store import Database

THEME = (440, 660, 550, 880, 330, 495, 740, 392, 587, 440, 784, 523, 659, 349, 698, 466, 932, 415)


@pytest.fixture(scope="session")
def rights_media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("rights_media")
    videos = root / "videos"
    videos.mkdir()
    theme = root / "theme.wav"
    args: list[str] = []
    for f in THEME:
        args += ["-f", "lavfi", "-i", f"sine=frequency={f}:duration=0.4:sample_rate=22050"]
    chain = "".join(f"[{i}:a]" for i in range(len(THEME))) + f"concat=n={len(THEME)}:v=0:a=1[a]"
    cmd = ["ffmpeg", "-y", "-v", "error", *args, "-filter_complex", chain, "-map", "[a]", str(theme)]
    subprocess.run(cmd, check=True)
    plain = character_video(videos / "plain.mp4", None, duration_s=8.0)
    with_theme = videos / "theme.mp4"
    noise = "anoisesrc=color=white:amplitude=0.02:duration=8"
    mix = "[2:a]adelay=2000|2000[t];[1:a][t]amix=inputs=2:duration=first[a]"
    cmd = [
        "ffmpeg",
        "-y",
        "-v",
        "error",
        "-i",
        str(plain),
        "-f",
        "lavfi",
        "-i",
        noise,
        "-i",
        str(theme),
        "-filter_complex",
        mix,
        "-map",
        "0:v",
        "-map",
        "[a]",
        "-c:v",
        "copy",
        "-c:a",
        "aac",
        str(with_theme),
    ]
    subprocess.run(cmd, check=True)
    return {
        "png": character_png(root / "pip.png"),
        "videos": videos,
        "with": character_video(videos / "with.mp4", "pip"),
        "with2": character_video(videos / "with2.mp4", "pip", seed=3, scale=0.4),
        "without": character_video(videos / "without.mp4", None),
        "theme": theme,
        "with_theme": with_theme,
    }


@pytest.fixture
def rights(tmp_path: Path, pg_url: str, rights_media: dict[str, Path]) -> Iterator[Rights]:
    settings = api_settings(tmp_path, pg_url, rights_media["videos"], "127.0.0.1:1", api_relay_outbox=False)
    for url in serve(settings):
        db = Database(pg_url)
        api = Api(url, settings, db)
        admin = api.client(api.user("admin"))
        org = admin.post("/v1/organisations", json={"id": "acme", "name": "Acme Studios"})
        assert org.status_code == 201, org.text
        assert admin.post("/v1/organisations/acme/verify").status_code == 200
        holder = api.client(api.user("rights_holder", organisation_id="acme"))
        r = Rights(api, admin, holder, rights_media)
        try:
            yield r
        finally:
            r.close()
            db.dispose()


@pytest.fixture
def other_holder(rights: Rights) -> Callable[[str], httpx.Client]:
    def make(org: str) -> httpx.Client:
        return rights.api.client(rights.api.user("rights_holder", organisation_id=org))

    return make

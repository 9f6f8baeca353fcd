"""Upload limits have one owner (issue 13): ``api_max_upload_bytes``, default from
``policies.vocabulary``. Raising the setting lifts every upload cap; the cameo route used to keep
its own 64 MiB constant, so a larger setting still refused a 65 MiB recording.
"""

from __future__ import annotations

from collections.abc import Callable

from fgapi import Api

from policies.vocabulary import API_MAX_UPLOAD_BYTES, REFERENCE_IMAGE_MAX_BYTES, MiB
from safety.api.routers.rights import _upload_cap
from safety.config import Settings

LiveApi = Callable[..., Api]  # the live_api fixture (conftest)
NOT_A_VIDEO = b"\x00\x00\x00\x18ftypmp42"  # an MP4 header, then zeros: ffprobe refuses it (422)


def _post(live_api: LiveApi, limit: int, size: int) -> tuple[int, str]:
    api = live_api(api_max_upload_bytes=limit, api_rate_per_minute=1_000_000)
    creator = api.client(api.user("creator", creator_id="cam-owner", age_band="adult"))
    body = NOT_A_VIDEO + b"\x00" * (size - len(NOT_A_VIDEO))
    r = creator.post("/v1/cameos", files={"file": ("r.mp4", body, "video/mp4")}, data={"age_band": "adult"})
    return r.status_code, r.json().get("type", "")


def test_raising_the_upload_setting_lifts_the_cameo_cap(live_api: LiveApi) -> None:
    assert Settings().api_max_upload_bytes == API_MAX_UPLOAD_BYTES == 64 * MiB
    status, kind = _post(live_api, 70 * MiB, 65 * MiB)
    assert status == 422 and not kind.endswith("/payload-too-large"), (status, kind)


def test_lowering_the_upload_setting_lowers_the_cameo_cap(live_api: LiveApi) -> None:
    status, kind = _post(live_api, 1 * MiB, 2 * MiB)
    assert status == 413 and kind.endswith("/payload-too-large"), (status, kind)


def test_rights_uploads_follow_the_setting_and_images_keep_their_decoder_cap() -> None:
    assert _upload_cap(200 * MiB, "clip") == _upload_cap(200 * MiB, "audio") == 200 * MiB
    assert _upload_cap(200 * MiB, "image") == REFERENCE_IMAGE_MAX_BYTES
    assert _upload_cap(1 * MiB, "image") == 1 * MiB

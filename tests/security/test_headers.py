"""Issue #14, headers and assets: a CSP without inline script, no framing, no CDN for /docs, and
stored XSS in moderator-facing fields still inert. Live server; Chromium via Playwright."""

from __future__ import annotations

import functools
import http.server
import re
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fgapi import Api

from safety.accounts import create_user
from safety.store import Report, ReviewItem, Video
from streams import free_port

LiveApi = Callable[..., Api]  # the live_api fixture (conftest)

PASSWORD = "a long moderator password"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
XSS = (
    '<script>window.__xss="script"</script><img src=x onerror="window.__xss=\'img\'">'
    "\"'><svg onload=window.__xss=1>"
)


@pytest.fixture
def browser():  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def ui_api(live_api: LiveApi) -> Api:
    api = live_api(api_rate_per_minute=1_000_000)
    with api.db.session() as s:
        create_user(s, "hdr-mod", "moderator", password=PASSWORD)
    return api


def _csp(headers: httpx.Headers) -> dict[str, str]:
    return {
        part.split(" ", 1)[0]: part.split(" ", 1)[1] if " " in part else ""
        for part in (p.strip() for p in headers["content-security-policy"].split(";"))
        if part
    }


def test_every_kind_of_response_carries_the_headers(ui_api: Api) -> None:
    c = httpx.Client(base_url=ui_api.url)
    responses = {
        "login page": c.get("/ui/login"),
        "401": c.get("/v1/me"),
        "404": c.get("/v1/nope"),
        "docs": c.get("/docs"),
        "static": c.get("/ui/static/app.js"),
        "public": c.get("/v1/provenance/watermarks/0123456789abcdef"),
    }
    for name, r in responses.items():
        csp = _csp(r.headers)
        assert csp["frame-ancestors"] == "'none'" and csp["script-src"] == "'self'", (name, csp)
        assert "unsafe-inline" not in csp["script-src"] and "unsafe-eval" not in csp.get("script-src", "")
        assert csp["object-src"] == "'none'" and csp["base-uri"] == "'none'", name
        assert r.headers["x-frame-options"] == "DENY", name
        assert r.headers["x-content-type-options"] == "nosniff", name
        assert r.headers["referrer-policy"] == "same-origin", name
    assert responses["login page"].headers["cache-control"] == "no-store"
    assert responses["401"].headers["cache-control"] == "no-store"


def test_docs_come_from_the_installed_package_not_a_cdn(ui_api: Api, browser) -> None:  # type: ignore[no-untyped-def]
    html = httpx.get(f"{ui_api.url}/docs").text
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources and all(s.startswith("/") for s in sources), sources
    assert "<script>" not in html.replace("<script src", "")  # no inline script
    for s in sources:
        assert httpx.get(f"{ui_api.url}{s}").status_code == 200, s
    assert httpx.get(f"{ui_api.url}/redoc").status_code == 404  # (its page loads a CDN bundle)

    page = browser.new_page()
    requests: list[str] = []
    violations: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(f"{ui_api.url}/docs")
    page.wait_for_selector(".opblock", timeout=30_000)
    assert page.locator(".opblock").count() >= 30
    foreign = [u for u in requests if not u.startswith((ui_api.url, "data:", "blob:"))]
    assert not foreign and not violations, (foreign, violations)


def _stored_xss(api: Api) -> str:
    """XSS payloads in the fields moderators see: prompt, reasons, report note, creator id."""
    now = datetime.now(UTC)
    with api.db.session() as s:
        s.add(
            Video(
                video_id="xss-video", creator_id=f"creator{XSS}", creator_age_band="adult",
                prompt=f"prompt {XSS}",
                uri="file:///media/v.mp4", cameos=[], remix_of=None, created_at=now, event={}, state="held",
            )
        )  # fmt: skip
        s.flush()
        item_id = str(uuid.uuid4())
        s.add(
            ReviewItem(
                id=item_id, video_id="xss-video", kind="report", status="open", priority=3000,
                reasons=[f"report.other{XSS}"], creator_age_band="adult",
            )
        )  # fmt: skip
        s.flush()
        s.add(
            Report(
                id=str(uuid.uuid4()), video_id="xss-video", reporter_id=f"r{XSS}", reason="other",
                details=f"note {XSS}", item_id=item_id,
            )
        )  # fmt: skip
    return item_id


def _login(page: Any, api: Api) -> None:
    page.goto(f"{api.url}/ui/login")
    page.fill("input[name=username]", "hdr-mod")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{api.url}/ui/")


def test_csp_blocks_inline_script_and_stored_xss_stays_inert(ui_api: Api, browser) -> None:  # type: ignore[no-untyped-def]
    item_id = _stored_xss(ui_api)
    page = browser.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    _login(page, ui_api)
    for path in ("/ui/", "/ui/?kind=report", f"/ui/items/{item_id}", "/ui/appeals"):
        page.goto(f"{ui_api.url}{path}")
        assert page.evaluate("window.__xss") is None, path
    page.goto(f"{ui_api.url}/ui/items/{item_id}")
    assert "<script>" in page.locator("body").inner_text() or "onerror" in page.content()  # shown as text

    # Even markup that got into the page could not run: inline handlers and scripts are refused.
    page.evaluate(
        """() => {
        window.__violations = 0;
        document.addEventListener('securitypolicyviolation', () => window.__violations++);
        document.body.insertAdjacentHTML('beforeend', '<img src="data:," onload="window.__csp=1">');
        const s = document.createElement('script'); s.textContent = 'window.__csp = 2';
        document.body.appendChild(s);
    }"""
    )
    page.wait_for_function("window.__violations >= 2", timeout=5_000)
    assert page.evaluate("window.__csp") is None
    assert not dialogs


def test_the_page_works_with_all_script_from_static_files(ui_api: Api, browser) -> None:  # type: ignore[no-untyped-def]
    _stored_xss(ui_api)
    page = browser.new_page()
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    _login(page, ui_api)
    page.keyboard.press("j")  # app.js: keyboard navigation
    assert page.locator("table.queue tbody tr.selected").count() == 1
    page.keyboard.press("Enter")
    page.wait_for_url("**/ui/items/*")
    with page.expect_navigation():
        page.uncheck("#blur-pref")  # app.js: saves the setting with fetch (a same-origin PATCH), reloads
    assert not page.locator("#blur-pref").is_checked()
    assert not violations, violations


@pytest.fixture
def other_origin(tmp_path: Path) -> Iterator[str]:
    """A page on another local port (another origin, same site) that frames the review page."""
    port = free_port()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    thread.join(5)


def test_a_cross_origin_frame_is_refused(ui_api: Api, browser, other_origin: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "frame.html").write_text(
        f'<iframe id="f" src="{ui_api.url}/ui/" width=800 height=600></iframe>'
    )
    context = browser.new_context()
    page = context.new_page()
    _login(page, ui_api)  # the session cookie is SameSite=Strict, but another port is the same site
    page.goto(f"{other_origin}/frame.html")
    page.wait_for_timeout(1500)
    (frame,) = [f for f in page.frames if f != page.main_frame]
    try:
        text = frame.evaluate("document.body ? document.body.innerText : ''")
    except Exception:
        text = ""
    assert "Queue" not in text and "hdr-mod" not in text, text[:300]
    assert not frame.url.startswith(ui_api.url) or text == "", frame.url
    context.close()

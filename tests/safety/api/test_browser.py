"""The moderator web page in a real browser (Debian chromium driven by Playwright)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from fgapi import Api
from fgtest import read_topics

from safety.accounts import create_user, issue_key
from streams.topics import FEED_PUBLISH

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def browser():  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed: apt-get install -y chromium (scripts/install --test does it)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


# (wait_for_function takes functions, not expressions: the page's CSP refuses string eval.)
def test_moderator_logs_in_sees_evidence_approves_and_it_reaches_kafka(
    api_kafka: Api,
    videos: dict[str, Path],
    broker: str,
    browser,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    api = api_kafka
    item_id = api.held_video(
        "ui-held", videos["bars"].resolve().as_uri(), "a knight vlog where i want to hurt myself"
    )
    api.held_video("ui-other", videos["plain"].resolve().as_uri(), "a rally shouting white power")
    with api.db.session() as s:
        u = create_user(s, "maria", "moderator", password="a long moderator password")
        issue_key(s, u)

    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{api.url}/ui/")
    assert page.url.endswith("/ui/login")
    page.fill("input[name=username]", "maria")
    page.fill("input[name=password]", "wrong password!")
    page.click("button[type=submit]")
    assert "Wrong user name or password" in page.content()
    page.fill("input[name=username]", "maria")
    page.fill("input[name=password]", "a long moderator password")
    page.click("button[type=submit]")
    page.wait_for_url(f"{api.url}/ui/")
    rows = page.locator("table.queue tbody tr")
    assert rows.count() == 2
    assert "ui-held" in rows.nth(0).inner_text() and "urgent" in rows.nth(0).inner_text()

    # Keyboard: j selects the first row, Enter opens it.
    page.keyboard.press("j")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{api.url}/ui/items/{item_id}")
    assert page.locator(".trace").inner_text().count("hold.self_harm") == 1
    assert "prompt.self_harm" in page.locator("table.signals").inner_text()
    frames = page.locator("#filmstrip .frame img")
    assert frames.count() >= 2
    page.wait_for_function(
        "() => [...document.querySelectorAll('#filmstrip img')].every(i => i.complete && i.naturalWidth)"
    )
    # Wellness: self-harm signals blur the frames until clicked.
    first = page.locator("#filmstrip .frame").first
    assert "blur" in first.locator("img").evaluate("e => getComputedStyle(e).filter")
    first.click()
    page.wait_for_function(
        "() => getComputedStyle(document.querySelector('#filmstrip .frame img')).filter === 'none'"
    )
    assert "revealed" in (first.get_attribute("class") or "")
    # FEEDGUARD_SCREENSHOT_DIR=docs refreshes the README's image; by default nothing tracked is touched.
    shots = Path(os.environ.get("FEEDGUARD_SCREENSHOT_DIR", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / "review-item.png"), full_page=True)
    assert (shots / "review-item.png").stat().st_size > 10_000

    page.select_option("#audience", "13+")
    page.keyboard.press("a")  # approve
    page.wait_for_selector("#status.ok")
    assert "approve" in page.locator("#status").inner_text()

    (msg,) = read_topics(broker, [FEED_PUBLISH], until=1)
    assert msg.key == "ui-held" and msg.value["audience"] == "13+" and "reviewed" in msg.value["labels"]

    page.keyboard.press("n")  # next item
    page.wait_for_url("**/ui/items/*")
    assert "ui-other" in page.locator("h1").inner_text()

    # The per-user wellness setting turns blurring off.
    with page.expect_navigation():
        page.uncheck("#blur-pref")  # saves the setting, then reloads
    page.goto(f"{api.url}/ui/items/{item_id}")
    assert page.locator("#filmstrip.blurred").count() == 0

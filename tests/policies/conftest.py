"""One build of the feed-prompt set per test process: each build reads every seed file and checks every
training caption against the held-out ones (~18 s), and the split tests only read the rows."""

from __future__ import annotations

from typing import Any

import pytest

from scripts.build_feed_prompts import build


@pytest.fixture(scope="session")
def feed_rows() -> list[dict[str, Any]]:
    return build()

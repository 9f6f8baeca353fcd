"""The shared vocabulary has one owner (issue 13): ``policies.vocabulary``."""

from __future__ import annotations

import re
from pathlib import Path

from policies import KNOWN_FACTS, Priority
from policies.vocabulary import PRIORITY_RANK, Fact, priority_rank
from safety.review.queue import LEVELS, priority_level, priority_value

ROOT = Path(__file__).resolve().parents[2]
OWNER = ROOT / "policies" / "vocabulary.py"


def _sources() -> list[Path]:
    return [p for pkg in ("safety", "classifiers", "policies", "streams") for p in (ROOT / pkg).rglob("*.py")]


def test_priorities_rank_in_one_order_everywhere() -> None:
    assert list(PRIORITY_RANK) == ["low", "normal", "high", "urgent"]
    assert [p.rank for p in Priority] == [0, 1, 2, 3]
    assert LEVELS is PRIORITY_RANK and priority_rank(None) == priority_rank("normal") == 1
    assert [priority_level(priority_value(p.value)) for p in Priority] == [p.value for p in Priority]


def test_fact_names_are_spelled_only_in_the_vocabulary() -> None:
    assert {f.value for f in Fact} == KNOWN_FACTS
    spelled = re.compile("|".join(rf"[\"']{re.escape(f.value)}[\"']" for f in Fact if "." in f.value))
    found = [f"{p.relative_to(ROOT)}:{m.group()}" for p in _sources() if p != OWNER
             for m in spelled.finditer(p.read_text())]  # fmt: skip
    assert found == []


def test_priority_rank_tables_and_upload_caps_are_not_redefined() -> None:
    patterns = [
        re.compile(r"[\"']low[\"']\s*:\s*0"),  # a priority rank table
        re.compile(r"\b64\s*\*\s*1024\s*\*\s*1024\b"),  # the upload cap
    ]
    found = [f"{p.relative_to(ROOT)}:{m.group()}" for p in _sources() if p != OWNER
             for rx in patterns for m in rx.finditer(p.read_text())]  # fmt: skip
    assert found == []

"""The migrations and the models describe the same schema (issue 13).

``alembic revision --autogenerate`` must find nothing to do: no table Alembic cannot see (it would
propose dropping it), no column, index, type or server default the migrations disagree on. The
check runs in a fresh process, so it sees only the tables the migrations' env.py imports.
"""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import safety
from safety.store import Database
from safety.store.schema import metadata

ROOT = Path(__file__).resolve().parents[2]
CHECK = "import sys; from safety.store import Database; d = Database(sys.argv[1]); print(d.schema_diff())"


def _diff_after_upgrade(url: str) -> str:
    db = Database(url)
    try:
        assert db.upgrade() is True
    finally:
        db.dispose()
    done = subprocess.run(
        [sys.executable, "-c", CHECK, url], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]  # alembic also prints "No new upgrade operations..."


def test_autogenerate_finds_no_difference_on_postgresql(pg_url: str) -> None:
    assert _diff_after_upgrade(pg_url) == "[]"


def test_autogenerate_finds_no_difference_on_sqlite(tmp_path: Path) -> None:
    assert _diff_after_upgrade(f"sqlite:///{tmp_path / 't.db'}") == "[]"


def test_the_diff_sees_a_missing_table(pg_url: str) -> None:
    """The check can fail: a table the migrations never made is reported."""
    from sqlalchemy import text

    db = Database(pg_url)
    try:
        db.upgrade()
        with db.engine.begin() as conn:
            conn.execute(text("DROP TABLE provenance_records"))
        assert any("provenance_records" in str(d) for d in db.schema_diff())
    finally:
        db.dispose()


def test_the_schema_module_alone_sees_every_table() -> None:
    """Every module of ``safety`` that declares tables is imported by ``safety.store.schema``."""
    for info in pkgutil.walk_packages(safety.__path__, "safety."):
        if not info.name.startswith("safety.store.migrations") and info.name != "safety.__main__":
            importlib.import_module(info.name)
    everything = sorted(metadata.tables)
    alone = subprocess.run(
        [sys.executable, "-c", "from safety.store.schema import metadata; print(sorted(metadata.tables))"],
        capture_output=True, text=True, check=True, cwd=ROOT,
    ).stdout.strip()  # fmt: skip
    assert alone == str(everything)
    assert len(everything) >= 26

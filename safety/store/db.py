"""Engine set-up and schema migrations (Alembic), shared by every command."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).parent / "migrations"
_PG_MIGRATION_LOCK = 0x6665656467  # "feedg": serialises concurrent upgrades from several workers


def _alembic_config(connection: Connection) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def make_engine(url: str) -> Engine:
    """Create an engine; SQLite gets WAL and foreign keys so it behaves like the real thing."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


class Database:
    """One engine and session factory; ``upgrade()`` brings the schema to head."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: commit on success, roll back on error."""
        with self.sessions() as s, s.begin():
            yield s

    def current_revisions(self) -> set[str]:
        with self.engine.connect() as conn:
            return set(MigrationContext.configure(conn).get_current_heads())

    def head_revisions(self) -> set[str]:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        return set(ScriptDirectory.from_config(cfg).get_heads())

    def current_revision(self) -> str | None:
        """The schema revision(s), comma-separated when independent branches are applied."""
        return ",".join(sorted(self.current_revisions())) or None

    def head_revision(self) -> str | None:
        return ",".join(sorted(self.head_revisions())) or None

    def upgrade(self) -> bool:
        """Apply pending migrations; returns whether anything ran. Safe to call from many workers."""
        heads = self.head_revisions()
        if self.current_revisions() == heads:
            return False
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
            if set(MigrationContext.configure(conn).get_current_heads()) == heads:
                return False
            command.upgrade(_alembic_config(conn), "heads")
        return True

    def dispose(self) -> None:
        self.engine.dispose()

"""Registry versions: one row per registry, bumped by ONE atomic statement, plus the change log.

``UPDATE ... SET version = version + 1 RETURNING version`` takes the row lock and reads the result
in the same statement, so two concurrent bumps serialise on the row and each gets its own number
(a read-modify-write through the ORM writes the same number twice on PostgreSQL). The rows are
created by the migrations; a missing row is an error, not something to create on the fly.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Table, select, update
from sqlalchemy.orm import Session

from safety.registry.models import RegistryChange
from safety.store.models import utcnow


@dataclass(frozen=True)
class RegistrySpec:
    """Where one registry keeps its version, and the decision columns that record it."""

    name: str
    table: str  # single-row table (id = 1, version)
    decision_version: str  # decisions column: the version the detector/gate read
    decision_checked: str  # decisions column: checked against every change up to this version

    def _table(self) -> Table:
        import safety.likeness.models
        import safety.rights.models  # noqa: F401 - both registries' tables are in the metadata
        from safety.store.models import Base

        return Base.metadata.tables[self.table]


LIKENESS = RegistrySpec("likeness", "likeness_registry", "likeness_version", "likeness_checked")
RIGHTS = RegistrySpec("rights", "rights_registry", "rights_version", "rights_checked")
SPECS = {s.name: s for s in (LIKENESS, RIGHTS)}


def bump(session: Session, spec: RegistrySpec) -> int:
    """The next version, atomically, in the caller's transaction (row-locked until it commits)."""
    t = spec._table()
    stmt = update(t).where(t.c.id == 1).values(version=t.c.version + 1)
    if "updated_at" in t.c:
        stmt = stmt.values(updated_at=utcnow())
    version = session.execute(stmt.returning(t.c.version)).scalar()
    if version is None:
        raise RuntimeError(f"{spec.table} has no row: run the migrations (feedguard db upgrade)")
    return int(version)


def head(session: Session, spec: RegistrySpec, *, share: bool = False) -> int:
    """The current version; ``share`` waits for an uncommitted bump and holds it off until commit,
    so a decision stored in this transaction is seen by the sweep of every later change."""
    t = spec._table()
    stmt = select(t.c.version).where(t.c.id == 1)
    return int(session.scalar(stmt.with_for_update(read=True) if share else stmt) or 0)


def record_change(
    session: Session, spec: RegistrySpec, kind: str, parties: Iterable[str], *, actor: str
) -> RegistryChange:
    """Bump the version and log what changed, for the reconciler (caller's transaction)."""
    version = bump(session, spec)
    change = RegistryChange(
        registry_name=spec.name, version=version, kind=kind, parties=sorted(set(parties)), actor=actor
    )
    session.add(change)
    session.flush()
    return change

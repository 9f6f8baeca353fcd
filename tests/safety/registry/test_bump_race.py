"""Concurrent version bumps on real PostgreSQL transactions never lose a version (issue 13).

Two transactions bump the same registry and commit in an interleaving where a read-modify-write
through the ORM would write the same number twice (1 -> 2 instead of 1 -> 3).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy.orm import Session

from safety.likeness import registry as likeness_registry
from safety.likeness.view import registry_version as likeness_version
from safety.rights import view as rights_view
from safety.store import Database


@pytest.fixture
def db(pg_url: str) -> Iterator[Database]:
    database = Database(pg_url)
    database.upgrade()
    yield database
    database.dispose()


def _race(db: Database, bump: Callable[[Session], object]) -> None:
    """Both transactions read before either writes; then they commit one after the other."""
    both_read = threading.Barrier(2)
    errors: list[BaseException] = []

    def one() -> None:
        try:
            with db.session() as s:
                s.connection()  # the transaction starts before the barrier
                both_read.wait(5)
                bump(s)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors


@pytest.mark.parametrize("rounds", [20])
def test_concurrent_rights_bumps_never_lose_a_version(db: Database, rounds: int) -> None:
    with db.session() as s:
        start = rights_view.registry_version(s)

    def bump(s: Session) -> None:
        rights_view.registry_version(s)  # what a change reads before it bumps (ORM identity map)
        rights_view.bump_version(s)

    for _ in range(rounds):
        _race(db, bump)
    with db.session() as s:
        assert rights_view.registry_version(s) == start + 2 * rounds


def test_concurrent_likeness_bumps_never_lose_a_version(db: Database) -> None:
    with db.session() as s:
        start = likeness_version(s)
    for _ in range(20):
        _race(db, likeness_registry.bump_version)
    with db.session() as s:
        assert likeness_version(s) == start + 40

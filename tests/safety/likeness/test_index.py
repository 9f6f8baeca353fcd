"""Exact and compressed indexes agree; every worker's view follows the registry within seconds."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from safety.likeness import registry
from safety.likeness.consent import CameoTerms
from safety.likeness.enrol import Enrolment
from safety.likeness.index import FaceIndex
from safety.likeness.models import Cameo
from safety.likeness.vectors import DEFAULT_THRESHOLDS, normalise
from safety.likeness.view import IndexView, registry_version
from safety.store import Database


def _eval_set(enrolments: dict[str, Enrolment], ids: int = 400) -> tuple[np.ndarray, np.ndarray]:
    """Two real enrolments plus synthetic identities shaped like a registry (8 vectors a person;
    different people at cos ~0.7, one person's vectors at cos >= 0.94, as dlib's are)."""
    rng = np.random.default_rng(7)
    real = np.vstack([enrolments["astro"].vectors, enrolments["cam"].vectors])
    labels = ["astro"] * len(enrolments["astro"].vectors) + ["cam"] * len(enrolments["cam"].vectors)
    centres = normalise(normalise(real.mean(0)) + rng.normal(0, 0.06, (ids, 128)))
    fake = normalise(np.repeat(centres, 8, 0) + rng.normal(0, 0.018, (ids * 8, 128)))
    return np.vstack([real, fake]), np.array(labels + [f"p{i // 8}" for i in range(ids * 8)])


def test_exact_and_compressed_indexes_give_the_same_matches(enrolments: dict[str, Enrolment]) -> None:
    x, labels = _eval_set(enrolments)
    exact, compressed = FaceIndex(x, kind="exact"), FaceIndex(x, kind="compressed")
    assert (exact.kind, compressed.kind) == ("exact", "compressed")
    assert FaceIndex(x, exact_max=100).kind == "compressed" and FaceIndex(x).kind == "exact"
    grown = compressed.extended(x[:5])
    assert grown.size == len(x) + 5 and compressed.size == len(x)  # a copy; the served one is untouched
    queries = normalise(x[::10] + np.random.default_rng(8).normal(0, 0.018, (len(x[::10]), 128)))
    se, ie = exact.search(queries, 5)
    sc, ic = compressed.search(queries, 5)

    def matched(s: np.ndarray, i: np.ndarray) -> list[set[str]]:
        th = DEFAULT_THRESHOLDS.threshold
        return [
            {labels[j] for v, j in zip(sr, ir, strict=True) if v >= th} for sr, ir in zip(s, i, strict=True)
        ]

    exact_matches = matched(se, ie)
    assert sum(bool(m) for m in exact_matches) > 0.9 * len(queries)  # the probes do match someone
    assert exact_matches == matched(sc, ic)
    assert np.abs(se[:, 0] - sc[:, 0]).max() < 0.01  # SQ8 moves similarities by far less than the margin


def _allowed(view: IndexView, owner: str, creator: str) -> bool:
    terms: CameoTerms = view.snapshot.cameos_by_owner[owner]
    return terms.allows(creator)


def test_two_workers_enforce_a_revocation_within_seconds(db: Database, enrol: Callable[..., str]) -> None:
    cameo_id = enrol("astro", "alice", permission="approved", approved=["bob"])
    workers = [IndexView(db, poll_s=0.2).start() for _ in range(2)]
    try:
        for w in workers:
            assert w.wait_for(1) and _allowed(w, "alice", "bob")
        index_before = workers[0].snapshot.index
        with db.session() as s:
            registry.revoke(s, s.get(Cameo, cameo_id), actor="test", creator_id="bob")
            version = registry_version(s)
        started = time.monotonic()
        for w in workers:
            assert w.wait_for(version, timeout_s=5)
        assert time.monotonic() - started < 5
        assert not any(_allowed(w, "alice", "bob") for w in workers)
        assert workers[0].snapshot.index is index_before  # consent changes reuse the built index
    finally:
        for w in workers:
            w.close()


def test_new_vectors_are_appended_and_erased_ones_masked(
    db: Database, enrol: Callable[..., str], enrolments: dict[str, Enrolment]
) -> None:
    view = IndexView(db)
    alice = enrol("astro", "alice")
    n = view.snapshot.index.size
    with db.session() as s:
        registry.add_protected(s, name="Cameraman", enrolment=enrolments["cam"], actor="admin")
    view.refresh()
    assert view.snapshot.index.size == n + len(enrolments["cam"].vectors)
    with db.session() as s:
        registry.delete_cameo(s, s.get(Cameo, alice), actor="test")
    view.refresh()
    snap = view.snapshot
    assert snap.dead == n and "alice" not in snap.cameos_by_owner
    best = snap.match(enrolments["astro"].vectors[:1])[0]
    assert all(snap.subjects[p].kind == "protected" for p in best)  # the erased face matches nothing
    view.close()

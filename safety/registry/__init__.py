"""One versioned-registry mechanism shared by likeness (cameos) and rights (characters).

``versions``: the atomic version bump and the change log; ``view``: each process's copy of a
registry, refreshed in the background when the version moves; ``reconcile``: re-checks published
decisions made at a version below a change (also those decided after it by a worker that had not
caught up). The likeness and rights packages plug their loaders and checkers in.
"""

from safety.registry.versions import LIKENESS, RIGHTS, RegistrySpec, bump, head, record_change

__all__ = ["LIKENESS", "RIGHTS", "RegistrySpec", "bump", "head", "record_change"]

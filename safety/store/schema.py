"""Every table of the service in one metadata: what Alembic compares the migrations with.

The models live next to the code that owns them (likeness, rights, provenance, review, registry,
store); this module imports them all, so ``metadata`` is whole however little the caller imported before.
``tests/safety/test_migrations.py`` fails when a module with tables is missing here.
"""

from __future__ import annotations

import safety.likeness.models
import safety.provenance.models
import safety.registry.models
import safety.review.models
import safety.rights.models
import safety.store.accounts
import safety.store.models
import safety.store.review
from safety.store.models import Base

MODEL_MODULES = (
    safety.store.models,
    safety.store.accounts,
    safety.store.review,
    safety.likeness.models,
    safety.rights.models,
    safety.provenance.models,
    safety.review.models,
    safety.registry.models,
)
metadata = Base.metadata

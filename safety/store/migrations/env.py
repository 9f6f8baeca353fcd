"""Alembic environment: always run with a connection handed in by ``safety.store.db``.

``target_metadata`` is :mod:`safety.store.schema`, which imports every models module.
"""

from __future__ import annotations

from alembic import context

from safety.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `feedguard db upgrade`, which supplies the connection")
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    compare_server_default=True,
)
with context.begin_transaction():
    context.run_migrations()

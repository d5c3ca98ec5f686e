"""Alembic environment: runs on the connection ``Store.migrate()`` hands over (online mode only)."""

from alembic import context

from gateway.store.models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - offline SQL generation is not supported
    raise RuntimeError("run migrations through gateway.store.Store.migrate()")
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()

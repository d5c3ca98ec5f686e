"""Persistence: SQLAlchemy models, Alembic migrations and small repositories over them."""

from gateway.store.db import Store
from gateway.store.tokens import StoredToken, TokenRepository

__all__ = ["Store", "StoredToken", "TokenRepository"]

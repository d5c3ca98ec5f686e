"""Upstream OAuth tokens in the store, so every process of the gateway shares one token per client."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from gateway.store.db import Store
from gateway.store.models import UpstreamToken

__all__ = ["StoredToken", "TokenRepository"]


@dataclass(frozen=True)
class StoredToken:
    access_token: str
    refresh_token: str | None
    expires_at: float

    def __repr__(self) -> str:  # tokens are credentials: never in logs
        return f"StoredToken(expires_at={self.expires_at})"

    def fresh(self, margin: float) -> bool:
        return self.expires_at - margin > time.time()


class TokenRepository:
    def __init__(self, store: Store):
        self.store = store

    def get(self, key: str) -> StoredToken | None:
        with self.store.session() as session:
            row = session.get(UpstreamToken, key)
            if row is None:
                return None
            return StoredToken(row.access_token, row.refresh_token, row.expires_at)

    def put(self, key: str, token: StoredToken) -> None:
        """Insert or replace, atomically: two processes refreshing at once must not collide."""
        values = {"cache_key": key, "access_token": token.access_token, "refresh_token": token.refresh_token,
                  "expires_at": token.expires_at, "updated_at": time.time()}
        dialect = self.store.engine.dialect.name
        insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
        stmt = insert(UpstreamToken).values(**values)
        stmt = stmt.on_conflict_do_update(index_elements=[UpstreamToken.cache_key],
                                          set_={k: stmt.excluded[k] for k in values if k != "cache_key"})
        with self.store.session() as session:
            session.execute(stmt)

    def delete(self, key: str) -> None:
        with self.store.session() as session:
            session.execute(delete(UpstreamToken).where(UpstreamToken.cache_key == key))

    def keys(self) -> list[str]:
        with self.store.session() as session:
            return list(session.scalars(select(UpstreamToken.cache_key)))

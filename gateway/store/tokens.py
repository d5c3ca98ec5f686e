"""Upstream OAuth tokens in the store, so every process of the gateway shares one token per client.

Both tokens are credentials: they are sealed with the store's :class:`~gateway.store.crypto.SecretBox`
before they are written and opened when read. A token written before sealing existed is read as is
and sealed the next time it is renewed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from gateway.store.crypto import PREFIX, SecretBox
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
    def __init__(self, store: Store, box: SecretBox):
        self.store = store
        self.box = box

    def get(self, key: str) -> StoredToken | None:
        with self.store.session() as session:
            row = session.get(UpstreamToken, key)
            if row is None:
                return None
            return StoredToken(self.box.open(row.access_token) or "", self.box.open(row.refresh_token),
                               row.expires_at)

    def put(self, key: str, token: StoredToken) -> None:
        """Insert or replace, atomically: two processes refreshing at once must not collide."""
        values = {"cache_key": key, "access_token": self.box.seal(token.access_token),
                  "refresh_token": self.box.seal(token.refresh_token), "expires_at": token.expires_at,
                  "updated_at": time.time()}
        dialect = self.store.engine.dialect.name
        insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
        stmt = insert(UpstreamToken).values(**values)
        stmt = stmt.on_conflict_do_update(index_elements=[UpstreamToken.cache_key],
                                          set_={k: stmt.excluded[k] for k in values if k != "cache_key"})
        with self.store.session() as session:
            session.execute(stmt)

    def seal_legacy(self) -> int:
        """Seal the tokens written before sealing existed, in place; returns how many rows changed."""
        changed = 0
        with self.store.session() as session:
            for row in session.scalars(select(UpstreamToken)):
                for column in ("access_token", "refresh_token"):
                    value = getattr(row, column)
                    if value and not value.startswith(PREFIX):
                        setattr(row, column, self.box.seal(value))
                        changed += 1
        return changed

    def delete(self, key: str) -> None:
        with self.store.session() as session:
            session.execute(delete(UpstreamToken).where(UpstreamToken.cache_key == key))

    def keys(self) -> list[str]:
        with self.store.session() as session:
            return list(session.scalars(select(UpstreamToken.cache_key)))

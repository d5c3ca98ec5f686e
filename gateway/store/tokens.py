"""Upstream OAuth tokens in the store, so every process of the gateway shares one token per client.

Both tokens are credentials: they are sealed with the store's :class:`~gateway.store.crypto.SecretBox`
before they are written and opened when read. A token written before sealing existed is read as is
and sealed the next time it is renewed.

:meth:`TokenRepository.locked` is the renewal lock every process sharing the database takes, so that
a cold or expired token is fetched once, not once per gateway process and worker:

* PostgreSQL: ``pg_advisory_xact_lock`` on a 64-bit hash of the key, in a transaction of its own
  held while the token is fetched. The server drops it if the process dies; ``lock_timeout`` bounds
  the wait and ``idle_in_transaction_session_timeout`` the hold of a holder that hangs.
* SQLite: ``flock`` on a file per key beside the database (one machine shares a SQLite file). Not a
  ``BEGIN IMMEDIATE``: that would stop every writer of the gateway — job steps, the outbox — for the
  length of a vendor call, and the holder's own write of the token from another connection would
  wait on itself.

Whoever cannot have the lock within ``lock_wait`` seconds renews without it: a second token costs
the vendor a call; a client left without an answer costs more.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, delete, select, text
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from gateway.store.crypto import PREFIX, SecretBox
from gateway.store.db import Store
from gateway.store.db import lock_id as store_lock_id
from gateway.store.models import UpstreamToken

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: SQLite renewals are serialised per process only
    fcntl = None  # type: ignore[assignment]

__all__ = ["LOCK_WAIT", "StoredToken", "TokenRepository", "lock_id"]

log = logging.getLogger("gateway.store")

#: Seconds a process waits for another's renewal: a vendor call's connect and read timeouts (3.05 +
#: 30 by default) and a little more, so a waiter gives up only on a holder that is really stuck.
LOCK_WAIT = 35.0
_POLL = 0.02  # how often a SQLite waiter tries the file lock again (a blocking flock would hold gevent)


def lock_id(key: str) -> int:
    """The PostgreSQL advisory lock id of a token key."""
    return store_lock_id("upstream-token:" + key)


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
    def __init__(self, store: Store, box: SecretBox, *, lock_wait: float = LOCK_WAIT):
        self.store = store
        self.box = box
        self.lock_wait = lock_wait

    @contextmanager
    def locked(self, key: str) -> Iterator[bool]:
        """Hold ``key``'s renewal lock across every process on this database while the body runs;
        yields whether it is held (False: not had within ``lock_wait`` seconds, or no way to lock
        here — the body then runs anyway)."""
        dialect = self.store.engine.dialect.name
        if dialect == "postgresql":
            with self._advisory_lock(key) as held:
                yield held
        elif dialect == "sqlite":
            with self._file_lock(key) as held:
                yield held
        else:  # pragma: no cover - the store supports these two
            yield False

    @contextmanager
    def _advisory_lock(self, key: str) -> Iterator[bool]:
        conn = None
        held = False
        try:
            conn = self.store.engine.connect()
            conn.begin()
            # Local to this transaction. The hold bound is past any vendor call's timeouts: it only
            # frees the lock from a holder that hangs (a stopped process, a lost network).
            conn.execute(text("SELECT set_config('lock_timeout', :wait, true), "
                              "set_config('idle_in_transaction_session_timeout', :hold, true)"),
                         {"wait": f"{int(self.lock_wait * 1000)}ms", "hold": f"{int(self.lock_wait * 3000)}ms"})
            conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": lock_id(key)})
            held = True
        except Exception as exc:  # noqa: BLE001 - lock timeout or a database hiccup: renew unlocked
            log.warning("token renewal lock not had (%s); renewing without it",
                        type(getattr(exc, "orig", None) or exc).__name__)
            self._close(conn)
            conn = None
        try:
            yield held
        finally:
            self._close(conn)  # rolls the transaction back, which releases the lock

    @staticmethod
    def _close(conn: Connection | None) -> None:
        if conn is None:
            return
        try:
            conn.close()
        except Exception as exc:  # noqa: BLE001 - the server may have ended a hung session itself
            log.warning("token renewal lock: closing its connection failed (%s)", type(exc).__name__)
            with suppress(Exception):
                conn.invalidate()  # the session is gone, and the lock with it

    @contextmanager
    def _file_lock(self, key: str) -> Iterator[bool]:
        path = self._lock_path(key)
        if path is None or fcntl is None:
            yield False  # an in-memory database lives in one process: the thread lock is enough
            return
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            held = False
            deadline = time.monotonic() + self.lock_wait
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    held = True
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        log.warning("token renewal lock not had within %.0f s; renewing without it",
                                    self.lock_wait)
                        break
                    time.sleep(_POLL)
            yield held
        finally:
            os.close(fd)  # releases the flock

    def _lock_path(self, key: str) -> Path | None:
        folder = self.store.lock_folder()
        return None if folder is None else folder / (hashlib.sha256(key.encode()).hexdigest()[:32] + ".lock")

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

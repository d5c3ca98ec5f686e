"""The store: SQLAlchemy 2 engine and sessions; SQLite file by default, PostgreSQL by URL.

``Store.migrate()`` brings the schema to the latest Alembic revision; ``flowgate serve`` calls it at
start, so an upgrade of Flowgate upgrades the database in place. Processes that migrate at once (two
gateways starting together) take turns: a PostgreSQL advisory lock held by the migrating
transaction, a file lock beside a SQLite file; whoever comes second finds the schema up to date.

The SQLite file holds credentials (sealed, but still): it is created 0600 before SQLite opens it, and
a file found group- or world-readable is tightened to 0600. SQLite gives its ``-wal`` and ``-shm``
files the main file's permissions, so they follow.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, event, inspect, make_url, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no file locks, SQLite's own locking only
    fcntl = None  # type: ignore[assignment]

__all__ = ["Store", "lock_id"]

MIGRATIONS = Path(__file__).parent / "migrations"
FILE_MODE = 0o600

log = logging.getLogger("gateway.store")


def lock_id(name: str) -> int:
    """A PostgreSQL advisory lock id: a signed 64-bit hash of ``flowgate:<name>``, namespaced so
    other users of advisory locks on the same database do not meet ours."""
    digest = hashlib.sha256(b"flowgate:" + name.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _private_file(path: Path) -> None:
    """Create ``path`` 0600 if it does not exist (O_EXCL: never truncates a database another
    process just made); tighten it to 0600 if others may read it."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
        return
    except FileExistsError:
        pass
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            os.chmod(path, FILE_MODE)
            log.warning("%s was readable by others (mode %o); it is now 0600", path, mode)
    except OSError as exc:  # not our file: SQLite will say so if it cannot open it
        log.warning("cannot make %s private: %s", path, exc.strerror)


def _engine_for(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = make_url(url).database or ""
        if path and path != ":memory:" and not path.startswith("file:"):
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            _private_file(Path(path))
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 15})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # WAL: readers never block the writer
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=15000")
            cur.close()
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)


class Store:
    def __init__(self, url: str):
        self.url = url
        self.engine = _engine_for(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed on success, rolled back on any exception."""
        with self._sessions() as session, session.begin():
            yield session

    def migrate(self, revision: str = "head") -> None:
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self._file_lock("migrate"), self.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                # Held until this transaction commits (the DDL is in it): another process waits
                # here, then finds the schema at head instead of creating the same tables again.
                connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": lock_id("migrate")})
            config.attributes["connection"] = connection
            command.upgrade(config, revision)

    def lock_folder(self) -> Path | None:
        """The folder of lock files beside a SQLite database file (None: another database, or one
        that lives in a single process)."""
        database = self.engine.url.database
        if self.engine.dialect.name != "sqlite" or not database or database == ":memory:" \
                or database.startswith("file:"):
            return None
        folder = Path(database + ".locks")
        folder.mkdir(mode=0o700, exist_ok=True)
        return folder

    @contextmanager
    def _file_lock(self, name: str) -> Iterator[None]:
        """Every process on this SQLite file, one at a time (blocking: used at start-up only)."""
        folder = self.lock_folder()
        if folder is None or fcntl is None:
            yield
            return
        fd = os.open(folder / f"{name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the flock

    def tables(self) -> list[str]:
        return sorted(inspect(self.engine).get_table_names())

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
            return True
        except Exception:  # noqa: BLE001 - readiness is a yes/no question
            return False

    def dispose(self) -> None:
        self.engine.dispose()

"""One OAuth token for every process on one database: the store's renewal lock (TokenRepository.locked).

Each caller here has its own Store, connector and TokenManager — what separate gateway processes and
workers have — so only the lock in the database (PostgreSQL) or beside it (SQLite) keeps them from
fetching a token each on a cold cache. The sandbox's call log counts what the vendor was asked.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
from support import add_fault

from gateway.config import Settings
from gateway.connectors.flowize import FlowizeConnector
from gateway.connectors.flowize_auth import StoreTokenCache
from gateway.credentials import FlowizeCredentials
from gateway.http import HttpClient
from gateway.store import Store, TokenRepository
from gateway.store.crypto import SecretBox

OAUTH = FlowizeCredentials.oauth("demo-client-id", "demo-client-secret")
KEY = SecretBox.generate_key()
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request, tmp_path):
    """A migrated database; ``database.store()`` opens another Store on it, as another process would."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'gw.db'}"
        Store(url).migrate()
        yield _Database(url)
        return
    base = request.getfixturevalue("postgres_url")
    schema = "tl_" + uuid.uuid4().hex[:10]
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    # The schema rides in the URL (libpq options), so subprocesses get it from the URL alone.
    db = _Database(f"{base}?options=-csearch_path%3D{schema}")
    first = db.store()
    first.migrate()
    first.dispose()
    yield db
    db.dispose()
    with admin.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    admin.dispose()


class _Database:
    def __init__(self, url: str):
        self.url = url
        self._stores: list[Store] = []

    def store(self) -> Store:
        store = Store(self.url)
        self._stores.append(store)
        return store

    def repo(self, **kw) -> TokenRepository:
        return TokenRepository(self.store(), SecretBox(KEY), **kw)

    def dispose(self) -> None:
        for store in self._stores:
            store.dispose()


def _token_requests(sandbox_url: str, since: float) -> list[dict]:
    calls = requests.get(sandbox_url + "/_sandbox/calls", params={"vendor": "flowize", "since": since},
                         timeout=5).json()
    return [c for c in calls if c["token"]]


def _slow_token_endpoint(sandbox_url: str) -> None:
    # The first fetch stays in flight while every other caller arrives at the cold cache.
    add_fault(sandbox_url, path="/v1/checkauthentication", latency_ms=400)


def test_callers_on_separate_stores_fetch_one_token_between_them(database, sandbox_url):
    _slow_token_endpoint(sandbox_url)
    callers = 6
    connectors = [FlowizeConnector(HttpClient(Settings(http_retries=0)), sandbox_url,
                                   token_cache=StoreTokenCache(database.repo())) for _ in range(callers)]
    start = threading.Barrier(callers)
    statuses: list[int] = []
    errors: list[BaseException] = []

    def call(connector: FlowizeConnector) -> None:
        try:
            start.wait()
            statuses.append(connector.get_record(OAUTH, "demo-record").status)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    since = time.time()
    threads = [threading.Thread(target=call, args=(c,)) for c in connectors]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == [] and statuses == [200] * callers
    assert len(_token_requests(sandbox_url, since)) == 1
    assert sum(c.tokens.fetches for c in connectors) == 1


CALLER = textwrap.dedent("""
    import sys, time
    from gateway.config import Settings
    from gateway.connectors.flowize import FlowizeConnector
    from gateway.connectors.flowize_auth import StoreTokenCache
    from gateway.credentials import FlowizeCredentials
    from gateway.http import HttpClient
    from gateway.store import Store, TokenRepository
    from gateway.store.crypto import SecretBox

    url, sandbox, key, at = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    store = Store(url)
    connector = FlowizeConnector(HttpClient(Settings(http_retries=0)), sandbox,
                                 token_cache=StoreTokenCache(TokenRepository(store, SecretBox(key))))
    time.sleep(max(0.0, at - time.time()))   # every process calls at the same moment
    status = connector.get_record(FlowizeCredentials.oauth("demo-client-id", "demo-client-secret"),
                                  "demo-record").status
    print(status, connector.tokens.fetches)
""")


def test_processes_on_a_cold_cache_fetch_one_token_between_them(database, sandbox_url):
    _slow_token_endpoint(sandbox_url)
    since = time.time()
    at = since + 4.0  # past every process's start-up (imports), so they meet the cold cache together
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", CALLER, database.url, sandbox_url, KEY, str(at)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        outputs.append(out.split())
    assert time.time() > at, "the processes must have called together"
    assert sorted(outputs) == [["200", "0"], ["200", "0"], ["200", "1"]]
    assert len(_token_requests(sandbox_url, since)) == 1


def test_the_lock_is_exclusive_and_a_waiter_gives_up_after_lock_wait(database):
    holder, waiter = database.repo(), database.repo(lock_wait=0.3)
    with holder.locked("k") as held:
        assert held
        started = time.monotonic()
        with waiter.locked("k") as also:
            assert not also  # not had: the caller renews without it rather than wait on
        assert 0.25 <= time.monotonic() - started < 5
        with waiter.locked("another key") as other:
            assert other  # one lock per key
    with waiter.locked("k") as held_now:
        assert held_now


def test_the_lock_is_released_when_the_renewal_fails(database):
    first, second = database.repo(), database.repo(lock_wait=0.3)
    with pytest.raises(RuntimeError), first.locked("k"):
        raise RuntimeError("the vendor call failed")
    with second.locked("k") as held:
        assert held


def test_an_in_memory_database_has_no_lock_to_take():
    store = Store("sqlite:///:memory:")
    try:
        with TokenRepository(store, SecretBox(KEY)).locked("k") as held:
            assert held is False
    finally:
        store.dispose()

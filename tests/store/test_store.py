"""The store on both engines: migrations, token sharing, concurrent upserts."""

from __future__ import annotations

import threading
import time

import pytest

from gateway.store import Store, StoredToken, TokenRepository
from gateway.store.crypto import SecretBox

BOX = SecretBox(SecretBox.generate_key())


@pytest.fixture
def store(any_store):
    return any_store


def test_migrations_create_the_schema_and_are_repeatable(store):
    assert "upstream_tokens" in store.tables()
    store.migrate()  # a second start must be a no-op, not an error
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from gateway.store.db import MIGRATIONS

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == head


def test_token_put_replaces_and_get_reads_back(store):
    repo = TokenRepository(store, BOX)
    assert repo.get("k") is None
    repo.put("k", StoredToken("first", "r1", time.time() + 100))
    repo.put("k", StoredToken("second", "r2", time.time() + 200))
    token = repo.get("k")
    assert (token.access_token, token.refresh_token) == ("second", "r2")
    assert token.fresh(margin=60) and not token.fresh(margin=300)
    repo.delete("k")
    assert repo.get("k") is None


def test_token_is_shared_between_two_store_instances(store):
    # Two Store objects stand for two gateway processes on one database.
    TokenRepository(store, BOX).put("shared", StoredToken("tok", None, time.time() + 60))
    other = Store(store.url)
    other.engine = store.engine
    other._sessions.configure(bind=store.engine)
    assert TokenRepository(other, BOX).get("shared").access_token == "tok"


def test_concurrent_upserts_never_fail_and_leave_one_row(store):
    repo = TokenRepository(store, BOX)
    errors: list[Exception] = []

    def writer(n: int) -> None:
        try:
            for i in range(10):
                repo.put("race", StoredToken(f"t{n}-{i}", None, time.time() + 60))
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert repo.keys() == ["race"]


def test_token_repr_hides_the_token():
    assert "secret-value" not in repr(StoredToken("secret-value", "also-secret", 1.0))

"""Secrets at rest: consumers' upstream secrets and upstream OAuth tokens are sealed in the database
(Fernet, gateway/store/crypto.py), the gateway still works with the sealed values, and the SQLite
file and the key file are private to their owner."""

from __future__ import annotations

import stat
import time
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from gateway.cli import main
from gateway.config import Settings
from gateway.services import Services
from gateway.store import Store, StoredToken, TokenRepository
from gateway.store.consumers import ConsumerRepository, hash_key
from gateway.store.crypto import PREFIX, SecretBox, SecretBoxError, key_file_for
from gateway.store.models import RestConsumer, UpstreamToken

API_KEY = "upstream-api-key-4f1c"
CLIENT_SECRET = "upstream-client-secret-9b2e"


@pytest.fixture
def box() -> SecretBox:
    return SecretBox(SecretBox.generate_key())


def raw_rows(store: Store, table: str) -> list[dict]:
    with store.engine.connect() as conn:
        return [dict(row._mapping) for row in conn.exec_driver_sql(f"SELECT * FROM {table}")]


def plain_values(rows: list[dict]) -> str:
    return "\n".join(str(v) for row in rows for v in row.values())


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_consumer_upstream_secrets_are_sealed_in_the_row(any_store, box):
    repo = ConsumerRepository(any_store, box)
    repo.add("keyed", upstream_api_key=API_KEY, upstream_app_key="app-1")
    created = repo.add("oauth", upstream_client_id="client-1", upstream_client_secret=CLIENT_SECRET)
    rows = raw_rows(any_store, "rest_consumers")
    assert API_KEY not in plain_values(rows) and CLIENT_SECRET not in plain_values(rows)
    by_name = {row["name"]: row for row in rows}
    assert by_name["keyed"]["upstream_api_key"].startswith(PREFIX)
    assert by_name["oauth"]["upstream_client_secret"].startswith(PREFIX)
    assert by_name["keyed"]["upstream_app_key"] == "app-1"  # an identifier, not a secret
    # ...and read back as they were given, by every lookup
    assert repo.by_name("keyed").upstream_api_key == API_KEY
    assert repo.by_key(created.key).upstream_client_secret == CLIENT_SECRET
    assert {c.name: (c.upstream_api_key, c.upstream_client_secret) for c in repo.all()} == {
        "keyed": (API_KEY, ""), "oauth": ("", CLIENT_SECRET)}


def test_upstream_tokens_are_sealed_in_the_row(any_store, box):
    repo = TokenRepository(any_store, box)
    repo.put("client", StoredToken("access-token-77", "refresh-token-88", time.time() + 100))
    rows = raw_rows(any_store, "upstream_tokens")
    assert "access-token-77" not in plain_values(rows) and "refresh-token-88" not in plain_values(rows)
    assert rows[0]["access_token"].startswith(PREFIX) and rows[0]["refresh_token"].startswith(PREFIX)
    token = repo.get("client")
    assert (token.access_token, token.refresh_token) == ("access-token-77", "refresh-token-88")
    repo.put("client", StoredToken("access-2", None, time.time() + 100))
    assert repo.get("client").refresh_token is None


def test_a_store_sealed_with_another_key_is_refused_with_a_clear_message(any_store, box):
    ConsumerRepository(any_store, box).add("c", upstream_api_key=API_KEY)
    other = ConsumerRepository(any_store, SecretBox(SecretBox.generate_key()))
    with pytest.raises(SecretBoxError, match="GATEWAY_SECRET_KEY"):
        other.by_name("c")


def test_rows_from_before_sealing_are_read_as_is_and_sealed_by_migrate(tmp_path, monkeypatch):
    settings = Settings(data_dir=str(tmp_path))
    store = Store(settings.effective_database_url)
    store.migrate()
    with store.session() as session:  # as an older Flowgate wrote them: in plain text
        session.add(RestConsumer(name="old", key_hash=hash_key("fg_old"), key_prefix="fg_old", upstream_style="apikey",
                                 upstream_api_key=API_KEY, upstream_app_key="app", upstream_client_id="",
                                 upstream_client_secret="", ip_allowlist="", rate_limit="", active=True,
                                 created_at=time.time(), scopes="records"))
        session.add(UpstreamToken(cache_key="old", access_token="old-access", refresh_token="old-refresh",
                                  expires_at=time.time() + 100, updated_at=time.time()))
    box = SecretBox.from_settings(settings)
    assert ConsumerRepository(store, box).by_key("fg_old").upstream_api_key == API_KEY
    assert TokenRepository(store, box).get("old").refresh_token == "old-refresh"

    monkeypatch.setenv("GATEWAY_DATA_DIR", str(tmp_path))
    assert main(["migrate"]) == 0
    text = plain_values(raw_rows(store, "rest_consumers") + raw_rows(store, "upstream_tokens"))
    assert API_KEY not in text and "old-access" not in text and "old-refresh" not in text
    assert ConsumerRepository(store, box).by_key("fg_old").upstream_api_key == API_KEY
    assert TokenRepository(store, box).get("old").access_token == "old-access"
    store.dispose()


def test_gateway_mode_works_with_a_sealed_upstream_key(gateway_factory):
    gw = gateway_factory(rest_auth="gateway")
    services = gw.server.app.extensions["flowgate"]
    key = services.consumers.add("sealed", upstream_api_key="demo-api-key", upstream_app_key="demo-app").key
    with services.store.session() as session:
        row = session.scalar(select(RestConsumer).where(RestConsumer.name == "sealed"))
        assert row.upstream_api_key.startswith(PREFIX) and "demo-api-key" not in row.upstream_api_key
    resp = requests.get(gw.url + "/v1/record/demo-record", headers={"X-Apikey": key}, timeout=10)
    assert resp.status_code == 200, resp.text
    assert resp.json()["resource"]["info"]["uuid"] == "demo-record"


def test_a_fresh_data_dir_keeps_the_database_and_the_key_private(tmp_path):
    data_dir = tmp_path / "fresh"
    services = Services.build(Settings(data_dir=str(data_dir)))
    try:
        services.consumers.add("c", upstream_api_key=API_KEY)  # a write: the WAL and its index exist now
        for name in ("flowgate.db", "flowgate.db-wal", "flowgate.db-shm"):
            assert mode(data_dir / name) == 0o600, name
        assert mode(key_file_for(str(data_dir))) == 0o600
    finally:
        services.close()


def test_a_database_file_readable_by_others_is_tightened(tmp_path):
    path = tmp_path / "loose.db"
    path.touch(mode=0o644)
    path.chmod(0o644)
    store = Store(f"sqlite:///{path}")
    store.migrate()
    assert mode(path) == 0o600
    store.dispose()


def test_the_secret_key_setting_is_used_instead_of_a_key_file(tmp_path):
    key = SecretBox.generate_key()
    settings = Settings(data_dir=str(tmp_path), secret_key=key)
    services = Services.build(settings)
    try:
        services.consumers.add("c", upstream_api_key=API_KEY)
        sealed = raw_rows(services.store, "rest_consumers")[0]["upstream_api_key"]
        assert SecretBox(key).open(sealed) == API_KEY
        assert not key_file_for(str(tmp_path)).exists()
    finally:
        services.close()

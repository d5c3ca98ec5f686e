"""REST front door in gateway-held mode: consumers with their own (hashed) keys, mapped to upstream
credentials they never see; OAuth upstream through the shared, store-backed token cache."""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys

import pytest
from sqlalchemy import select
from support import DEMO_HEADERS, DEMO_OAUTH

from gateway.cli import add_consumer, main
from gateway.config import Settings
from gateway.store import Store, TokenRepository
from gateway.store.consumers import ConsumerRepository
from gateway.store.crypto import SecretBox, key_file_for
from gateway.store.models import RestConsumer

RECORD = "/v1/record/demo-record"
UPSTREAM = {"upstream_api_key": "demo-api-key", "upstream_app_key": "demo-app"}


@pytest.fixture
def held(gateway_factory, tmp_path):
    """A gateway in gateway-held mode; ``held.consumer(name, **fields)`` returns a new consumer key."""
    gw = gateway_factory(rest_auth="gateway")
    settings = Settings(data_dir=str(tmp_path / "gw0"))

    def consumer(name: str, **fields) -> str:
        return add_consumer(settings, name, **{**UPSTREAM, **fields})[1]

    gw.consumer = consumer
    gw.settings = settings
    gw.app = gw.server.app
    return gw


def test_consumer_key_works_in_each_style(http, held):
    key = held.consumer("acme")
    for headers, params in (({"Authorization": f"Bearer {key}"}, {}), ({"X-Apikey": key}, {}),
                            ({}, {"api_key": key})):
        resp = http.get(held.url + RECORD, headers=headers, params=params, timeout=10)
        assert resp.status_code == 200, resp.text
        assert resp.json()["resource"]["info"]["uuid"] == "demo-record"


def test_wrong_or_missing_key_is_401_and_vendor_keys_are_not_consumer_keys(http, held):
    held.consumer("acme")
    for headers in ({"X-Apikey": "fg_wrong"}, {}, DEMO_HEADERS):
        resp = http.get(held.url + RECORD, headers=headers, timeout=10)
        assert resp.status_code == 401 and resp.json()["resource"] == [] and resp.json()["error"]["code"] == 401


def test_keys_are_stored_hashed(held):
    key = held.consumer("acme")
    store = Store(held.settings.effective_database_url)
    with store.session() as session:
        row = session.scalar(select(RestConsumer).where(RestConsumer.name == "acme"))
        assert row.key_hash == hashlib.sha256(key.encode()).hexdigest()
        assert key not in {str(v) for v in vars(row).values()}
    store.dispose()


@pytest.mark.parametrize("style", ["apikey", "url"])
def test_upstream_credentials_never_leak(http, held, caplog, style):
    key = held.consumer("acme", upstream_style=style)
    caplog.set_level(logging.DEBUG)
    responses = [http.get(held.url + RECORD, headers={"X-Apikey": key}, timeout=10),
                 http.get(held.url + "/v1/record/nope", headers={"X-Apikey": key}, timeout=10),
                 http.get(held.url + RECORD, headers={"X-Apikey": key + "x"}, timeout=10)]
    assert [r.status_code for r in responses] == [200, 404, 401]
    for resp in responses:
        shown = resp.text + str(dict(resp.headers))
        assert "demo-api-key" not in shown and key not in shown
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "demo-api-key" not in logged and key not in logged


def test_oauth_upstream_uses_the_shared_token_cache(http, held, gateway_factory, tmp_path):
    key = held.consumer("oauth-co", upstream_api_key="", upstream_app_key="",
                        upstream_client_id=DEMO_OAUTH["client_id"], upstream_client_secret=DEMO_OAUTH["client_secret"])
    for _ in range(3):
        assert http.get(held.url + RECORD, headers={"X-Apikey": key}, timeout=10).status_code == 200
    tokens = held.app.extensions["flowgate"].flowize.connector.tokens
    assert tokens.fetches == 1
    store = Store(held.settings.effective_database_url)
    assert len(TokenRepository(store, SecretBox.from_settings(held.settings)).keys()) == 1
    store.dispose()
    # another gateway process on the same database (and so with the same secret key) reuses the
    # token instead of fetching one
    shared_key = key_file_for(held.settings.data_dir).read_text().strip()
    other = gateway_factory(rest_auth="gateway", database_url=held.settings.effective_database_url,
                            secret_key=shared_key)
    assert http.get(other.url + RECORD, headers={"Authorization": f"Bearer {key}"}, timeout=10).status_code == 200
    assert other.server.app.extensions["flowgate"].flowize.connector.tokens.fetches == 0


def test_consumer_ip_allowlist_gives_403_437(http, held):
    key = held.consumer("far-away", ip_allowlist="203.0.113.7")
    resp = http.get(held.url + RECORD, headers={"X-Apikey": key}, timeout=10)
    assert resp.status_code == 403 and resp.json() == {"resource": [], "error": {"code": 437, "message": "Ip not valid"}}
    near = held.consumer("near", ip_allowlist="127.0.0.1")
    assert http.get(held.url + RECORD, headers={"X-Apikey": near}, timeout=10).status_code == 200


def test_checkauthentication_in_gateway_mode(http, held):
    key = held.consumer("acme")
    headers = {"client_id": "acme", "client_secret": key, "grant_type": "client_credentials"}
    token = http.get(held.url + "/v1/checkauthentication", headers=headers, timeout=10)
    assert token.status_code == 200 and token.json()["message"] == "The credentials are valid"
    access = token.json()["resource"]["access_token"]
    assert http.get(held.url + RECORD, headers={"Authorization": f"Bearer {access}"}, timeout=10).status_code == 200
    refreshed = http.get(held.url + "/v1/refreshtoken", timeout=10,
                         headers={**headers, "refresh_token": token.json()["resource"]["refresh_token"]})
    assert refreshed.status_code == 200 and "expires_at" in refreshed.json()["resource"]
    wrong = http.get(held.url + "/v1/checkauthentication", headers={**headers, "client_id": "other"}, timeout=10)
    assert wrong.status_code == 401
    vendor = http.get(held.url + "/v1/checkauthentication", headers=DEMO_OAUTH, timeout=10)
    assert vendor.status_code == 401


def test_per_consumer_rate_limit(http, held):
    slow = held.consumer("slow", rate_limit="1/minute")
    fast = held.consumer("fast")
    assert http.get(held.url + RECORD, headers={"X-Apikey": slow}, timeout=10).headers["X-RateLimit-Limit"] == "1"
    assert http.get(held.url + RECORD, headers={"X-Apikey": slow}, timeout=10).status_code == 429
    assert http.get(held.url + RECORD, headers={"X-Apikey": fast}, timeout=10).status_code == 200


def test_webhook_and_options_need_no_consumer_key(http, held):
    assert http.post(held.url + "/v1/webhook/demo-webhook", json={"a": 1}, timeout=10).status_code == 201
    assert http.options(held.url + "/v1/options", timeout=10).status_code == 200


def test_cli_add_list_revoke(http, held, monkeypatch, capsys):
    monkeypatch.setenv("GATEWAY_DATA_DIR", held.settings.data_dir)
    # The upstream key comes on standard input, never on the command line (ps, shell history).
    added = subprocess.run([sys.executable, "-m", "gateway.cli", "consumer", "add", "cli-co",
                            "--upstream-api-key", "-", "--upstream-app-key", "demo-app"],
                           input="demo-api-key\n", capture_output=True, text=True, timeout=60, check=False,
                           env=dict(os.environ))
    assert added.returncode == 0, added.stderr
    key = added.stdout.strip().splitlines()[-1]
    assert key.startswith("fg_")
    assert http.get(held.url + RECORD, headers={"X-Apikey": key}, timeout=10).status_code == 200
    assert main(["consumer", "list"]) == 0
    listed = capsys.readouterr().out
    assert "cli-co" in listed and key not in listed and "demo-api-key" not in listed
    assert main(["consumer", "revoke", "cli-co"]) == 0
    assert http.get(held.url + RECORD, headers={"X-Apikey": key}, timeout=10).status_code == 401
    assert main(["consumer", "add", "bad", "--upstream-style", "oauth"]) == 2


def test_repository_refuses_incomplete_upstream():
    store = Store("sqlite:///:memory:")
    store.migrate()
    repo = ConsumerRepository(store, SecretBox(SecretBox.generate_key()))
    with pytest.raises(ValueError):
        repo.add("x", upstream_style="apikey")
    with pytest.raises(ValueError):
        repo.add("y", ip_allowlist="not-an-ip")
    assert repo.by_key("") is None


def test_guessing_keys_shares_one_window_per_address(http, gateway_factory):
    gw = gateway_factory(rest_auth="gateway", rest_rate_limit="2/minute")
    statuses = [http.get(gw.url + RECORD, headers={"X-Apikey": f"fg_guess{i}"}, timeout=10).status_code
                for i in range(3)]
    assert statuses == [401, 401, 429]



def test_a_consumers_own_upstream_keys_win_over_the_settings_ones_at_both_doors(http, gateway_factory, tmp_path):
    """One policy decides, at either door: the consumer's own upstream keys, else the settings' ones.
    The settings hold the demo key with the sandbox's restricted app (403/437), so who went upstream shows."""
    gw = gateway_factory(flowize_auth="apikey", flowize_api_key="demo-api-key", flowize_app_key="demo-app-restricted")
    settings = Settings(data_dir=str(tmp_path / "gw0"))
    own = add_consumer(settings, "own-keys", **UPSTREAM)[1]
    borrowing = add_consumer(settings, "settings-keys")[1]
    assert http.get(gw.url + RECORD, headers={"X-Apikey": own}, timeout=10).status_code == 200
    restricted = http.get(gw.url + RECORD, headers={"X-Apikey": borrowing}, timeout=10)
    assert restricted.status_code == 403 and restricted.json()["error"]["code"] == 437
    assert http.get(gw.url + RECORD, headers={"X-Apikey": "fg_unknown"}, timeout=10).status_code == 401
    for key, answer in ((own, "<Code>200</Code>"), (borrowing, "<faultcode>437</faultcode>")):
        envelope = ('<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:f="Flowize">'
                    f"<soapenv:Body><f:getRecord><input><AuthenticationObject><Apikey>{key}</Apikey></AuthenticationObject>"
                    "<DataRecordObject><Uuid>demo-record</Uuid></DataRecordObject></input></f:getRecord>"
                    "</soapenv:Body></soapenv:Envelope>")
        soap = http.post(gw.url + "/v1/soap", data=envelope, timeout=10,
                         headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'})
        assert answer in soap.text, soap.text

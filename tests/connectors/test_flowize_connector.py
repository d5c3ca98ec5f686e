"""FlowizeConnector over real HTTP against the sandbox: every endpoint, every credential style,
vendor errors mapped to the exception tree, and the OAuth token life cycle."""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid as uuidlib
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from support import add_fault, fast_http_client

from gateway.config import Settings
from gateway.connectors.flowize import FlowizeConnector
from gateway.connectors.flowize_auth import StoreTokenCache
from gateway.credentials import FlowizeCredentials
from gateway.errors import (
    AuthError,
    Conflict,
    Forbidden,
    InvalidRequest,
    NotFound,
    RateLimited,
    UpstreamError,
)
from gateway.http import HttpClient
from gateway.server import serve_in_thread
from gateway.store import Store, TokenRepository
from gateway.store.crypto import SecretBox
from gateway.store.tokens import StoredToken

APIKEY = FlowizeCredentials.api_keys("demo-api-key", "demo-app")
URLKEY = FlowizeCredentials.api_keys("demo-api-key", "demo-app", in_url=True)
OAUTH = FlowizeCredentials.oauth("demo-client-id", "demo-client-secret")
ROUTE_MISSING = "The requested resource doesn't exist."


@pytest.fixture
def http():
    client = fast_http_client(http_read_timeout=2.0)
    yield client
    client.close()


@pytest.fixture
def connector(http, sandbox_url):
    return FlowizeConnector(http, sandbox_url)



def _config(sandbox_url: str, **knobs) -> None:
    requests.patch(sandbox_url + "/_sandbox/config", json=knobs, timeout=5).raise_for_status()


def _b64(value) -> str:
    return base64.b64encode(json.dumps(value).encode()).decode()


def _new_uuid() -> str:
    return f"conn-{uuidlib.uuid4()}"


def _creds(style: str, connector: FlowizeConnector) -> FlowizeCredentials:
    if style == "apikey":
        return APIKEY
    if style == "url":
        return URLKEY
    if style == "bearer":
        token = connector.check_authentication("demo-client-id", "demo-client-secret").resource["access_token"]
        return FlowizeCredentials.bearer(token)
    return OAUTH


# -- records: the round trip in every credential style -------------------------------------------
@pytest.mark.parametrize("style", ["apikey", "url", "bearer", "oauth"])
def test_record_round_trip_in_every_credential_style(connector, style):
    creds = _creds(style, connector)
    rid = _new_uuid()
    data = {"client": [{"uuid": rid, "name": "Ada", "age": 36}]}

    created = connector.insert_record(creds, "demo-flow", data, uuid=rid)
    assert created.status == 201
    assert created.resource["uuid"] == rid
    assert created.resource["flow_name"] == "demo-flow"

    got = connector.get_record(creds, rid)
    assert got.resource["data_record"] == data
    assert got.resource["info"]["uuid"] == rid

    changed = {"client": [{"uuid": rid, "name": "Ada Lovelace", "age": 37}]}
    updated = connector.update_record(creds, rid, changed)
    assert updated.resource["data_record"] == changed
    assert connector.get_record(creds, rid).resource["data_record"] == changed

    deleted = connector.delete_record(creds, rid)
    assert deleted.resource["uuid"] == rid
    with pytest.raises(NotFound):
        connector.get_record(creds, rid)


def test_insert_record_by_flow_id_without_uuid_gets_a_generated_uuid(connector):
    created = connector.insert_record(APIKEY, "", {"a": 1}, flow_id="1")
    assert created.resource["flow_name"] == "demo-flow"
    assert connector.get_record(APIKEY, created.resource["uuid"]).resource["data_record"] == {"a": 1}


# -- schema ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("creds", [APIKEY, URLKEY], ids=["apikey", "url"])
def test_schema_insert_get_update_delete(connector, creds):
    schema, record = {"type": "object"}, {"name": "x"}
    assert connector.insert_schema(creds, _b64(schema), _b64(record), "https://example.test/s").status == 201
    got = connector.get_schema(creds)
    assert json.loads(base64.b64decode(got.resource["schema"])) == schema
    assert got.resource["url"] == "https://example.test/s"

    assert connector.update_schema(creds, _b64({"type": "array"}), _b64(record)).status == 201
    assert json.loads(base64.b64decode(connector.get_schema(creds).resource["schema"])) == {"type": "array"}

    connector.delete_schema(creds)
    with pytest.raises(NotFound):
        connector.get_schema(creds)


def test_schema_inserted_twice_is_a_conflict(connector):
    connector.insert_schema(APIKEY, _b64({}), _b64({}))
    with pytest.raises(Conflict):
        connector.insert_schema(APIKEY, _b64({}), _b64({}))


# -- search and queue --------------------------------------------------------------------------------
def test_search_records_filters_by_flow_and_uuid(connector):
    rid = _new_uuid()
    connector.insert_record(APIKEY, "demo-flow-2", {"n": 1}, uuid=rid)
    by_flow = connector.search_records(APIKEY, flow_name="demo-flow-2").resource
    assert [r["uuid"] for r in by_flow["records"]] == [rid]
    by_uuid = connector.search_records(APIKEY, uuid="demo-record").resource
    assert by_uuid["total"] == 1 and by_uuid["records"][0]["flow_name"] == "demo-flow"
    limited = connector.search_records(APIKEY, limit=1, flow_name=None).resource
    assert limited["limit"] == 1 and len(limited["records"]) == 1 and limited["total"] >= 2


def test_change_status_pauses_records_in_the_queue(connector):
    result = connector.change_status(APIKEY, "pause-queue", ["demo-record"]).resource
    assert result["records"] == [{"uuid": "demo-record", "queue_status": "1", "queue_status_key": "Paused"}]
    row = connector.search_records(APIKEY, uuid="demo-record").resource["records"][0]
    assert row["queue_status"] == "1"


def test_move_to_flow_moves_the_records(connector):
    result = connector.move_to_flow(APIKEY, "demo-flow-2", ["demo-record"]).resource
    assert result["total"] == 1 and result["records"][0]["movetoflow"] == "demo-flow-2"
    moved = connector.search_records(APIKEY, flow_name="demo-flow-2").resource["records"]
    assert "demo-record" in [r["uuid"] for r in moved]


# -- webhooks and flows --------------------------------------------------------------------------------
def test_webhook_stores_the_payload_as_a_record(connector):
    answer = connector.webhook("demo-webhook", json.dumps({"order": 7}))
    assert answer.status == 201
    ident = answer.resource["_id"]["$id"]
    assert connector.get_record(APIKEY, ident).resource["data_record"] == {"order": 7}


def test_webhook_unknown_uri_is_not_found(connector):
    with pytest.raises(NotFound):
        connector.webhook("no-such-hook", "{}")


@pytest.mark.parametrize("creds", [APIKEY, URLKEY], ids=["apikey", "url"])
def test_get_flow_diagram(connector, creds):
    diagram = connector.get_flow_diagram(creds, "demo-flow").resource
    assert diagram["flow_name"] == "demo-flow"
    assert diagram["current_flow"]["status"] == "running"
    assert diagram["current_flow"]["diagram"]["steps"][0]["type"] == "start"


def test_change_flow_status_publishes_the_draft_flow(connector):
    answer = connector.change_flow_status(APIKEY, "3", "public")
    assert "published" in answer.message
    assert connector.get_flow_diagram(APIKEY, "demo-draft").resource["current_flow"]["status"] == "running"


# -- keystore ------------------------------------------------------------------------------------------
def test_keystore_get_returns_the_seeded_value(connector):
    got = connector.keystore_get(APIKEY, "weather", "madrid")
    assert got.body["city"] == "Madrid" and got.body["temp"] == 24


def test_keystore_insert_put_search_delete(connector):
    connector.keystore_insert(APIKEY, "weather", "oslo", {"temp": 3, "wind": "", "city": "Oslo"})
    with pytest.raises(Conflict):
        connector.keystore_insert(APIKEY, "weather", "oslo", {"temp": 4})
    put = connector.keystore_put(APIKEY, "weather", "oslo", {"temp": 5, "wind": "", "city": "Oslo"})
    assert put.body["temp"] == 5
    found = connector.keystore_search(APIKEY, "weather", {
        "select": [{"field": "key"}], "where": {"rules": [{"field": "city", "operator": "=", "value": "Oslo"}]}})
    assert found.body == [{"key": "oslo"}]
    connector.keystore_delete(APIKEY, "weather", "oslo")
    with pytest.raises(NotFound):
        connector.keystore_delete(APIKEY, "weather", "oslo")


def test_keystore_unknown_keystore_is_not_found(connector):
    with pytest.raises(NotFound) as err:
        connector.keystore_get(APIKEY, "nowhere", "x")
    assert err.value.message != ROUTE_MISSING  # the vendor's "no such keystore", not a missing route


# -- tables --------------------------------------------------------------------------------------------
def test_table_get_returns_the_seeded_row(connector):
    got = connector.table_get(APIKEY, "users", 8)
    assert got.body["data"][0]["username"] == "myusername"


def test_table_insert_update_search_delete(connector):
    inserted = connector.table_insert(APIKEY, "users", {"username": "zed", "type": "user", "age": 21})
    row_id = inserted.body["data"][0]["id"]
    connector.table_update(APIKEY, "users", row_id, {"columns": [{"column_name": "age", "column_value": 22}]})
    assert connector.table_get(APIKEY, "users", row_id).body["data"][0]["age"] == 22
    found = connector.table_search(APIKEY, "users", {
        "where": {"rules": [{"field": "username", "operator": "=", "value": "zed"}]}})
    assert [r["id"] for r in found.body["data"]] == [row_id]
    connector.table_delete(APIKEY, "users", row_id)
    with pytest.raises(NotFound):
        connector.table_get(APIKEY, "users", row_id)


def test_raw_text_keystore_values_are_inserted_and_replaced_as_text(connector):
    keystore, key = f"notes-{uuidlib.uuid4().hex[:8]}", "today"
    connector.keystore_insert(APIKEY, keystore, key, "buy milk", raw_text=True)
    with pytest.raises(Conflict):
        connector.keystore_insert(APIKEY, keystore, key, "again", raw_text=True)
    assert connector.keystore_get(APIKEY, keystore, key, accept="text/plain").body == "buy milk"
    connector.keystore_put(APIKEY, keystore, key, "sell milk", raw_text=True)
    assert connector.keystore_get(APIKEY, keystore, key, accept="text/plain").body == "sell milk"


def test_table_insert_with_an_id_makes_the_row_with_that_id(connector):
    row_id = 7000 + uuidlib.uuid4().int % 1000
    made = connector.table_insert(APIKEY, "users", {"columns": [{"column_name": "username", "column_value": "ida"}]},
                                  row_id)
    assert made.body["data"][0]["id"] == str(row_id)
    assert connector.table_get(APIKEY, "users", row_id).body["data"][0]["username"] == "ida"


def test_table_update_without_an_id_updates_the_rows_where_picks(connector):
    answer = connector.table_update(APIKEY, "users", None, {
        "columns": [{"column_name": "age", "column_value": 77}],
        "where": {"rules": [{"field": "id", "operator": "=", "value": "8"}]}})
    assert answer.body["total"] == 1
    assert connector.table_get(APIKEY, "users", 8).body["data"][0]["age"] == 77


def test_environment_url_mappings_are_added_then_deleted(connector):
    mapping = {"project_id": 55, "url": f"/shop-{uuidlib.uuid4().hex[:6]}/", "name": "shop", "type": "website"}
    added = connector.environment_urls(APIKEY, 2, [mapping])
    assert any(m["url"] == mapping["url"] for m in added.body["data"]["urls_mapped"])
    gone = connector.environment_urls(APIKEY, 2, [{k: mapping[k] for k in ("project_id", "url", "type")}],
                                      delete=True)
    assert not any(m["url"] == mapping["url"] for m in gone.body["data"]["urls_mapped"])
    with pytest.raises(NotFound):
        connector.environment_urls(APIKEY, 2, [{k: mapping[k] for k in ("project_id", "url", "type")}], delete=True)


# -- on the wire: what a stand-in vendor receives --------------------------------------------------------
class _Wire:
    """A loopback server standing in for Flowize: notes (method, path, Content-Type, body) of each request."""

    def __init__(self):
        self.seen: list[tuple[str, str, str, bytes]] = []
        self.server = serve_in_thread(self._app)

    def _app(self, environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        self.seen.append((environ["REQUEST_METHOD"], environ["PATH_INFO"], environ.get("CONTENT_TYPE", ""),
                          environ["wsgi.input"].read(length) if length else b""))
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b'{"data": []}']


@pytest.fixture
def wire(http):
    vendor = _Wire()
    yield vendor, FlowizeConnector(http, vendor.server.url)
    vendor.server.shutdown()


def test_tables_without_an_id_are_sent_to_the_documented_path_with_its_trailing_slash(wire):
    vendor, connector = wire
    connector.table_insert(APIKEY, "users", {"username": "u"})
    connector.table_update(APIKEY, "users", None, {"columns": [], "where": {}})
    connector.table_insert(APIKEY, "users", {"columns": []}, 7)
    connector.table_update(APIKEY, "users", 7, {"columns": []})
    assert [(method, path) for method, path, _, _ in vendor.seen] == [
        ("POST", "/v1/tables/users/"), ("PUT", "/v1/tables/users/"), ("POST", "/v1/tables/users/7"),
        ("PUT", "/v1/tables/users/7")]


def test_raw_keystore_text_goes_as_text_plain_and_json_as_json(wire):
    vendor, connector = wire
    connector.keystore_put(APIKEY, "notes", "today", "caf\u00e9 {not json", raw_text=True)
    connector.keystore_insert(APIKEY, "notes", "today", "caf\u00e9 {not json", raw_text=True)
    connector.keystore_put(APIKEY, "notes", "today", "caf\u00e9")
    assert vendor.seen == [
        ("PUT", "/v1/keystore/notes/today", "text/plain; charset=utf-8", "caf\u00e9 {not json".encode()),
        ("POST", "/v1/keystore/notes/today", "text/plain; charset=utf-8", "caf\u00e9 {not json".encode()),
        ("PUT", "/v1/keystore/notes/today", "application/json", b'"caf\\u00e9"')]


def test_environment_url_mappings_are_deleted_with_their_body(wire):
    vendor, connector = wire
    connector.environment_urls(APIKEY, 2, [{"url": "/a/"}], delete=True)
    connector.environment_urls(APIKEY, 2, [{"url": "/a/"}])
    assert vendor.seen == [("DELETE", "/v1/environment/2/urls", "application/json", b'[{"url": "/a/"}]'),
                           ("POST", "/v1/environment/2/urls", "application/json", b'[{"url": "/a/"}]')]


@pytest.mark.parametrize("creds", [FlowizeCredentials.api_keys("cl\u00e9\u263a", "demo-app"),
                                   FlowizeCredentials.api_keys("demo-api-key", "line\nbreak"),
                                   FlowizeCredentials.bearer("t\u263a")], ids=["apikey", "appkey", "bearer"])
def test_credentials_no_header_can_carry_are_invalid_and_never_sent(wire, creds):
    vendor, connector = wire
    with pytest.raises(InvalidRequest) as err:
        connector.get_record(creds, "demo-record")
    assert err.value.status == 400 and "cannot be sent to Flowize" in err.value.message
    assert vendor.seen == []


# -- environments and options ------------------------------------------------------------------------
def test_environments_list_get_and_status(connector):
    listed = connector.environments(APIKEY).resource
    assert [str(e["id"]) for e in listed][:2] == ["1", "2"]
    one = connector.environment(APIKEY, 1).resource
    assert str(one["id"]) == "1"
    status = connector.environment(APIKEY, 1, "status").resource
    assert status == {"id": "1", "status": "ready"}


def test_environment_unknown_is_not_found(connector):
    with pytest.raises(NotFound):
        connector.environment(APIKEY, 999999)


def test_options_lists_the_api_methods(connector):
    methods = connector.options().resource["methods"]
    assert {"method": "POST", "path": "/v1/record"} in methods
    assert {"method": "GET", "path": "/v1/flowdiagram"} in methods


# -- error mapping -------------------------------------------------------------------------------------
def test_wrong_api_key_is_auth_error_401(connector):
    with pytest.raises(AuthError) as err:
        connector.get_record(FlowizeCredentials.api_keys("wrong-key", "demo-app"), "demo-record")
    assert type(err.value) is AuthError
    assert err.value.status == 401 and err.value.code == 401


def test_wrong_oauth_secret_is_auth_error(connector):
    with pytest.raises(AuthError):
        connector.get_record(FlowizeCredentials.oauth("demo-client-id", "wrong-secret"), "demo-record")


def test_restricted_app_is_forbidden_with_code_437(connector):
    with pytest.raises(Forbidden) as err:
        connector.get_record(FlowizeCredentials.api_keys("demo-api-key", "demo-app-restricted"), "demo-record")
    assert err.value.status == 403 and err.value.code == 437


def test_unknown_bearer_token_is_forbidden_with_code_436(connector):
    with pytest.raises(Forbidden) as err:
        connector.get_record(FlowizeCredentials.bearer("not-a-token"), "demo-record")
    assert err.value.code == 436


def test_duplicate_uuid_is_conflict(connector):
    with pytest.raises(Conflict) as err:
        connector.insert_record(APIKEY, "demo-flow", {"a": 1}, uuid="demo-record")
    assert err.value.status == 409


def test_unknown_flow_is_not_found(connector):
    with pytest.raises(NotFound):
        connector.insert_record(APIKEY, "no-such-flow", {"a": 1})
    with pytest.raises(NotFound):
        connector.get_flow_diagram(APIKEY, "no-such-flow")


def test_vendor_500_is_upstream_error(connector, sandbox_url):
    add_fault(sandbox_url, path="/v1/record", method="GET", status=500, times=1)
    with pytest.raises(UpstreamError) as err:
        connector.get_record(APIKEY, "demo-record")
    assert err.value.status == 502
    assert "500" in err.value.message


def test_vendor_429_with_long_retry_after_is_rate_limited_with_retry_after(connector, sandbox_url):
    add_fault(sandbox_url, path="/v1/record", method="GET", status=429, retry_after=90, times=1)
    started = time.perf_counter()
    with pytest.raises(RateLimited) as err:
        connector.get_record(APIKEY, "demo-record")
    assert time.perf_counter() - started < 1.0
    assert err.value.retry_after == 90


# -- OAuth token life cycle --------------------------------------------------------------------------
def test_many_oauth_calls_fetch_the_token_once(connector):
    for _ in range(5):
        connector.get_record(OAUTH, "demo-record")
    connector.search_records(OAUTH, uuid="demo-record")
    assert connector.tokens.fetches == 1


def test_concurrent_first_calls_of_one_client_fetch_the_token_once(connector):
    start = threading.Barrier(8)

    def call():
        start.wait()
        return connector.get_record(OAUTH, "demo-record").status

    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(lambda _: call(), range(8))) == [200] * 8
    assert connector.tokens.fetches == 1


def test_per_client_token_locks_are_forgotten_once_no_call_holds_them(connector):
    """One lock per OAuth client, held weakly: a gateway that has met many clients keeps none of theirs."""
    for n in range(40):
        with pytest.raises(AuthError):
            connector.get_record(FlowizeCredentials.oauth(f"client-{n}", "wrong-secret"), "demo-record")
    connector.get_record(OAUTH, "demo-record")
    assert len(connector.tokens._locks) == 0


def test_token_close_to_expiry_is_refreshed_with_the_refresh_token(http, sandbox_url):
    _config(sandbox_url, token_ttl=2)
    connector = FlowizeConnector(http, sandbox_url, token_margin=5)
    connector.get_record(OAUTH, "demo-record")
    key = connector.tokens.key(OAUTH)
    first = connector.tokens.cache.get(key)
    assert connector.tokens.fetches == 1

    connector.get_record(OAUTH, "demo-record")  # 2 s left < 5 s margin: renewed first
    second = connector.tokens.cache.get(key)
    assert connector.tokens.fetches == 2
    assert second.access_token != first.access_token
    # refreshtoken keeps the refresh token; checkauthentication would have issued a new one.
    assert second.refresh_token == first.refresh_token


def test_rejected_cached_token_is_renewed_and_the_call_succeeds(connector):
    key = connector.tokens.key(OAUTH)
    connector.tokens.cache.put(key, StoredToken("bogus", None, time.time() + 3600))
    got = connector.get_record(OAUTH, "demo-record")
    assert got.resource["info"]["uuid"] == "demo-record"
    assert connector.tokens.fetches == 1
    assert connector.tokens.cache.get(key).access_token != "bogus"


def test_rejected_token_with_refresh_token_is_refreshed(connector):
    connector.get_record(OAUTH, "demo-record")
    key = connector.tokens.key(OAUTH)
    real = connector.tokens.cache.get(key)
    connector.tokens.cache.put(key, StoredToken("bogus", real.refresh_token, time.time() + 3600))
    assert connector.get_record(OAUTH, "demo-record").status == 200
    renewed = connector.tokens.cache.get(key)
    assert renewed.access_token not in ("bogus", real.access_token)
    assert renewed.refresh_token == real.refresh_token
    assert connector.tokens.fetches == 2


def test_connectors_sharing_a_store_token_cache_fetch_the_token_once(http, sandbox_url, tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'gateway.db'}")
    store.migrate()
    try:
        box = SecretBox(SecretBox.generate_key())
        cache = StoreTokenCache(TokenRepository(store, box))
        first = FlowizeConnector(http, sandbox_url, token_cache=cache)
        second = FlowizeConnector(HttpClient(Settings(http_retries=0)), sandbox_url,
                                  token_cache=StoreTokenCache(TokenRepository(store, box)))
        first.get_record(OAUTH, "demo-record")
        second.get_record(OAUTH, "demo-record")
        second.search_records(OAUTH, uuid="demo-record")
        assert first.tokens.fetches + second.tokens.fetches == 1
        assert second.tokens.fetches == 0
    finally:
        store.dispose()


def test_queue_change_is_not_retried_after_a_503(connector, sandbox_url):
    """PUT is idempotent in general, but execute-queue runs the flow again: the connector opts out."""
    add_fault(sandbox_url, path="/v1/record/changestatus", method="PUT", status=503, times=1)
    with pytest.raises(UpstreamError):
        connector.change_status(APIKEY, "execute-queue", ["demo-record"])
    row = connector.search_records(APIKEY, uuid="demo-record").resource["records"][0]
    assert row["num_runs"] == "1"  # the seeded value: the action never reached the sandbox


def test_rate_windows_are_kept_per_credential_including_oauth_client_credentials(connector, sandbox_url):
    """The sandbox counts unauthenticated calls by address and token requests by client_id: a spent
    window for the one must not stop the client from sending the other."""
    _config(sandbox_url, rate_limit=1)
    connector.webhook("demo-webhook", "{}")  # spends the window of unauthenticated calls
    with pytest.raises(RateLimited):
        connector.webhook("demo-webhook", "{}")
    assert connector.get_record(OAUTH, "demo-record").status == 200  # checkauthentication, then the call

"""FlowizeOperations: which credentials go upstream, and what is refused before any HTTP call.

Calls that must not reach the vendor use a connector pointed at an unused loopback port: had they
called out, they would raise UpstreamUnavailable instead of the asserted error.
"""

from __future__ import annotations

import socket

import pytest

from gateway.config import Settings
from gateway.connectors.flowize import FlowizeConnector
from gateway.credentials import FlowizeCredentials
from gateway.errors import AuthError, InvalidRequest, UpstreamUnavailable
from gateway.http import HttpClient
from gateway.operations.flowize import FlowizeOperations

DEMO = FlowizeCredentials.api_keys("demo-api-key", "demo-app")
WRONG = FlowizeCredentials.api_keys("wrong-key", "wrong-app")


def _settings() -> Settings:
    return Settings(http_retries=0, http_connect_timeout=0.3, http_read_timeout=0.5)


@pytest.fixture
def http_client():
    client = HttpClient(_settings())
    yield client
    client.close()


@pytest.fixture
def offline(http_client):
    """Operations over a connector whose vendor is not listening: any HTTP call fails loudly."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return FlowizeOperations(FlowizeConnector(http_client, f"http://127.0.0.1:{port}"))


@pytest.fixture
def passthrough(http_client, sandbox_url):
    return FlowizeOperations(FlowizeConnector(http_client, sandbox_url))


@pytest.fixture
def held(http_client, sandbox_url):
    return FlowizeOperations(FlowizeConnector(http_client, sandbox_url), held=DEMO)


def test_offline_connector_really_fails_when_it_calls_out(offline):
    with pytest.raises(UpstreamUnavailable):
        offline.get_record(DEMO, "demo-record")


# -- credentials -----------------------------------------------------------------------------------
def test_passthrough_without_credentials_is_auth_error(offline):
    with pytest.raises(AuthError) as err:
        offline.get_record(None, "demo-record")
    assert err.value.status == 401


def test_passthrough_uses_the_presented_credentials(passthrough):
    assert passthrough.get_record(DEMO, "demo-record").resource["info"]["uuid"] == "demo-record"
    with pytest.raises(AuthError):
        passthrough.get_record(WRONG, "demo-record")


def test_gateway_held_credentials_override_the_presented_ones(held):
    outcome = held.get_record(WRONG, "demo-record")
    assert outcome.status == 200
    assert outcome.resource["info"]["uuid"] == "demo-record"


def test_gateway_held_credentials_are_used_when_none_are_presented(held):
    assert held.search_records(None, uuid="demo-record").resource["total"] == 1


def test_held_credentials_from_settings_are_none_in_passthrough_mode():
    assert FlowizeCredentials.from_settings(Settings()) is None
    creds = FlowizeCredentials.from_settings(Settings(flowize_auth="apikey", flowize_api_key="k",
                                                      flowize_app_key="a"))
    assert creds is not None and creds.style == "apikey" and creds.api_key == "k"


# -- required fields: refused before any HTTP call ---------------------------------------------------
@pytest.mark.parametrize("call", [
    lambda ops: ops.get_record(DEMO, ""),
    lambda ops: ops.update_record(DEMO, "demo-record", None),
    lambda ops: ops.update_record(DEMO, "", {"a": 1}),
    lambda ops: ops.delete_record(DEMO, ""),
    lambda ops: ops.insert_record(DEMO, {"a": 1}),
    lambda ops: ops.insert_record(DEMO, None, flow="demo-flow"),
    lambda ops: ops.insert_schema(DEMO, "", "e30="),
    lambda ops: ops.update_schema(DEMO, "e30=", ""),
    lambda ops: ops.move_to_flow(DEMO, "", ["demo-record"]),
    lambda ops: ops.move_to_flow(DEMO, "demo-flow-2", []),
    lambda ops: ops.change_queue_status(DEMO, "pause-queue", []),
    lambda ops: ops.webhook("", "{}"),
    lambda ops: ops.webhook("demo-webhook", ""),
    lambda ops: ops.get_flow_diagram(DEMO, ""),
    lambda ops: ops.change_flow_status(DEMO, "", "public"),
    lambda ops: ops.keystore_get(DEMO, "weather", ""),
    lambda ops: ops.keystore_put(DEMO, "", "k", {"a": 1}),
    lambda ops: ops.keystore_delete(DEMO, "weather", ""),
    lambda ops: ops.keystore_search(DEMO, "", {}),
    lambda ops: ops.table_search(DEMO, "", {}),
    lambda ops: ops.check_authentication("demo-client-id", ""),
    lambda ops: ops.refresh_token("demo-client-id", "demo-client-secret", ""),
], ids=["get_record", "update_record-data", "update_record-uuid", "delete_record", "insert_record-flow",
        "insert_record-data", "insert_schema", "update_schema", "move_to_flow-target", "move_to_flow-uuids",
        "change_queue_status-uuids", "webhook-uri", "webhook-payload", "get_flow_diagram",
        "change_flow_status-id", "keystore_get", "keystore_put", "keystore_delete", "keystore_search",
        "table_search", "check_authentication", "refresh_token"])
def test_missing_required_field_is_invalid_request_without_any_http_call(offline, call):
    with pytest.raises(InvalidRequest) as err:
        call(offline)
    assert err.value.status == 400
    assert "Missing required field" in err.value.message


def test_invalid_queue_action_is_invalid_request_without_any_http_call(offline):
    with pytest.raises(InvalidRequest) as err:
        offline.change_queue_status(DEMO, "explode-queue", ["demo-record"])
    assert "pause-queue" in err.value.message


def test_invalid_flow_status_is_invalid_request_without_any_http_call(offline):
    with pytest.raises(InvalidRequest) as err:
        offline.change_flow_status(DEMO, "3", "draft")
    assert "public" in err.value.message


def test_valid_queue_action_reaches_the_vendor(passthrough):
    outcome = passthrough.change_queue_status(DEMO, "pause-queue", ["demo-record"])
    assert outcome.resource["records"][0]["queue_status_key"] == "Paused"

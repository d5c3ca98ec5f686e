"""``/api/records`` and ``/api/flows`` over real HTTP: the session's gateway in front of the sandbox.

No mocks: what the vendor did is checked at the sandbox itself (or through the gateway's /v1 door),
vendor failures come from the sandbox's fault rules.
"""

from __future__ import annotations

import re
import uuid

import pytest
import requests
from api.conftest import DEMO, assert_problem
from support import DEMO_HEADERS, add_fault, gateway_with

from gateway.operations.records import SANDBOX_API_KEY, SANDBOX_APP_KEY
from gateway.sandbox.flowize.seed import DEMO as SANDBOX_DEMO

UUID4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
DATA = {"client": [{"name": "Ada", "age": 36}]}
T = 10  # seconds, every request


@pytest.fixture(params=["demo", "own-upstream", "no-upstream"])
def caller(request, consumer_key) -> dict[str, str]:
    """The three kinds of caller: the embedded demo key; a consumer with its own upstream Flowize
    credentials; a consumer without (the gateway's fall back to the sandbox demo customer)."""
    if request.param == "demo":
        return dict(DEMO)
    if request.param == "own-upstream":
        key = consumer_key("records", upstream_style="apikey", upstream_api_key="demo-api-key",
                           upstream_app_key="demo-app")
    else:
        key = consumer_key("records")
    return {"Authorization": f"Bearer {key}"}


def _post(api_url: str, headers: dict, body, **kw) -> requests.Response:
    return requests.post(api_url + "/records", json=body, headers=headers, timeout=T, **kw)


def test_record_lifecycle(api_url, caller):
    created = _post(api_url, caller, {"flow": "demo-flow", "data": DATA})
    assert created.status_code == 201, created.text
    body = created.json()
    assert UUID4.fullmatch(body["uuid"]), body
    assert body["flow"] == "demo-flow" and body["data"] == DATA and body["flow_id"] == "1"
    assert created.headers["Location"] == f"/api/records/{body['uuid']}"
    assert created.headers["Content-Type"] == "application/json"
    url = api_url + "/records/" + body["uuid"]

    got = requests.get(url, headers=caller, timeout=T)
    assert got.status_code == 200, got.text
    record = got.json()
    assert record["uuid"] == body["uuid"] and record["data"] == DATA
    assert record["flow_id"] == "1" and record["status"] == "Finished" and record["created_at"]

    changed = {"client": [{"name": "Ada", "age": 37}]}
    put = requests.put(url, json={"data": changed}, headers=caller, timeout=T)
    assert put.status_code == 200, put.text
    assert put.json()["uuid"] == body["uuid"] and put.json()["data"] == changed and put.json()["flow"] == "demo-flow"
    assert requests.get(url, headers=caller, timeout=T).json()["data"] == changed

    gone = requests.delete(url, headers=caller, timeout=T)
    assert gone.status_code == 204 and gone.content == b""
    assert_problem(requests.get(url, headers=caller, timeout=T), 404, "not_found")
    assert_problem(requests.delete(url, headers=caller, timeout=T), 404, "not_found")
    assert_problem(requests.put(url, json={"data": {}}, headers=caller, timeout=T), 404, "not_found")


def test_generated_uuid_is_the_vendors_record_uuid(api_url, sandbox_url):
    uid = _post(api_url, DEMO, {"flow": "demo-flow", "data": DATA}).json()["uuid"]
    at_vendor = requests.get(f"{sandbox_url}/v1/record/{uid}", headers=DEMO_HEADERS, timeout=T)
    assert at_vendor.status_code == 200, at_vendor.text
    assert at_vendor.json()["resource"]["info"]["uuid"] == uid
    assert at_vendor.json()["resource"]["data_record"] == DATA
    # ... and a /v1 REST consumer of the same Flowize customer finds it under that uuid too.
    v1 = requests.get(f"{api_url.removesuffix('/api')}/v1/record/{uid}", headers=DEMO_HEADERS, timeout=T)
    assert v1.status_code == 200 and v1.json()["resource"]["info"]["uuid"] == uid


def test_given_uuid_is_kept_and_a_second_create_conflicts(api_url, sandbox_url):
    uid = str(uuid.uuid4())
    created = _post(api_url, DEMO, {"uuid": uid, "flow": "demo-flow", "data": DATA})
    assert created.status_code == 201 and created.json()["uuid"] == uid
    assert requests.get(f"{sandbox_url}/v1/record/{uid}", headers=DEMO_HEADERS, timeout=T).status_code == 200
    assert_problem(_post(api_url, DEMO, {"uuid": uid, "flow": "demo-flow", "data": {}}), 409, "conflict")


def test_records_made_elsewhere_are_readable_by_their_custom_id(api_url):
    got = requests.get(api_url + "/records/demo-record", headers=DEMO, timeout=T)
    assert got.status_code == 200, got.text
    assert got.json()["data"]["client"][0]["name"] == "Demo Client"


def test_scheduled_record_carries_its_execution_time(api_url):
    when = "2031-08-15T15:52:01+00:00"
    created = _post(api_url, DEMO, {"flow": "demo-flow", "data": DATA, "execution_time": when})
    assert created.status_code == 201 and created.json()["scheduled_at"] == when
    got = requests.get(api_url + "/records/" + created.json()["uuid"], headers=DEMO, timeout=T)
    assert got.json()["status"] == "Scheduled"


def test_record_flow_may_be_given_by_its_id(api_url):
    created = _post(api_url, DEMO, {"flow": "2", "data": DATA})
    assert created.status_code == 201, created.text
    assert created.json()["flow"] == "demo-flow-2" and created.json()["flow_id"] == "2"


def test_unknown_flow_is_a_404_problem(api_url):
    body = assert_problem(_post(api_url, DEMO, {"flow": "no-such-flow", "data": DATA}), 404, "not_found")
    assert "no-such-flow" in body["detail"]


# -- who may call ----------------------------------------------------------------------------------
def test_wrong_or_missing_key_is_401(api_url):
    assert_problem(_post(api_url, {"X-Apikey": "fg_wrong"}, {"flow": "demo-flow", "data": DATA}), 401, "unauthorized")
    assert_problem(requests.get(api_url + "/records/demo-record", timeout=T), 401, "unauthorized")


def test_key_without_records_scope_is_403(api_url, consumer_key):
    headers = {"X-Apikey": consumer_key("qr,events")}
    assert_problem(_post(api_url, headers, {"flow": "demo-flow", "data": DATA}), 403, "forbidden")
    assert_problem(requests.get(api_url + "/records/demo-record", headers=headers, timeout=T), 403, "forbidden")
    assert_problem(requests.get(api_url + "/flows/demo-flow", headers=headers, timeout=T), 403, "forbidden")
    # The scope is checked before the body is read.
    assert_problem(requests.put(api_url + "/flows/demo-flow/status", data="{", headers=headers, timeout=T),
                   403, "forbidden")


def test_admin_scope_reaches_records(api_url, consumer_key):
    headers = {"X-Apikey": consumer_key("admin")}
    assert requests.get(api_url + "/records/demo-record", headers=headers, timeout=T).status_code == 200


def test_consumer_own_upstream_credentials_are_the_ones_used(api_url, consumer_key):
    """A consumer whose own Flowize key is wrong fails, though the gateway could fall back to the
    demo customer: its own credentials win. Flowize refusing them is the gateway's problem (502),
    never a 401 the consumer would blame on its own key, and the key is not shown."""
    key = consumer_key("records", upstream_style="apikey", upstream_api_key="wrong-flowize-key",
                       upstream_app_key="demo-app")
    resp = _post(api_url, {"X-Apikey": key}, {"flow": "demo-flow", "data": DATA})
    body = assert_problem(resp, 502, "vendor_error")
    assert "wrong-flowize-key" not in resp.text and "credentials" in body["detail"]


def test_flowize_refusing_the_gateways_address_is_502(api_url, consumer_key):
    key = consumer_key("records", upstream_style="apikey", upstream_api_key="demo-api-key",
                       upstream_app_key="demo-app-restricted")
    assert_problem(requests.get(api_url + "/records/demo-record", headers={"X-Apikey": key}, timeout=T),
                   502, "vendor_error")


def test_answers_never_show_flowize_credentials(api_url, consumer_key):
    headers = {"X-Apikey": consumer_key("records")}
    created = _post(api_url, headers, {"flow": "demo-flow", "data": DATA})
    flow = requests.get(api_url + "/flows/demo-flow", headers=headers, timeout=T)
    for resp in (created, flow):
        assert resp.status_code in (200, 201), resp.text
        assert "demo-app" not in resp.text and "demo-api-key" not in resp.text


def test_sandbox_demo_keys_match_the_sandbox_seed():
    assert (SANDBOX_API_KEY, SANDBOX_APP_KEY) == (SANDBOX_DEMO["api_key"], SANDBOX_DEMO["app_key"])


# -- validation: before any vendor call ----------------------------------------------------------------
@pytest.fixture
def vendor_broken(sandbox_url):
    """Every Flowize call fails with a 500: a test still passing made no vendor call."""
    add_fault(sandbox_url, path="/v1/*", status=500)


@pytest.mark.parametrize(("body", "fields"), [
    ({"data": DATA}, {"flow"}),
    ({"flow": 5, "data": DATA}, {"flow"}),
    ({"flow": "", "data": DATA}, {"flow"}),
    ({"flow": "dé\u20acmo", "data": DATA}, {"flow"}),
    ({"flow": "demo-flow"}, {"data"}),
    ({"flow": "demo-flow", "data": [1, 2]}, {"data"}),
    ({"flow": "demo-flow", "data": "text"}, {"data"}),
    ({"flow": "demo-flow", "data": DATA, "uuid": "not-a-uuid"}, {"uuid"}),
    ({"flow": "demo-flow", "data": DATA, "uuid": 42}, {"uuid"}),
    ({"flow": "demo-flow", "data": DATA, "execution_time": "tomorrow"}, {"execution_time"}),
    ({"flow": None, "data": None, "uuid": "x"}, {"flow", "data", "uuid"}),
])
def test_invalid_create_body_is_422_listing_each_field(api_url, vendor_broken, body, fields):
    problem = assert_problem(_post(api_url, DEMO, body), 422, "invalid_body")
    assert {e["field"] for e in problem["errors"]} == fields
    assert all(e["reason"] for e in problem["errors"])


def test_invalid_update_body_is_422(api_url, vendor_broken):
    url = api_url + "/records/demo-record"
    problem = assert_problem(requests.put(url, json={"data": [1]}, headers=DEMO, timeout=T), 422, "invalid_body")
    assert problem["errors"] == [{"field": "data", "reason": "must be a JSON object"}]
    problem = assert_problem(requests.put(url, json={"uuid": "other", "data": {}}, headers=DEMO, timeout=T), 422)
    assert [e["field"] for e in problem["errors"]] == ["uuid"]


def test_body_that_is_not_an_object_is_422(api_url, vendor_broken):
    problem = assert_problem(_post(api_url, DEMO, [{"flow": "demo-flow"}]), 422, "invalid_body")
    assert problem["errors"][0]["field"] == ""


def test_malformed_json_is_400(api_url, vendor_broken):
    resp = requests.post(api_url + "/records", data='{"flow": "demo-flow",', timeout=T,
                         headers={**DEMO, "Content-Type": "application/json"})
    assert_problem(resp, 400, "invalid_json")
    resp = requests.put(api_url + "/records/demo-record", data="{", timeout=T,
                        headers={**DEMO, "Content-Type": "application/json"})
    assert_problem(resp, 400, "invalid_json")


def test_identifier_flowize_cannot_take_is_422(api_url, vendor_broken):
    problem = assert_problem(requests.get(api_url + "/records/%E2%82%AC", headers=DEMO, timeout=T), 422)
    assert problem["errors"][0]["field"] == "uuid"


# -- vendor failures ----------------------------------------------------------------------------------
def test_vendor_429_is_429_with_retry_after(api_url, sandbox_url):
    add_fault(sandbox_url, path="/v1/record", method="POST", status=429, retry_after=7)
    resp = _post(api_url, DEMO, {"flow": "demo-flow", "data": DATA})
    assert_problem(resp, 429, "rate_limited")
    assert resp.headers["Retry-After"] == "7"


def test_vendor_429_with_a_long_retry_after_is_not_waited_for(api_url, sandbox_url):
    add_fault(sandbox_url, path="/v1/record", method="GET", status=429, retry_after=120)
    resp = requests.get(api_url + "/records/demo-record", headers=DEMO, timeout=T)
    assert_problem(resp, 429, "rate_limited")
    assert resp.headers["Retry-After"] == "120"


def test_vendor_5xx_is_502(api_url, sandbox_url):
    add_fault(sandbox_url, path="/v1/record", method="POST", status=500)
    body = assert_problem(_post(api_url, DEMO, {"flow": "demo-flow", "data": DATA}), 502, "vendor_error")
    assert "Flowize" in body["detail"]


def test_vendor_dropping_the_connection_is_503(api_url, sandbox_url):
    add_fault(sandbox_url, path="/v1/record", drop=True)
    assert_problem(requests.get(api_url + "/records/demo-record", headers=DEMO, timeout=T), 503,
                   "vendor_unavailable")


def test_vendor_too_slow_is_504(tmp_path, sandbox_url):
    server = gateway_with(tmp_path, sandbox_url, http_read_timeout=0.3, http_retries=0)
    try:
        add_fault(sandbox_url, path="/v1/record", method="GET", latency_ms=800)
        resp = requests.get(server.url + "/api/records/demo-record", headers=DEMO, timeout=T)
        assert_problem(resp, 504, "vendor_timeout")
    finally:
        server.shutdown()


# -- credentials outside embedded mode ----------------------------------------------------------------
def _consumer_in(server, **fields) -> str:
    consumers = server.server.app.extensions["flowgate"].consumers
    return consumers.add(f"c-{uuid.uuid4().hex[:8]}", scopes="records", **fields).key


def test_without_any_flowize_credentials_outside_embedded_mode_is_a_500_problem(tmp_path, sandbox_url):
    server = gateway_with(tmp_path, sandbox_url, embedded=False)
    try:
        key = _consumer_in(server)
        resp = requests.get(server.url + "/api/records/demo-record", headers={"X-Apikey": key}, timeout=T)
        body = assert_problem(resp, 500, "internal_error")
        assert body["detail"] == "No upstream Flowize credentials are configured."
        # A consumer with its own credentials still works there.
        own = _consumer_in(server, upstream_style="url", upstream_api_key="demo-api-key", upstream_app_key="demo-app")
        resp = requests.get(server.url + "/api/records/demo-record", headers={"X-Apikey": own}, timeout=T)
        assert resp.status_code == 200, resp.text
    finally:
        server.shutdown()


def test_gateway_held_settings_credentials_are_used(tmp_path, sandbox_url):
    server = gateway_with(tmp_path, sandbox_url, embedded=False, flowize_auth="oauth",
                          flowize_client_id="demo-client-id", flowize_client_secret="demo-client-secret")
    try:
        headers = {"X-Apikey": _consumer_in(server)}
        created = requests.post(server.url + "/api/records", json={"flow": "demo-flow", "data": DATA},
                                headers=headers, timeout=T)
        assert created.status_code == 201, created.text
        got = requests.get(server.url + created.headers["Location"], headers=headers, timeout=T)
        assert got.status_code == 200 and got.json()["data"] == DATA
    finally:
        server.shutdown()


# -- flows -------------------------------------------------------------------------------------------
def test_get_flow_by_name_and_by_id(api_url):
    by_name = requests.get(api_url + "/flows/demo-flow", headers=DEMO, timeout=T)
    assert by_name.status_code == 200, by_name.text
    flow = by_name.json()
    assert flow["name"] == "demo-flow" and flow["id"] == "1" and flow["status"] == "running"
    assert flow["version"] == 1 and flow["diagram"]["steps"] and flow["versions"]
    assert "customer" not in flow
    by_id = requests.get(api_url + "/flows/1", headers=DEMO, timeout=T)
    assert by_id.status_code == 200 and by_id.json() == flow


def test_unknown_flow_is_404(api_url):
    assert_problem(requests.get(api_url + "/flows/no-such-flow", headers=DEMO, timeout=T), 404, "not_found")
    assert_problem(requests.get(api_url + "/flows/999", headers=DEMO, timeout=T), 404, "not_found")


def test_change_flow_status_by_name_and_by_id(api_url, consumer_key):
    headers = {"X-Apikey": consumer_key("records")}
    paused = requests.put(api_url + "/flows/demo-flow/status", json={"status": "paused"}, headers=headers, timeout=T)
    assert paused.status_code == 200, paused.text
    assert paused.json()["status"] == "paused" and paused.json()["name"] == "demo-flow"
    assert requests.get(api_url + "/flows/demo-flow", headers=headers, timeout=T).json()["status"] == "paused"
    resumed = requests.put(api_url + "/flows/1/status", json={"status": "running"}, headers=headers, timeout=T)
    assert resumed.status_code == 200 and resumed.json()["status"] == "running"
    # Publishing a draft makes it run.
    published = requests.put(api_url + "/flows/demo-draft/status", json={"status": "public"}, headers=headers,
                             timeout=T)
    assert published.status_code == 200 and published.json()["status"] == "running"


def test_impossible_flow_status_change_is_the_vendors_402(api_url):
    resp = requests.put(api_url + "/flows/demo-flow/status", json={"status": "running"}, headers=DEMO, timeout=T)
    assert_problem(resp, 402, "request_failed")


def test_unknown_flow_status_change_is_404(api_url):
    resp = requests.put(api_url + "/flows/no-such-flow/status", json={"status": "paused"}, headers=DEMO, timeout=T)
    assert_problem(resp, 404, "not_found")


@pytest.mark.parametrize(("body", "fields"), [
    ({}, ["status"]),
    ({"status": "stopped"}, ["status"]),
    ({"status": 1}, ["status"]),
])
def test_invalid_flow_status_is_422(api_url, vendor_broken, body, fields):
    resp = requests.put(api_url + "/flows/demo-flow/status", json=body, headers=DEMO, timeout=T)
    problem = assert_problem(resp, 422, "invalid_body")
    assert [e["field"] for e in problem["errors"]] == fields
    assert "public, paused, running, inactive" in problem["errors"][0]["reason"] or body == {}

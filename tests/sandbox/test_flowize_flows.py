"""Flowize sandbox over real HTTP: "Webhooks" (POST /v1/webhook/{uri}) and "Flows" (flowdiagram,
changeflowstatus)."""

from __future__ import annotations

from datetime import datetime

import pytest
from support import DEMO_HEADERS, DEMO_PARAMS


def _assert_error(resp, status: int) -> None:
    assert resp.status_code == status, resp.text
    assert resp.json()["resource"] == []
    assert resp.json()["error"]["code"] == status


# -- webhook -------------------------------------------------------------------------------------
def test_webhook_gives_201_with_documented_resource(http, sandbox_url):
    resp = http.post(sandbox_url + "/v1/webhook/demo-webhook", json={"order": 7, "total": "12.50"}, timeout=5)
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["message"] == "Data stored successfully"
    res = body["resource"]
    assert set(res) == {"_id", "customer_id", "plugin_id", "application_id", "date_created", "data"}
    assert isinstance(res["_id"]["$id"], str) and res["_id"]["$id"]
    assert res["customer_id"] == "1"
    assert res["plugin_id"] and res["application_id"] == "demo-app"
    assert res["data"] == {"flow_id": "1"}
    assert datetime.fromisoformat(res["date_created"]).tzinfo is not None  # 2016-05-03T14:27:20+02:00


def test_webhook_creates_a_record_in_its_flow(http, sandbox_url):
    resp = http.post(sandbox_url + "/v1/webhook/demo-webhook", json={"order": 7}, timeout=5)
    ident = resp.json()["resource"]["_id"]["$id"]
    got = http.get(sandbox_url + f"/v1/record/{ident}", headers=DEMO_HEADERS, timeout=5)
    assert got.status_code == 200
    assert got.json()["resource"]["data_record"] == {"order": 7}
    assert got.json()["resource"]["info"]["flow_id"] == "1"


def test_webhook_needs_no_credentials_but_unknown_uri_gives_404(http, sandbox_url):
    _assert_error(http.post(sandbox_url + "/v1/webhook/no-such-hook", json={"a": 1}, timeout=5), 404)


def test_webhook_with_empty_payload_gives_400(http, sandbox_url):
    resp = http.post(sandbox_url + "/v1/webhook/demo-webhook", data=b"",
                     headers={"Content-Type": "application/json"}, timeout=5)
    _assert_error(resp, 400)


def test_webhook_accepts_a_non_json_payload(http, sandbox_url):
    resp = http.post(sandbox_url + "/v1/webhook/demo-webhook", data=b"a=1&b=2",
                     headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=5)
    assert resp.status_code == 201


def test_webhook_ids_are_unique(http, sandbox_url):
    ids = {http.post(sandbox_url + "/v1/webhook/demo-webhook", json={"n": n}, timeout=5).json()["resource"]["_id"]["$id"]
           for n in range(3)}
    assert len(ids) == 3


# -- flowdiagram ---------------------------------------------------------------------------------
def _check_diagram(resp, name: str) -> dict:
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["message"] == "Flow diagram is retrieving successfully"
    res = body["resource"]
    assert set(res) == {"customer", "flow_name", "description", "current_flow", "versions"}
    assert res["customer"] == "Demo"
    assert res["flow_name"] == name
    return res


def test_flowdiagram_by_x_flow_header(http, sandbox_url):
    resp = http.get(sandbox_url + "/v1/flowdiagram", timeout=5,
                    headers={**DEMO_HEADERS, "X-Flow": "demo-flow", "X-Scopes": "flowdiagram.read"})
    res = _check_diagram(resp, "demo-flow")
    assert res["current_flow"]["status"] == "running"
    assert res["current_flow"]["diagram"]["steps"][0]["type"] == "start"


def test_flowdiagram_by_flow_name_param(http, sandbox_url):
    resp = http.get(sandbox_url + "/v1/flowdiagram", timeout=5,
                    params={**DEMO_PARAMS, "flow_name": "demo-draft", "scopes": "schema.read"})
    res = _check_diagram(resp, "demo-draft")
    assert res["current_flow"]["status"] == "draft"


def test_flowdiagram_unknown_flow_gives_404(http, sandbox_url):
    _assert_error(http.get(sandbox_url + "/v1/flowdiagram", headers={**DEMO_HEADERS, "X-Flow": "nope"}, timeout=5),
                  404)


def test_flowdiagram_without_flow_gives_400(http, sandbox_url):
    _assert_error(http.get(sandbox_url + "/v1/flowdiagram", headers=DEMO_HEADERS, timeout=5), 400)


def test_flowdiagram_without_credentials_gives_401(http, sandbox_url):
    _assert_error(http.get(sandbox_url + "/v1/flowdiagram", headers={"X-Flow": "demo-flow"}, timeout=5), 401)


# -- changeflowstatus ----------------------------------------------------------------------------
def _change(http, sandbox_url, flow_id, status):
    headers = {**DEMO_HEADERS, "X-Scopes": "flowdiagram"}
    if flow_id is not None:
        headers["X-Flow-Id"] = str(flow_id)
    if status is not None:
        headers["X-Status"] = status
    return http.put(sandbox_url + "/v1/changeflowstatus", headers=headers, timeout=5)


def _status(http, sandbox_url, name) -> str:
    resp = http.get(sandbox_url + "/v1/flowdiagram", headers={**DEMO_HEADERS, "X-Flow": name}, timeout=5)
    return resp.json()["resource"]["current_flow"]["status"]


def test_publishing_a_draft_flow(http, sandbox_url):
    resp = _change(http, sandbox_url, 3, "public")
    assert resp.status_code == 200, resp.text
    assert resp.json()["id"] == "ok"
    assert resp.json()["resource"] == ""
    assert "published" in resp.json()["message"]
    assert _status(http, sandbox_url, "demo-draft") == "running"


def test_records_sent_to_a_published_flow_run(http, sandbox_url):
    _change(http, sandbox_url, 3, "public")
    http.post(sandbox_url + "/v1/record", json={"a": 1}, headers={**DEMO_HEADERS, "X-Flow": "demo-draft",
                                                                  "X-Uuid": "pub-1"}, timeout=5)
    info = http.get(sandbox_url + "/v1/record/pub-1", headers=DEMO_HEADERS, timeout=5).json()["resource"]["info"]
    assert info["status"] == "Finished"


def test_pausing_a_running_flow(http, sandbox_url):
    resp = _change(http, sandbox_url, 1, "paused")
    assert resp.status_code == 200
    assert resp.json()["message"] == "Flow diagram has been stopped successfully"
    assert _status(http, sandbox_url, "demo-flow") == "paused"


def test_records_sent_to_a_paused_flow_wait(http, sandbox_url):
    _change(http, sandbox_url, 1, "paused")
    http.post(sandbox_url + "/v1/record", json={"a": 1}, headers={**DEMO_HEADERS, "X-Flow": "demo-flow",
                                                                  "X-Uuid": "wait-1"}, timeout=5)
    info = http.get(sandbox_url + "/v1/record/wait-1", headers=DEMO_HEADERS, timeout=5).json()["resource"]["info"]
    assert info["status"] == "Not running"


def test_pausing_a_paused_flow_gives_402(http, sandbox_url):
    assert _change(http, sandbox_url, 1, "paused").status_code == 200
    _assert_error(_change(http, sandbox_url, 1, "paused"), 402)


def test_resuming_a_paused_flow(http, sandbox_url):
    _change(http, sandbox_url, 2, "paused")
    resp = _change(http, sandbox_url, 2, "running")
    assert resp.status_code == 200
    assert "resumed" in resp.json()["message"]
    assert _status(http, sandbox_url, "demo-flow-2") == "running"


def test_deactivating_a_flow(http, sandbox_url):
    assert _change(http, sandbox_url, 2, "inactive").status_code == 200
    assert _status(http, sandbox_url, "demo-flow-2") == "inactive"


def test_publishing_a_running_flow_gives_402(http, sandbox_url):
    _assert_error(_change(http, sandbox_url, 1, "public"), 402)
    assert _status(http, sandbox_url, "demo-flow") == "running"


@pytest.mark.parametrize("status", ["stopped", "PAUSED", "", None])
def test_invalid_status_gives_400(http, sandbox_url, status):
    _assert_error(_change(http, sandbox_url, 1, status), 400)


def test_unknown_flow_id_gives_404(http, sandbox_url):
    _assert_error(_change(http, sandbox_url, 999, "paused"), 404)


def test_missing_flow_id_gives_400(http, sandbox_url):
    _assert_error(_change(http, sandbox_url, None, "paused"), 400)


def test_changeflowstatus_with_url_params(http, sandbox_url):
    resp = http.put(sandbox_url + "/v1/changeflowstatus", timeout=5,
                    params={**DEMO_PARAMS, "scopes": "flowdiagram", "flow_id": "1", "status": "paused"})
    assert resp.status_code == 200, resp.text
    assert _status(http, sandbox_url, "demo-flow") == "paused"

"""Flowize sandbox over real HTTP: "Data Record" (POST, GET, PUT, DELETE /v1/record; X-Flow, X-Uuid,
X-Executiontime; JSON and XML bodies)."""

from __future__ import annotations

import uuid as uuidlib

import pytest
from lxml import etree
from support import DEMO_HEADERS, DEMO_PARAMS

DATA = {"client": [{"uuid": "c-1", "name": "Ada", "age": 36}]}


def _insert(http, sandbox_url, data=None, *, flow="demo-flow", record_id=None, headers=None, **kw):
    h = {**DEMO_HEADERS, "X-Flow": flow, **(headers or {})}
    if record_id:
        h["X-Uuid"] = record_id
    return http.post(sandbox_url + "/v1/record", json=data if data is not None else DATA, headers=h, timeout=5, **kw)


def _get(http, sandbox_url, record_id):
    return http.get(sandbox_url + "/v1/record", headers={**DEMO_HEADERS, "X-Uuid": record_id}, timeout=5)


def _assert_error(resp, status: int) -> None:
    assert resp.status_code == status, resp.text
    assert resp.json()["resource"] == []
    assert resp.json()["error"]["code"] == status


def new_uuid() -> str:
    return f"test-{uuidlib.uuid4()}"


def test_insert_with_flow_and_uuid_gives_201_with_documented_resource(http, sandbox_url):
    rid = new_uuid()
    resp = _insert(http, sandbox_url, record_id=rid)
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["message"] == "Data Record is created successfully"
    assert body["resource"]["flow_id"] == "1"
    assert body["resource"]["flow_name"] == "demo-flow"
    assert body["resource"]["data_record_id"]
    assert body["resource"]["data_record"] == DATA


def test_insert_without_uuid_generates_one_that_can_be_fetched(http, sandbox_url):
    resp = _insert(http, sandbox_url)
    assert resp.status_code == 201
    rid = resp.json()["resource"]["uuid"]
    assert rid
    assert _get(http, sandbox_url, rid).json()["resource"]["data_record"] == DATA


def test_get_by_x_uuid_header(http, sandbox_url):
    rid = new_uuid()
    _insert(http, sandbox_url, record_id=rid)
    resp = _get(http, sandbox_url, rid)
    assert resp.status_code == 200
    res = resp.json()["resource"]
    assert resp.json()["message"] == "Data Record structure was retrieving successfully"
    assert res["info"]["uuid"] == rid
    assert res["info"]["flow_id"] == "1"
    assert res["info"]["customer_id"]
    assert res["data_record"] == DATA
    assert set(res["flow_process"]) == {"date_started", "date_last_run"}
    assert res["flow_objects_info"] == []


def test_get_by_uuid_url_param(http, sandbox_url):
    rid = new_uuid()
    _insert(http, sandbox_url, record_id=rid)
    resp = http.get(sandbox_url + "/v1/record", params={**DEMO_PARAMS, "uuid": rid}, timeout=5)
    assert resp.status_code == 200
    assert resp.json()["resource"]["info"]["uuid"] == rid


def test_get_by_path(http, sandbox_url):
    rid = new_uuid()
    _insert(http, sandbox_url, record_id=rid)
    resp = http.get(sandbox_url + f"/v1/record/{rid}", headers=DEMO_HEADERS, timeout=5)
    assert resp.status_code == 200
    assert resp.json()["resource"]["data_record"] == DATA


def test_seeded_demo_record_is_finished(http, sandbox_url):
    info = _get(http, sandbox_url, "demo-record").json()["resource"]["info"]
    assert info["status"] == "Finished"


def test_get_without_uuid_gives_400(http, sandbox_url):
    _assert_error(http.get(sandbox_url + "/v1/record", headers=DEMO_HEADERS, timeout=5), 400)


def test_get_unknown_uuid_gives_404(http, sandbox_url):
    _assert_error(_get(http, sandbox_url, "no-such-record"), 404)


def test_record_in_a_running_flow_runs_at_once(http, sandbox_url):
    rid = new_uuid()
    _insert(http, sandbox_url, record_id=rid)
    res = _get(http, sandbox_url, rid).json()["resource"]
    assert res["info"]["status"] == "Finished"
    assert res["flow_process"]["date_started"]


def test_record_in_a_draft_flow_waits(http, sandbox_url):
    rid = new_uuid()
    assert _insert(http, sandbox_url, flow="demo-draft", record_id=rid).status_code == 201
    res = _get(http, sandbox_url, rid).json()["resource"]
    assert res["info"]["status"] == "Not running"
    assert res["flow_process"]["date_started"] == ""


@pytest.mark.parametrize("when", ["2030-08-15T15:52:01+00:00", "2030-11-04T19:55:41Z"])
def test_execution_time_in_atom_schedules_the_record(http, sandbox_url, when):
    rid = new_uuid()
    resp = _insert(http, sandbox_url, record_id=rid, headers={"X-Executiontime": when})
    assert resp.status_code == 201, resp.text
    assert _get(http, sandbox_url, rid).json()["resource"]["info"]["status"] == "Scheduled"


def test_empty_execution_time_runs_in_real_time(http, sandbox_url):
    rid = new_uuid()
    _insert(http, sandbox_url, record_id=rid, headers={"X-Executiontime": ""})
    assert _get(http, sandbox_url, rid).json()["resource"]["info"]["status"] == "Finished"


@pytest.mark.parametrize("when", ["tomorrow", "15-08-2005 15:52:01", "2030-08-15", "2030-08-15T15:52:01"])
def test_execution_time_not_in_atom_gives_400(http, sandbox_url, when):
    rid = new_uuid()
    _assert_error(_insert(http, sandbox_url, record_id=rid, headers={"X-Executiontime": when}), 400)
    _assert_error(_get(http, sandbox_url, rid), 404)


def test_duplicate_uuid_gives_409(http, sandbox_url):
    rid = new_uuid()
    assert _insert(http, sandbox_url, record_id=rid).status_code == 201
    _assert_error(_insert(http, sandbox_url, {"other": True}, record_id=rid), 409)
    assert _get(http, sandbox_url, rid).json()["resource"]["data_record"] == DATA


def test_unknown_flow_gives_404(http, sandbox_url):
    _assert_error(_insert(http, sandbox_url, flow="no-such-flow"), 404)


def test_missing_flow_gives_400(http, sandbox_url):
    resp = http.post(sandbox_url + "/v1/record", json=DATA, headers=DEMO_HEADERS, timeout=5)
    _assert_error(resp, 400)


def test_empty_body_gives_400(http, sandbox_url):
    resp = http.post(sandbox_url + "/v1/record", data=b"", timeout=5,
                     headers={**DEMO_HEADERS, "X-Flow": "demo-flow", "Content-Type": "application/json"})
    _assert_error(resp, 400)


def test_insert_with_url_params(http, sandbox_url):
    rid = new_uuid()
    params = {**DEMO_PARAMS, "flow_name": "demo-flow-2", "uuid": rid}
    resp = http.post(sandbox_url + "/v1/record", params=params, json=DATA, timeout=5)
    assert resp.status_code == 201, resp.text
    assert resp.json()["resource"]["flow_name"] == "demo-flow-2"
    assert _get(http, sandbox_url, rid).json()["resource"]["info"]["flow_id"] == "2"


def test_update_then_get_shows_new_data(http, sandbox_url):
    rid = new_uuid()
    _insert(http, sandbox_url, record_id=rid)
    new = {"client": [{"uuid": "c-1", "name": "Ada Lovelace", "age": 37}]}
    resp = http.put(sandbox_url + "/v1/record", json=new, headers={**DEMO_HEADERS, "X-Uuid": rid}, timeout=5)
    assert resp.status_code == 200, resp.text
    assert resp.json()["message"] == "Data Record was updated successfully"
    assert resp.json()["resource"]["uuid"] == rid
    assert resp.json()["resource"]["flow_name"] == "demo-flow"
    assert _get(http, sandbox_url, rid).json()["resource"]["data_record"] == new


def test_update_by_url_param(http, sandbox_url):
    new = {"client": [{"name": "Changed"}]}
    resp = http.put(sandbox_url + "/v1/record", json=new, params={**DEMO_PARAMS, "uuid": "demo-record"}, timeout=5)
    assert resp.status_code == 200
    assert _get(http, sandbox_url, "demo-record").json()["resource"]["data_record"] == new


def test_update_unknown_record_gives_404(http, sandbox_url):
    resp = http.put(sandbox_url + "/v1/record", json=DATA, headers={**DEMO_HEADERS, "X-Uuid": "nope"}, timeout=5)
    _assert_error(resp, 404)


@pytest.mark.parametrize("header", ["uuid", "X-Uuid"])
def test_delete_by_header_then_get_gives_404(http, sandbox_url, header):
    rid = new_uuid()
    _insert(http, sandbox_url, record_id=rid)
    resp = http.delete(sandbox_url + "/v1/record", headers={**DEMO_HEADERS, header: rid}, timeout=5)
    assert resp.status_code == 200, resp.text
    assert resp.json()["message"] == "Data Record was removed successfully"
    assert resp.json()["resource"] == {"flow_name": "demo-flow", "uuid": rid}
    _assert_error(_get(http, sandbox_url, rid), 404)


def test_delete_by_url_param(http, sandbox_url):
    resp = http.delete(sandbox_url + "/v1/record", params={**DEMO_PARAMS, "uuid": "demo-record"}, timeout=5)
    assert resp.status_code == 200
    _assert_error(_get(http, sandbox_url, "demo-record"), 404)


def test_delete_twice_gives_404(http, sandbox_url):
    http.delete(sandbox_url + "/v1/record", headers={**DEMO_HEADERS, "uuid": "demo-record"}, timeout=5)
    resp = http.delete(sandbox_url + "/v1/record", headers={**DEMO_HEADERS, "uuid": "demo-record"}, timeout=5)
    _assert_error(resp, 404)


def test_xml_request_body_is_accepted(http, sandbox_url):
    rid = new_uuid()
    xml = b"<?xml version='1.0'?><data_record><client><name>Ada</name><age>36</age></client></data_record>"
    resp = http.post(sandbox_url + "/v1/record", data=xml, timeout=5,
                     headers={**DEMO_HEADERS, "X-Flow": "demo-flow", "X-Uuid": rid,
                              "Content-Type": "application/xml", "Accept": "application/json"})
    assert resp.status_code == 201, resp.text
    stored = _get(http, sandbox_url, rid).json()["resource"]["data_record"]
    assert stored == {"client": {"name": "Ada", "age": "36"}}


def test_malformed_xml_body_gives_400(http, sandbox_url):
    resp = http.post(sandbox_url + "/v1/record", data=b"<client><name>", timeout=5,
                     headers={**DEMO_HEADERS, "X-Flow": "demo-flow", "Content-Type": "application/xml",
                              "Accept": "application/json"})
    _assert_error(resp, 400)


def test_xml_response_when_accept_asks_for_it(http, sandbox_url):
    resp = http.get(sandbox_url + "/v1/record/demo-record", timeout=5,
                    headers={**DEMO_HEADERS, "Accept": "application/xml"})
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("application/xml")
    root = etree.fromstring(resp.content)
    assert root.findtext("resource/info/uuid") == "demo-record"
    assert root.findtext("message") == "Data Record structure was retrieving successfully"


def test_xml_error_when_accept_asks_for_xml(http, sandbox_url):
    resp = http.get(sandbox_url + "/v1/record/nope", timeout=5, headers={**DEMO_HEADERS, "Accept": "application/xml"})
    assert resp.status_code == 404
    root = etree.fromstring(resp.content)
    assert root.findtext("error/code") == "404"


def test_json_preferred_by_accept_quality_wins_over_xml(http, sandbox_url):
    resp = http.get(sandbox_url + "/v1/record/demo-record", timeout=5,
                    headers={**DEMO_HEADERS, "Accept": "application/json, application/xml;q=0.5"})
    assert resp.headers["Content-Type"].startswith("application/json")
    assert resp.json()["resource"]["info"]["uuid"] == "demo-record"


def test_xml_preferred_by_accept_quality_wins_over_json(http, sandbox_url):
    resp = http.get(sandbox_url + "/v1/record/demo-record", timeout=5,
                    headers={**DEMO_HEADERS, "Accept": "application/json;q=0.2, application/xml"})
    assert resp.headers["Content-Type"].startswith("application/xml")

"""Flowize sandbox over real HTTP: "Search data records by query", "Execute queue actions"
(changestatus) and "Move to flow"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from support import DEMO_HEADERS, DEMO_PARAMS

SEARCH = "/v1/record/search"


def _insert(http, sandbox_url, rid, data, flow="demo-flow", headers=None):
    resp = http.post(sandbox_url + "/v1/record", json=data, timeout=5,
                     headers={**DEMO_HEADERS, "X-Flow": flow, "X-Uuid": rid, **(headers or {})})
    assert resp.status_code == 201, resp.text


@pytest.fixture
def records(http, sandbox_url):
    """demo-record (seeded, demo-flow, finished) plus five more across flows and states."""
    _insert(http, sandbox_url, "r-1", {"client": [{"name": "Ada", "city": "Leiden"}]})
    _insert(http, sandbox_url, "r-2", {"client": [{"name": "Bob", "city": "Delft"}]})
    _insert(http, sandbox_url, "r-3", {"client": [{"name": "Cy", "city": "Leiden"}]}, flow="demo-flow-2")
    _insert(http, sandbox_url, "r-4", {"client": [{"name": "Di"}]}, flow="demo-draft")
    _insert(http, sandbox_url, "r-5", {"client": [{"name": "Ed"}]}, headers={"X-Executiontime": "2030-01-01T10:00:00+00:00"})
    return ["demo-record", "r-1", "r-2", "r-3", "r-4", "r-5"]


def _search(http, sandbox_url, method="GET", params=None, headers=None, **kw):
    resp = http.request(method, sandbox_url + SEARCH, params={**DEMO_PARAMS, **(params or {})},
                        headers=headers or {}, timeout=5, **kw)
    assert resp.status_code == 200, resp.text
    return resp.json()


def _uuids(body) -> set[str]:
    return {r["uuid"] for r in body["resource"]["records"]}


def _assert_error(resp, status: int) -> None:
    assert resp.status_code == status, resp.text
    assert resp.json()["resource"] == []
    assert resp.json()["error"]["code"] == status


@pytest.mark.parametrize("method", ["GET", "PUT"])
def test_search_answers_get_and_put_with_documented_envelope(http, sandbox_url, records, method):
    body = _search(http, sandbox_url, method)
    assert body["id"] == "ok"
    assert body["code"] == 200
    assert body["request-ip"] == "127.0.0.1"
    assert body["message"] == "The query has been executed successfully."
    assert body["error"] is None
    assert body["resource"]["total"] == 6
    assert body["resource"]["offset"] == 0
    assert body["resource"]["limit"] == 10
    assert _uuids(body) == set(records)
    row = next(r for r in body["resource"]["records"] if r["uuid"] == "demo-record")
    assert row["flow_name"] == "demo-flow"
    assert row["flow_status"] == "2" and row["flow_status_name"] == "Finished"
    assert row["current_step"] == {"type": "end", "text": "end"}
    for key in ("id", "flow_id", "flow_version", "date_created", "date_started", "date_last_run", "date_next_run",
                "queue_status", "dynamic_value", "num_runs"):
        assert key in row


def test_search_by_uuid(http, sandbox_url, records):
    assert _uuids(_search(http, sandbox_url, params={"uuid": "r-2"})) == {"r-2"}


def test_search_by_flow_name(http, sandbox_url, records):
    body = _search(http, sandbox_url, params={"flow_name": "demo-flow"})
    assert _uuids(body) == {"demo-record", "r-1", "r-2", "r-5"}
    assert body["resource"]["total"] == 4


def test_search_by_unknown_flow_name_finds_nothing(http, sandbox_url, records):
    body = _search(http, sandbox_url, params={"flow_name": "no-flow"})
    assert body["resource"]["records"] == [] and body["resource"]["total"] == 0


@pytest.mark.parametrize("status, expected", [("2", {"demo-record", "r-1", "r-2", "r-3"}), ("0", {"r-4"}),
                                              ("4", {"r-5"}), ("1", set())])
def test_search_by_datarecord_status(http, sandbox_url, records, status, expected):
    assert _uuids(_search(http, sandbox_url, params={"datarecord_status": status})) == expected


def test_search_by_bad_datarecord_status_gives_400(http, sandbox_url, records):
    _assert_error(http.get(sandbox_url + SEARCH, params={**DEMO_PARAMS, "datarecord_status": "9"}, timeout=5), 400)


def test_search_by_datafield_name_and_value(http, sandbox_url, records):
    body = _search(http, sandbox_url, params={"datafield_name": "city", "datafield_value": "Leiden"})
    assert _uuids(body) == {"r-1", "r-3"}


def test_search_by_datafield_name_only(http, sandbox_url, records):
    assert _uuids(_search(http, sandbox_url, params={"datafield_name": "city"})) == {"r-1", "r-2", "r-3"}


def test_search_by_datafield_value_without_name_gives_400(http, sandbox_url, records):
    resp = http.get(sandbox_url + SEARCH, params={**DEMO_PARAMS, "datafield_value": "Leiden"}, timeout=5)
    _assert_error(resp, 400)


def test_search_filters_combine(http, sandbox_url, records):
    body = _search(http, sandbox_url, params={"flow_name": "demo-flow", "datafield_name": "city",
                                              "datafield_value": "Leiden"})
    assert _uuids(body) == {"r-1"}


def test_limit_and_offset_page_while_total_counts_all_matches(http, sandbox_url, records):
    first = _search(http, sandbox_url, params={"limit": "4"})
    second = _search(http, sandbox_url, params={"limit": "4", "offset": "4"})
    assert len(first["resource"]["records"]) == 4
    assert len(second["resource"]["records"]) == 2
    assert first["resource"]["total"] == second["resource"]["total"] == 6
    assert second["resource"]["offset"] == 4 and second["resource"]["limit"] == 4
    assert _uuids(first) | _uuids(second) == set(records)
    assert not _uuids(first) & _uuids(second)


def test_offset_past_the_end_gives_empty_page_with_total(http, sandbox_url, records):
    body = _search(http, sandbox_url, params={"offset": "100"})
    assert body["resource"]["records"] == [] and body["resource"]["total"] == 6


@pytest.mark.parametrize("params", [{"limit": "ten"}, {"limit": "0"}, {"limit": "-1"}, {"offset": "x"},
                                    {"offset": "-1"}])
def test_bad_limit_or_offset_gives_400(http, sandbox_url, params):
    _assert_error(http.get(sandbox_url + SEARCH, params={**DEMO_PARAMS, **params}, timeout=5), 400)


def _days(delta: int) -> datetime:
    return datetime.now(UTC) + timedelta(days=delta)


@pytest.mark.parametrize("fmt", ["%d-%m-%Y %H:%M:%S", "%Y-%m-%d %H:%M:%S"])
def test_search_by_date_from_in_both_formats(http, sandbox_url, records, fmt):
    past = _search(http, sandbox_url, params={"date_type": "date_created", "date_from": _days(-1).strftime(fmt)})
    assert _uuids(past) == set(records)
    future = _search(http, sandbox_url, params={"date_type": "date_created", "date_from": _days(1).strftime(fmt)})
    assert _uuids(future) == set()


@pytest.mark.parametrize("fmt", ["%d-%m-%Y %H:%M:%S", "%Y-%m-%d %H:%M:%S"])
def test_search_by_date_to_in_both_formats(http, sandbox_url, records, fmt):
    future = _search(http, sandbox_url, params={"date_type": "date_created", "date_to": _days(1).strftime(fmt)})
    assert _uuids(future) == set(records)
    past = _search(http, sandbox_url, params={"date_type": "date_created", "date_to": _days(-1).strftime(fmt)})
    assert _uuids(past) == set()


def test_date_to_at_24_00_00_includes_that_whole_day(http, sandbox_url, records):
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    yesterday = _days(-1).strftime("%Y-%m-%d")
    assert _uuids(_search(http, sandbox_url, params={"date_to": f"{today} 24:00:00"})) == set(records)
    assert _uuids(_search(http, sandbox_url, params={"date_to": f"{yesterday} 24:00:00"})) == set()


def test_date_range_from_and_to(http, sandbox_url, records):
    params = {"date_type": "date_created", "date_from": _days(-1).strftime("%d-%m-%Y %H:%M:%S"),
              "date_to": _days(1).strftime("%Y-%m-%d %H:%M:%S")}
    assert _uuids(_search(http, sandbox_url, params=params)) == set(records)


def test_date_type_date_started_leaves_out_records_never_started(http, sandbox_url, records):
    params = {"date_type": "date_started", "date_from": _days(-1).strftime("%Y-%m-%d %H:%M:%S")}
    assert _uuids(_search(http, sandbox_url, params=params)) == {"demo-record", "r-1", "r-2", "r-3"}


def test_bad_date_gives_400(http, sandbox_url):
    resp = http.get(sandbox_url + SEARCH, params={**DEMO_PARAMS, "date_from": "yesterday"}, timeout=5)
    _assert_error(resp, 400)


def test_bad_date_type_gives_400(http, sandbox_url):
    resp = http.get(sandbox_url + SEARCH, params={**DEMO_PARAMS, "date_type": "date_deleted",
                                                  "date_from": "2017-12-31 12:00:00"}, timeout=5)
    _assert_error(resp, 400)


def test_header_filters_work(http, sandbox_url, records):
    body = _search(http, sandbox_url, headers={**DEMO_HEADERS, "X-Datarecord-status": "4"}, params={})
    assert _uuids(body) == {"r-5"}
    body = _search(http, sandbox_url, headers={**DEMO_HEADERS, "X-flow": "demo-flow-2"})
    assert _uuids(body) == {"r-3"}
    body = _search(http, sandbox_url, headers={**DEMO_HEADERS, "X-uuid": "r-1"})
    assert _uuids(body) == {"r-1"}
    body = _search(http, sandbox_url, headers={**DEMO_HEADERS, "X-Datafield-Name": "city",
                                               "X-Datafield-Value": "Delft"})
    assert _uuids(body) == {"r-2"}
    body = _search(http, sandbox_url, headers={**DEMO_HEADERS, "X-limit": "2", "X-offset": "1"})
    assert len(body["resource"]["records"]) == 2 and body["resource"]["total"] == 6


def test_header_filters_override_url_filters(http, sandbox_url, records):
    body = _search(http, sandbox_url, params={"flow_name": "demo-flow", "uuid": "r-1"},
                   headers={"X-Flow": "demo-flow-2"})
    # "If Header parameters are present, URL parameters will be omitted."
    assert _uuids(body) == {"r-3"}


def test_bad_limit_header_gives_400(http, sandbox_url):
    _assert_error(http.get(sandbox_url + SEARCH, headers={**DEMO_HEADERS, "X-Limit": "many"}, timeout=5), 400)


def test_search_with_put_json_body_filters(http, sandbox_url, records):
    resp = http.put(sandbox_url + SEARCH, headers=DEMO_HEADERS, json={"flow_name": "demo-flow-2"}, timeout=5)
    assert resp.status_code == 200
    assert _uuids(resp.json()) == {"r-3"}


def test_search_without_credentials_gives_401(http, sandbox_url):
    _assert_error(http.get(sandbox_url + SEARCH, timeout=5), 401)


# -- changestatus --------------------------------------------------------------------------------
def _change(http, sandbox_url, status, uuids=None, body=None):
    headers = {**DEMO_HEADERS, "X-Queue-Status": status}
    if uuids is not None:
        headers["X-Queue-Uuids"] = uuids
    return http.put(sandbox_url + "/v1/record/changestatus", headers=headers, json=body, timeout=5)


def _row(http, sandbox_url, rid) -> dict:
    return _search(http, sandbox_url, params={"uuid": rid})["resource"]["records"][0]


@pytest.mark.parametrize("action, queue_status, key, verb", [
    ("pause-queue", "1", "Paused", "paused"),
    ("resume-queue", "0", "New", "resumed"),
    ("execute-queue", "", "Executed", "executed"),
    ("delete-from-queue", "", "Removed", "removed from the queue"),
    ("resume-and-continue", "0", "New", "resumed from error status"),
])
def test_changestatus_with_header_uuids_applies_each_status(http, sandbox_url, records, action, queue_status,
                                                             key, verb):
    resp = _change(http, sandbox_url, action, "r-4")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["id"] == "ok" and body["code"] == 200 and body["error"] is None
    assert body["resource"] == {"records": [{"uuid": "r-4", "queue_status": queue_status,
                                             "queue_status_key": key}], "total": 1}
    assert body["message"] == f"1 datarecords {verb}"
    assert _row(http, sandbox_url, "r-4")["queue_status"] == queue_status


def test_execute_queue_runs_a_waiting_record(http, sandbox_url, records):
    before = _row(http, sandbox_url, "r-4")
    assert before["flow_status"] == "0"
    _change(http, sandbox_url, "execute-queue", "r-4")
    after = _row(http, sandbox_url, "r-4")
    assert after["flow_status"] == "2" and after["flow_status_name"] == "Finished"
    assert after["num_runs"] == str(int(before["num_runs"]) + 1)
    assert after["date_started"] and after["date_last_run"]


def test_pause_queue_makes_a_record_searchable_as_status_0(http, sandbox_url, records):
    _change(http, sandbox_url, "pause-queue", "r-1")
    assert "r-1" in _uuids(_search(http, sandbox_url, params={"datarecord_status": "0"}))


def test_changestatus_with_several_header_uuids(http, sandbox_url, records):
    resp = _change(http, sandbox_url, "pause-queue", "r-1, r-2")
    assert resp.status_code == 200
    assert {r["uuid"] for r in resp.json()["resource"]["records"]} == {"r-1", "r-2"}
    assert resp.json()["message"] == "2 datarecords paused"


def test_changestatus_with_json_array_body(http, sandbox_url, records):
    resp = _change(http, sandbox_url, "pause-queue", body=["r-1", "r-3"])
    assert resp.status_code == 200, resp.text
    assert resp.json()["resource"]["total"] == 2
    assert _row(http, sandbox_url, "r-3")["queue_status"] == "1"


@pytest.mark.parametrize("status", ["", "pause", "PAUSE-QUEUE", "stop-queue"])
def test_changestatus_with_invalid_status_gives_400(http, sandbox_url, records, status):
    _assert_error(_change(http, sandbox_url, status, "r-1"), 400)


def test_changestatus_with_unknown_uuid_gives_404_and_changes_nothing(http, sandbox_url, records):
    _assert_error(_change(http, sandbox_url, "pause-queue", "r-1,ghost"), 404)
    assert _row(http, sandbox_url, "r-1")["queue_status"] != "1"


def test_changestatus_without_uuids_gives_400(http, sandbox_url, records):
    _assert_error(_change(http, sandbox_url, "pause-queue"), 400)


def test_changestatus_with_non_array_body_gives_400(http, sandbox_url, records):
    _assert_error(_change(http, sandbox_url, "pause-queue", body={"uuid": "r-1"}), 400)


# -- movetoflow ----------------------------------------------------------------------------------
def _move(http, sandbox_url, target, body):
    headers = dict(DEMO_HEADERS)
    if target is not None:
        headers["X-MoveToFlow-Flow"] = target
    return http.put(sandbox_url + "/v1/record/movetoflow", headers=headers, json=body, timeout=5)


def test_movetoflow_moves_records_to_the_target_flow(http, sandbox_url, records):
    resp = _move(http, sandbox_url, "demo-flow-2", ["r-1", "r-2"])
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["id"] == "ok" and body["error"] is None
    assert body["message"] == "2 flows moved to the new one"
    assert body["resource"]["records"] == [
        {"uuid": u, "message": "Data Record is moved to a new flow successfully and it is included in the queue.",
         "movetoflow": "demo-flow-2"} for u in ("r-1", "r-2")]
    assert _uuids(_search(http, sandbox_url, params={"flow_name": "demo-flow-2"})) == {"r-1", "r-2", "r-3"}
    assert _uuids(_search(http, sandbox_url, params={"flow_name": "demo-flow"})) == {"demo-record", "r-5"}


def test_moved_record_is_queued_again(http, sandbox_url, records):
    _move(http, sandbox_url, "demo-flow-2", ["r-1"])
    row = _row(http, sandbox_url, "r-1")
    assert row["queue_status"] == "0" and row["flow_status"] == "0"
    info = http.get(sandbox_url + "/v1/record/r-1", headers=DEMO_HEADERS, timeout=5).json()["resource"]["info"]
    assert info["flow_id"] == "2"


def test_movetoflow_without_target_gives_400(http, sandbox_url, records):
    _assert_error(_move(http, sandbox_url, None, ["r-1"]), 400)


def test_movetoflow_to_unknown_flow_gives_404(http, sandbox_url, records):
    _assert_error(_move(http, sandbox_url, "no-such-flow", ["r-1"]), 404)
    assert _row(http, sandbox_url, "r-1")["flow_name"] == "demo-flow"


def test_movetoflow_with_unknown_record_gives_404(http, sandbox_url, records):
    _assert_error(_move(http, sandbox_url, "demo-flow-2", ["r-1", "ghost"]), 404)
    assert _row(http, sandbox_url, "r-1")["flow_name"] == "demo-flow"


def test_movetoflow_without_uuids_gives_400(http, sandbox_url, records):
    _assert_error(_move(http, sandbox_url, "demo-flow-2", None), 400)

"""Flowize sandbox, "Tables" section of flowize-api.txt: over real HTTP on loopback.

Seeded table ``users`` (customer 1): ids 8 (age "18", a string as in the doc), 34 (45), 102 (30),
417 (37), 625 (54).
"""

from __future__ import annotations

import json

import pytest
from lxml import etree

APIKEY = {"X-Apikey": "demo-api-key"}
JSON = {**APIKEY, "Content-Type": "application/json"}
PAGE_KEYS = ["data", "total", "start_at", "next_element", "limit", "offset", "max_results"]


def _search(http, url, body, table="users"):
    return http.post(f"{url}/v1/tables/{table}/search", headers=JSON, data=json.dumps(body), timeout=5)


def _ids(resp) -> list[str]:
    assert resp.status_code == 200, resp.text
    return [row["id"] for row in resp.json()["data"]]


def _where(*rules, condition="AND") -> dict:
    return {"where": {"condition": condition, "rules": list(rules)}}


# -- get -----------------------------------------------------------------------------------------
def test_get_row_has_the_documented_shape(sandbox_url, http):
    resp = http.get(f"{sandbox_url}/v1/tables/users/8", headers=JSON, timeout=5)
    assert resp.status_code == 200
    assert resp.json() == {
        "data": [{"id": "8", "date_created": "2019-04-09 15:31:21", "date_updated": "2019-04-09 15:33:01",
                  "username": "myusername", "password": "7ff47e867e6166cb7e1fb1116a84de44", "type": "admin",
                  "age": "18"}],
        "total": 1, "start_at": 0, "next_element": 1, "limit": 100, "offset": 0, "max_results": 1}


def test_get_works_with_the_api_key_url_param(sandbox_url, http):
    resp = http.get(f"{sandbox_url}/v1/tables/users/34", params={"api_key": "demo-api-key"}, timeout=5)
    assert resp.json()["data"][0]["username"] == "user12"


def test_wrong_api_key_gives_401(sandbox_url, http):
    resp = http.get(f"{sandbox_url}/v1/tables/users/8", headers={"X-Apikey": "nope"}, timeout=5)
    assert resp.status_code == 401


def test_unknown_row_gives_404(sandbox_url, http):
    resp = http.get(f"{sandbox_url}/v1/tables/users/999", headers=JSON, timeout=5)
    assert resp.status_code == 404
    assert resp.json() == {"resource": [], "error": {"code": 404, "message": "The row 999 does not exist in table users."}}


def test_table_that_never_existed_gives_404_on_every_read(sandbox_url, http):
    assert http.get(f"{sandbox_url}/v1/tables/ghosts/1", headers=JSON, timeout=5).status_code == 404
    resp = _search(http, sandbox_url, {}, table="ghosts")
    assert resp.status_code == 404
    assert resp.json()["error"]["message"] == "The table ghosts does not exist."


def test_non_numeric_id_gives_400(sandbox_url, http):
    resp = http.get(f"{sandbox_url}/v1/tables/users/abc", headers=JSON, timeout=5)
    assert resp.status_code == 400
    assert "must be an integer from 1" in resp.json()["error"]["message"]


def test_accept_xml_gives_xml(sandbox_url, http):
    resp = http.get(f"{sandbox_url}/v1/tables/users/8", headers={**JSON, "Accept": "application/xml"}, timeout=5)
    assert resp.headers["Content-Type"].startswith("application/xml")
    root = etree.fromstring(resp.content)
    assert root.findtext("data/item/username") == "myusername"
    assert root.findtext("max_results") == "1"


def test_get_answers_304_to_a_matching_if_none_match(sandbox_url, http):
    etag = http.get(f"{sandbox_url}/v1/tables/users/8", headers=JSON, timeout=5).headers["ETag"]
    resp = http.get(f"{sandbox_url}/v1/tables/users/8", headers={**JSON, "If-None-Match": etag}, timeout=5)
    assert resp.status_code == 304


# -- search --------------------------------------------------------------------------------------
def test_doc_search_example(sandbox_url, http):
    body = {**_where({"field": "age", "operator": ">", "value": "35"}),
            "limit": 10, "offset": 0, "order_field": "age", "order_type": "desc"}
    resp = _search(http, sandbox_url, body)
    assert _ids(resp) == ["625", "34", "417"]
    page = resp.json()
    assert list(page) == PAGE_KEYS
    assert {k: page[k] for k in PAGE_KEYS[1:]} == \
        {"total": 3, "start_at": 0, "next_element": 3, "limit": 10, "offset": 0, "max_results": 3}


def test_search_defaults_to_every_row_by_id_ascending(sandbox_url, http):
    resp = _search(http, sandbox_url, {})
    assert _ids(resp) == ["8", "34", "102", "417", "625"]
    assert resp.json()["limit"] == 100


def test_offset_and_limit_page_through_results(sandbox_url, http):
    resp = _search(http, sandbox_url, {"limit": 2, "offset": 2})
    assert _ids(resp) == ["102", "417"]
    assert {k: resp.json()[k] for k in PAGE_KEYS[1:]} == \
        {"total": 2, "start_at": 2, "next_element": 4, "limit": 2, "offset": 2, "max_results": 5}


def test_limit_above_100_is_clamped(sandbox_url, http):
    for n in range(100):
        assert http.post(f"{sandbox_url}/v1/tables/big/", headers=JSON, json={"n": n}, timeout=5).ok
    resp = _search(http, sandbox_url, {"limit": 500}, table="big")
    page = resp.json()
    assert (page["limit"], page["total"], page["max_results"]) == (100, 100, 100)
    http.post(f"{sandbox_url}/v1/tables/big/", headers=JSON, json={"n": 100}, timeout=5)
    page = _search(http, sandbox_url, {"limit": 500}, table="big").json()
    assert (page["limit"], page["total"], page["next_element"], page["max_results"]) == (100, 100, 100, 101)


@pytest.mark.parametrize("operator, value, expected", [
    ("=", "45", ["34"]),
    ("=", 18, ["8"]),  # the stored "18" is a number too
    ("!=", 45, ["8", "102", "417", "625"]),
    ("<>", 45, ["8", "102", "417", "625"]),
    ("<", 30, ["8"]),
    (">", 45, ["625"]),
    ("<=", 30, ["8", "102"]),
    (">=", 45, ["34", "625"]),
    ("=>", 45, ["34", "625"]),  # the doc's spelling of >=
    ("between", [30, 45], ["34", "102", "417"]),
    ("not_between", [30, 45], ["8", "625"]),
    ("in", [18, 54], ["8", "625"]),
    ("in", "18, 54", ["8", "625"]),
    ("not_in", [18, 54], ["34", "102", "417"]),
])
def test_numeric_operators(sandbox_url, http, operator, value, expected):
    assert _ids(_search(http, sandbox_url, _where({"field": "age", "operator": operator, "value": value}))) == expected


@pytest.mark.parametrize("operator, value, expected", [
    ("begins_with", "USER", ["34", "625"]),
    ("not_begins_with", "user", ["8", "102", "417"]),
    ("ends_with", "1", ["625"]),
    ("not_ends_with", "1", ["8", "34", "102", "417"]),
    ("contains", "ar", ["417"]),
    ("not_contains", "user", ["102", "417"]),
    ("=", "JOHN", ["102"]),
])
def test_text_operators_ignore_case(sandbox_url, http, operator, value, expected):
    body = _where({"field": "username", "operator": operator, "value": value})
    assert _ids(_search(http, sandbox_url, body)) == expected


def test_is_empty_and_is_not_empty_need_no_value(sandbox_url, http):
    http.put(f"{sandbox_url}/v1/tables/users/102", headers=JSON,
             json={"columns": [{"column_name": "type", "column_value": ""}]}, timeout=5)
    http.post(f"{sandbox_url}/v1/tables/users/", headers=JSON, json={"username": "nobody"}, timeout=5)
    empty = _search(http, sandbox_url, _where({"field": "type", "operator": "is_empty"}))
    assert _ids(empty) == ["102", "626"]
    full = _search(http, sandbox_url, _where({"field": "type", "operator": "is_not_empty"}))
    assert _ids(full) == ["8", "34", "417", "625"]


def test_between_operator_filters_inclusive(sandbox_url, http):
    body = _where({"field": "age", "operator": "between", "value": [37, 54]})
    assert _ids(_search(http, sandbox_url, body)) == ["34", "417", "625"]


def test_numbers_compare_numerically_not_as_text(sandbox_url, http):
    body = _where({"field": "age", "operator": "<", "value": "100"})
    assert len(_ids(_search(http, sandbox_url, body))) == 5


def test_or_condition_and_lowercase_keywords(sandbox_url, http):
    body = {**_where({"field": "type", "operator": "=", "value": "admin"},
                     {"field": "age", "operator": ">", "value": 50}, condition="or"), "order_type": "desc"}
    assert _ids(_search(http, sandbox_url, body)) == ["625", "8"]


def test_order_by_a_text_column(sandbox_url, http):
    body = {"order_field": "username", "order_type": "ASC"}
    names = [row["username"] for row in _search(http, sandbox_url, body).json()["data"]]
    assert names == ["john", "maria", "myusername", "user1", "user12"]


@pytest.mark.parametrize("body, words", [
    (_where({"field": "age", "operator": "~", "value": 1}), "is not supported"),
    (_where({"field": "age", "operator": "between", "value": 3}), "array of two values"),
    (_where({"field": "age", "operator": "in", "value": {"a": 1}}), "non-empty array"),
    (_where({"field": "shoe_size", "operator": "=", "value": 1}), "Unknown column 'shoe_size'"),
    (_where({"operator": "=", "value": 1}), "field is required"),
    (_where({"field": "age", "operator": "="}), "value is required"),
    ({"where": {"condition": "XOR", "rules": []}}, "AND or OR"),
    ({"where": [1, 2]}, "where must be an object"),
    ({"limit": -1}, "limit must be"),
    ({"limit": "ten"}, "limit must be"),
    ({"offset": 1.5}, "offset must be"),
    ({"order_field": "nope"}, "Unknown column"),
    ({"order_type": "sideways"}, "ASC or DESC"),
])
def test_bad_search_gives_400_with_a_clear_message(sandbox_url, http, body, words):
    resp = _search(http, sandbox_url, body)
    assert resp.status_code == 400
    assert words in resp.json()["error"]["message"]


def test_search_body_that_is_not_json_gives_400(sandbox_url, http):
    resp = http.post(f"{sandbox_url}/v1/tables/users/search", headers=JSON, data="{nope", timeout=5)
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == 400


# -- insert --------------------------------------------------------------------------------------
def test_insert_returns_the_documented_body(sandbox_url, http):
    body = {"username": "newuser", "password": "jsytd6756d5s", "age": 23}
    resp = http.post(f"{sandbox_url}/v1/tables/users/", headers=JSON, json=body, timeout=5)
    assert resp.status_code == 200
    page = resp.json()
    row = page["data"][0]
    assert row["id"] == "626" and row["date_created"] == row["date_updated"]
    assert {k: row[k] for k in body} == body
    assert {k: page[k] for k in PAGE_KEYS[1:]} == \
        {"total": 1, "start_at": 0, "next_element": 0, "limit": 100, "offset": 0, "max_results": 0}
    assert http.get(f"{sandbox_url}/v1/tables/users/626", headers=JSON, timeout=5).json()["data"] == [row]


def test_insert_without_trailing_slash(sandbox_url, http):
    resp = http.post(f"{sandbox_url}/v1/tables/users", headers=JSON, json={"username": "x"}, timeout=5)
    assert resp.status_code == 200
    assert resp.json()["data"][0]["id"] == "626"


def test_first_insert_creates_the_table(sandbox_url, http):
    resp = http.post(f"{sandbox_url}/v1/tables/orders/", headers=JSON, json={"sku": "A-1", "qty": 2}, timeout=5)
    assert resp.json()["data"][0]["id"] == "1"
    assert _ids(_search(http, sandbox_url, {}, table="orders")) == ["1"]


def test_insert_with_columns_uses_the_id_in_the_path(sandbox_url, http):
    body = {"columns": [{"column_name": "username", "column_value": "newuser"},
                        {"column_name": "age", "column_value": 23}]}
    resp = http.post(f"{sandbox_url}/v1/tables/users/700", headers=JSON, json=body, timeout=5)
    assert resp.status_code == 200
    assert resp.json()["data"][0]["id"] == "700"
    assert resp.json()["data"][0]["age"] == 23
    nxt = http.post(f"{sandbox_url}/v1/tables/users/", headers=JSON, json={"username": "after"}, timeout=5)
    assert nxt.json()["data"][0]["id"] == "701"


def test_insert_with_a_taken_id_gives_409(sandbox_url, http):
    body = {"columns": [{"column_name": "username", "column_value": "dup"}]}
    resp = http.post(f"{sandbox_url}/v1/tables/users/8", headers=JSON, json=body, timeout=5)
    assert resp.status_code == 409
    assert http.get(f"{sandbox_url}/v1/tables/users/8", headers=JSON, timeout=5).json()["data"][0]["username"] == \
        "myusername"


def test_insert_accepts_an_xml_body(sandbox_url, http):
    xml = "<response><username>xmluser</username><age>40</age></response>"
    resp = http.post(f"{sandbox_url}/v1/tables/users/", data=xml,
                     headers={**APIKEY, "Content-Type": "application/xml", "Accept": "application/json"}, timeout=5)
    assert resp.status_code == 200
    assert resp.json()["data"][0]["username"] == "xmluser"


@pytest.mark.parametrize("body, words", [
    ({"id": 5, "username": "x"}, "set by Flowize"),
    ({"date_created": "2020-01-01"}, "set by Flowize"),
    ({"tags": ["a", "b"]}, "single value"),
    ({}, "no column"),
    ([1, 2], "JSON object"),
    ({"bad name": 1}, "Invalid column name"),
    ({"columns": [{"column_value": 1}]}, "column_name"),
])
def test_bad_insert_gives_400(sandbox_url, http, body, words):
    resp = http.post(f"{sandbox_url}/v1/tables/users/", headers=JSON, json=body, timeout=5)
    assert resp.status_code == 400
    assert words in resp.json()["error"]["message"]


def test_failed_first_insert_does_not_create_the_table(sandbox_url, http):
    http.post(f"{sandbox_url}/v1/tables/fresh/", headers=JSON, json={"id": 1}, timeout=5)
    assert _search(http, sandbox_url, {}, table="fresh").status_code == 404


# -- update --------------------------------------------------------------------------------------
def test_update_by_id_returns_the_documented_body(sandbox_url, http):
    body = {"columns": [{"column_name": "username", "column_value": "newusername"},
                        {"column_name": "age", "column_value": 102}]}
    resp = http.put(f"{sandbox_url}/v1/tables/users/34", headers=JSON, json=body, timeout=5)
    assert resp.status_code == 200
    assert resp.json() == {"data": [], "total": 1, "start_at": 0, "next_element": 0, "limit": 100, "offset": 0,
                           "max_results": 0}
    row = http.get(f"{sandbox_url}/v1/tables/users/34", headers=JSON, timeout=5).json()["data"][0]
    assert (row["username"], row["age"], row["type"]) == ("newusername", 102, "user")
    assert row["date_created"] == "2019-04-10 10:50:09" and row["date_updated"] > "2019-04-26 09:59:28"


def test_update_by_id_ignores_where(sandbox_url, http):
    body = {"columns": [{"column_name": "type", "column_value": "vip"}],
            **_where({"field": "age", "operator": ">", "value": 1000})}
    assert http.put(f"{sandbox_url}/v1/tables/users/8", headers=JSON, json=body, timeout=5).json()["total"] == 1
    assert http.get(f"{sandbox_url}/v1/tables/users/8", headers=JSON, timeout=5).json()["data"][0]["type"] == "vip"


def test_update_without_id_uses_where_order_limit_offset(sandbox_url, http):
    # the doc's example: age > 20, by age desc, skip 2, take 2 -> ages 37 (417) and 30 (102)
    body = {"columns": [{"column_name": "username", "column_value": "newusername"},
                        {"column_name": "age", "column_value": 102}],
            **_where({"field": "age", "operator": ">", "value": "20"}),
            "limit": 2, "offset": 2, "order_field": "age", "order_type": "desc"}
    resp = http.put(f"{sandbox_url}/v1/tables/users", headers=JSON, json=body, timeout=5)
    assert resp.json()["total"] == 2
    changed = _search(http, sandbox_url, _where({"field": "username", "operator": "=", "value": "newusername"}))
    assert _ids(changed) == ["102", "417"]


def test_update_can_add_a_column(sandbox_url, http):
    body = {"columns": [{"column_name": "email", "column_value": "j@example.com"}]}
    http.put(f"{sandbox_url}/v1/tables/users/102", headers=JSON, json=body, timeout=5)
    found = _search(http, sandbox_url, _where({"field": "email", "operator": "contains", "value": "@"}))
    assert _ids(found) == ["102"]


def test_update_unknown_row_gives_404(sandbox_url, http):
    body = {"columns": [{"column_name": "type", "column_value": "x"}]}
    assert http.put(f"{sandbox_url}/v1/tables/users/999", headers=JSON, json=body, timeout=5).status_code == 404
    assert http.put(f"{sandbox_url}/v1/tables/ghosts/1", headers=JSON, json=body, timeout=5).status_code == 404


def test_update_without_columns_gives_400(sandbox_url, http):
    resp = http.put(f"{sandbox_url}/v1/tables/users/8", headers=JSON, json={"username": "flat"}, timeout=5)
    assert resp.status_code == 400
    assert "columns is required" in resp.json()["error"]["message"]


# -- delete --------------------------------------------------------------------------------------
def test_delete_returns_the_documented_envelope(sandbox_url, http):
    resp = http.delete(f"{sandbox_url}/v1/tables/users/8", headers=JSON, timeout=5)
    assert resp.status_code == 200
    assert resp.json() == {"id": "ok", "code": 200, "request-ip": "127.0.0.1", "resource": 1,
                           "message": "Successfully deleted row 8 in table users", "error": None}
    assert http.get(f"{sandbox_url}/v1/tables/users/8", headers=JSON, timeout=5).status_code == 404


def test_delete_unknown_row_gives_404(sandbox_url, http):
    resp = http.delete(f"{sandbox_url}/v1/tables/users/999", headers=JSON, timeout=5)
    assert resp.status_code == 404
    assert resp.json()["resource"] == []


@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_table_paths_without_trailing_slash_answer_directly_not_with_a_redirect(sandbox_url, http, method):
    body = {"username": "slash", "age": 1} if method == "POST" else {
        "columns": [{"column_name": "age", "column_value": 2}],
        "where": {"condition": "AND", "rules": [{"field": "username", "operator": "=", "value": "nobody"}]}}
    resp = http.request(method, sandbox_url + "/v1/tables/users", json=body, headers=APIKEY,
                        allow_redirects=False)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("application/json")

"""Flowize sandbox, "Keystore" section of flowize-api.txt: over real HTTP on loopback."""

from __future__ import annotations

import json

import pytest
from lxml import etree

APIKEY = {"X-Apikey": "demo-api-key"}
JSON = {**APIKEY, "Content-Type": "application/json"}
TEXT = {**APIKEY, "Content-Type": "text/plain"}

DOC_SEARCH = {
    "select": [{"field": "keystore.key", "alias": "MyKey"}, {"field": "temp.max", "alias": "temperature"},
               {"field": "*", "alias": "all_info"}],
    "where": {"condition": "OR", "rules": [{"field": "temp.average", "operator": ">", "value": "25"},
                                          {"field": "city", "operator": "LIKE", "value": "lond%"}]},
}


def _search(http, url, body, keystore="weather"):
    return http.post(f"{url}/v1/keystore/{keystore}", headers=JSON, data=json.dumps(body), timeout=5)


def _keys(resp) -> list[str]:
    assert resp.status_code == 200, resp.text
    return [row["key"] for row in resp.json()]


# -- get -----------------------------------------------------------------------------------------
def test_get_returns_the_stored_json(sandbox_url, http):
    resp = http.get(f"{sandbox_url}/v1/keystore/weather/london", headers=JSON, timeout=5)
    assert resp.status_code == 200
    assert resp.json() == {"temp": 15, "wind": "2 km/h S", "city": "London"}


def test_get_accepts_api_key_url_param_without_app(sandbox_url, http):
    resp = http.get(f"{sandbox_url}/v1/keystore/weather/madrid", params={"api_key": "demo-api-key"}, timeout=5)
    assert resp.status_code == 200
    assert resp.json()["city"] == "Madrid"


def test_get_without_credentials_gives_401(sandbox_url, http):
    resp = http.get(f"{sandbox_url}/v1/keystore/weather/london", timeout=5)
    assert resp.status_code == 401
    assert resp.json()["error"]["code"] == 401


def test_get_unknown_key_creates_it_with_the_empty_structure(sandbox_url, http):
    resp = http.get(f"{sandbox_url}/v1/keystore/weather/paris", headers=JSON, timeout=5)
    assert resp.status_code == 200
    assert resp.json() == {"temp": "", "wind": "", "city": ""}
    # created, not just shown: a later insert of the same key conflicts
    again = http.post(f"{sandbox_url}/v1/keystore/weather/paris", headers=JSON, json={"temp": 20}, timeout=5)
    assert again.status_code == 409


def test_empty_structure_keeps_nested_keys_and_empties_arrays(sandbox_url, http):
    first = {"temp": {"max": 30, "min": 10}, "days": [1, 2], "city": "Rome"}
    http.put(f"{sandbox_url}/v1/keystore/forecast/rome", headers=JSON, json=first, timeout=5)
    resp = http.get(f"{sandbox_url}/v1/keystore/forecast/oslo", headers=JSON, timeout=5)
    assert resp.json() == {"temp": {"max": "", "min": ""}, "days": [], "city": ""}


def test_get_in_a_keystore_that_never_had_data_gives_404(sandbox_url, http):
    resp = http.get(f"{sandbox_url}/v1/keystore/nowhere/london", headers=JSON, timeout=5)
    assert resp.status_code == 404
    assert resp.json() == {"resource": [], "error": {"code": 404, "message": "The keystore nowhere does not exist."}}


def test_get_answers_304_to_a_matching_if_none_match(sandbox_url, http):
    first = http.get(f"{sandbox_url}/v1/keystore/weather/london", headers=JSON, timeout=5)
    etag = first.headers["ETag"]
    again = http.get(f"{sandbox_url}/v1/keystore/weather/london", headers={**JSON, "If-None-Match": etag}, timeout=5)
    assert again.status_code == 304
    assert again.content == b""


def test_accept_xml_gives_xml(sandbox_url, http):
    resp = http.get(f"{sandbox_url}/v1/keystore/weather/london", headers={**JSON, "Accept": "application/xml"},
                    timeout=5)
    assert resp.headers["Content-Type"].startswith("application/xml")
    root = etree.fromstring(resp.content)
    assert root.findtext("city") == "London"
    assert root.findtext("temp") == "15"


def test_content_type_decides_the_output_when_accept_says_nothing(sandbox_url, http):
    resp = http.get(f"{sandbox_url}/v1/keystore/weather/london",
                    headers={**APIKEY, "Content-Type": "application/xml", "Accept": "*/*"}, timeout=5)
    assert resp.headers["Content-Type"].startswith("application/xml")


# -- insert / upsert / delete --------------------------------------------------------------------
def test_insert_returns_the_stored_data(sandbox_url, http):
    body = {"temp": 31, "wind": "1 km/h E", "city": "Sevilla"}
    resp = http.post(f"{sandbox_url}/v1/keystore/weather/sevilla", headers=JSON, json=body, timeout=5)
    assert resp.status_code == 200
    assert resp.json() == body
    assert http.get(f"{sandbox_url}/v1/keystore/weather/sevilla", headers=JSON, timeout=5).json() == body


def test_insert_existing_key_gives_409(sandbox_url, http):
    resp = http.post(f"{sandbox_url}/v1/keystore/weather/london", headers=JSON, json={"temp": 1}, timeout=5)
    assert resp.status_code == 409
    assert resp.json()["error"]["code"] == 409
    assert http.get(f"{sandbox_url}/v1/keystore/weather/london", headers=JSON, timeout=5).json()["temp"] == 15


def test_first_write_creates_the_keystore(sandbox_url, http):
    assert http.get(f"{sandbox_url}/v1/keystore/fx/eur", headers=JSON, timeout=5).status_code == 404
    assert http.post(f"{sandbox_url}/v1/keystore/fx/eur", headers=JSON, json={"rate": 1.1}, timeout=5).ok
    resp = http.get(f"{sandbox_url}/v1/keystore/fx/usd", headers=JSON, timeout=5)
    assert resp.status_code == 200
    assert resp.json() == {"rate": ""}


def test_put_inserts_then_replaces(sandbox_url, http):
    url = f"{sandbox_url}/v1/keystore/weather/berlin"
    assert http.put(url, headers=JSON, json={"temp": 9}, timeout=5).json() == {"temp": 9}
    assert http.put(url, headers=JSON, json={"temp": 11, "city": "Berlin"}, timeout=5).json() == \
        {"temp": 11, "city": "Berlin"}
    assert http.get(url, headers=JSON, timeout=5).json() == {"temp": 11, "city": "Berlin"}


def test_raw_text_round_trips_as_plain_text(sandbox_url, http):
    url = f"{sandbox_url}/v1/keystore/templates/greeting"
    resp = http.put(url, headers=TEXT, data="Hello, {name}!\nBye", timeout=5)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("text/plain")
    assert resp.text == "Hello, {name}!\nBye"
    as_json = http.get(url, headers={**APIKEY, "Accept": "application/json"}, timeout=5)
    assert as_json.json() == "Hello, {name}!\nBye"


def test_unknown_key_of_a_raw_keystore_is_created_empty(sandbox_url, http):
    http.put(f"{sandbox_url}/v1/keystore/templates/greeting", headers=TEXT, data="Hi", timeout=5)
    resp = http.get(f"{sandbox_url}/v1/keystore/templates/farewell", headers=TEXT, timeout=5)
    assert resp.status_code == 200
    assert resp.text == ""


def test_xml_body_is_stored_as_structured_data(sandbox_url, http):
    xml = "<response><city>Paris</city><temp>18</temp></response>"
    resp = http.put(f"{sandbox_url}/v1/keystore/weather/paris", data=xml,
                    headers={**APIKEY, "Content-Type": "application/xml", "Accept": "application/json"}, timeout=5)
    assert resp.status_code == 200
    assert resp.json() == {"city": "Paris", "temp": "18"}


def test_invalid_json_gives_400(sandbox_url, http):
    resp = http.put(f"{sandbox_url}/v1/keystore/weather/rome", headers=JSON, data="{not json", timeout=5)
    assert resp.status_code == 400
    assert "not valid JSON" in resp.json()["error"]["message"]


def test_delete_returns_the_documented_envelope(sandbox_url, http):
    resp = http.delete(f"{sandbox_url}/v1/keystore/weather/london", headers=JSON, timeout=5)
    assert resp.status_code == 200
    assert resp.json() == {"id": "ok", "code": 200, "request-ip": "127.0.0.1", "resource": None,
                           "message": "Successfully deleted key london in keystore weather", "error": None}
    assert _keys(_search(http, sandbox_url, {"select": [{"field": "key"}]})) == ["madrid"]


def test_delete_unknown_key_gives_404(sandbox_url, http):
    resp = http.delete(f"{sandbox_url}/v1/keystore/weather/atlantis", headers=JSON, timeout=5)
    assert resp.status_code == 404
    assert resp.json()["resource"] == []


# -- search --------------------------------------------------------------------------------------
def test_doc_search_example_returns_a_bare_array_with_aliases(sandbox_url, http):
    resp = _search(http, sandbox_url, DOC_SEARCH)
    assert resp.status_code == 200
    # only london matches: the seeded data has no temp.average / temp.max (see the decisions doc)
    assert resp.json() == [{"MyKey": "london", "temperature": None,
                            "all_info": '{"temp":15,"wind":"2 km\\/h S","city":"London"}'}]


def test_search_without_where_lists_every_key_in_insertion_order(sandbox_url, http):
    assert _keys(_search(http, sandbox_url, {"select": [{"field": "key"}]})) == ["madrid", "london"]


def test_select_without_alias_uses_the_field_name_and_values_come_as_text(sandbox_url, http):
    resp = _search(http, sandbox_url, {"select": [{"field": "key"}, {"field": "temp"}, {"field": "nope.deep"}]})
    assert resp.json() == [{"key": "madrid", "temp": "24", "nope.deep": None},
                           {"key": "london", "temp": "15", "nope.deep": None}]


def test_select_follows_a_dotted_json_path(sandbox_url, http):
    http.put(f"{sandbox_url}/v1/keystore/weather/rome", headers=JSON, json={"temp": {"max": 33}}, timeout=5)
    body = {"select": [{"field": "temp.max", "alias": "max"}],
            "where": {"rules": [{"field": "key", "operator": "=", "value": "rome"}]}}
    assert _search(http, sandbox_url, body).json() == [{"max": "33"}]


def test_numbers_compare_numerically(sandbox_url, http):
    body = {"select": [{"field": "key"}], "where": {"rules": [{"field": "temp", "operator": "<", "value": "100"}]}}
    assert _keys(_search(http, sandbox_url, body)) == ["madrid", "london"]  # "24" < "100" only as numbers
    body["where"]["rules"][0] = {"field": "temp", "operator": ">=", "value": 24}
    assert _keys(_search(http, sandbox_url, body)) == ["madrid"]


@pytest.mark.parametrize("pattern, expected", [
    ("LOND%", ["london"]), ("%ON%", ["london"]), ("%d%", ["madrid", "london"]), ("lond", []), ("london", ["london"]),
])
def test_like_uses_percent_wildcards_without_case(sandbox_url, http, pattern, expected):
    body = {"select": [{"field": "key"}], "where": {"rules": [{"field": "city", "operator": "like", "value": pattern}]}}
    assert _keys(_search(http, sandbox_url, body)) == expected


def test_condition_defaults_to_and(sandbox_url, http):
    rules = [{"field": "temp", "operator": ">", "value": 10}, {"field": "city", "operator": "=", "value": "Madrid"}]
    assert _keys(_search(http, sandbox_url, {"select": [{"field": "key"}], "where": {"rules": rules}})) == ["madrid"]
    either = {"select": [{"field": "key"}], "where": {"condition": "or", "rules": rules}}
    assert _keys(_search(http, sandbox_url, either)) == ["madrid", "london"]


def test_not_equal_operators(sandbox_url, http):
    for op in ("!=", "<>"):
        body = {"select": [{"field": "key"}], "where": {"rules": [{"field": "key", "operator": op, "value": "madrid"}]}}
        assert _keys(_search(http, sandbox_url, body)) == ["london"]


@pytest.mark.parametrize("body, words", [
    ({"where": {"rules": [{"field": "temp", "operator": "between", "value": [1, 2]}]}}, "operator"),
    ({"where": {"rules": [{"operator": "=", "value": 1}]}}, "field is required"),
    ({"where": {"rules": [{"field": "temp", "value": 1}]}}, "operator is required"),
    ({"where": {"rules": [{"field": "temp", "operator": "="}]}}, "value is required"),
    ({"where": {"condition": "XOR", "rules": []}}, "AND or OR"),
    ({"where": "temp > 3"}, "where must be an object"),
    ({"select": [{"alias": "x"}]}, "select[0].field"),
    ({"select": "key"}, "select must be"),
])
def test_bad_search_gives_400_with_a_clear_message(sandbox_url, http, body, words):
    resp = _search(http, sandbox_url, body)
    assert resp.status_code == 400
    assert words in resp.json()["error"]["message"]


def test_search_with_invalid_json_gives_400(sandbox_url, http):
    resp = http.post(f"{sandbox_url}/v1/keystore/weather", headers=JSON, data="{", timeout=5)
    assert resp.status_code == 400


def test_search_in_unknown_keystore_gives_404(sandbox_url, http):
    resp = _search(http, sandbox_url, {"select": [{"field": "key"}]}, keystore="nowhere")
    assert resp.status_code == 404
    assert resp.json()["error"]["code"] == 404


def test_search_star_returns_raw_text_as_saved(sandbox_url, http):
    http.put(f"{sandbox_url}/v1/keystore/templates/greeting", headers=TEXT, data="Hi there", timeout=5)
    body = {"select": [{"field": "*", "alias": "text"}],
            "where": {"rules": [{"field": "*", "operator": "LIKE", "value": "%there"}]}}
    assert _search(http, sandbox_url, body, keystore="templates").json() == [{"text": "Hi there"}]

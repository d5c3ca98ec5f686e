"""REST front door: Webhooks, Flows, Keystore and Tables groups."""

from __future__ import annotations

from support import DEMO_HEADERS

KEY = {"X-Apikey": "demo-api-key"}  # keystore and tables need only the API key (decisions A9)


def test_webhook_needs_no_credentials(http, gateway_url):
    resp = http.post(gateway_url + "/v1/webhook/demo-webhook", json={"order": 7}, timeout=10)
    assert resp.status_code == 201, resp.text
    assert resp.json()["message"] == "Data stored successfully"
    assert resp.json()["resource"]["data"] == {"flow_id": "1"}
    by_param = http.post(gateway_url + "/v1/webhook", params={"uri": "demo-webhook"}, data="plain text",
                         headers={"Content-Type": "text/plain"}, timeout=10)
    assert by_param.status_code == 201
    assert http.post(gateway_url + "/v1/webhook/nope", json={}, timeout=10).status_code == 404
    assert http.post(gateway_url + "/v1/webhook", json={"a": 1}, timeout=10).status_code == 400


def test_flowdiagram_and_changeflowstatus(http, gateway_url, auth):
    headers, params = auth
    diagram = http.get(gateway_url + "/v1/flowdiagram", headers={**headers, "X-Flow": "demo-flow"},
                       params=params, timeout=10)
    assert diagram.status_code == 200 and diagram.json()["resource"]["flow_name"] == "demo-flow"
    paused = http.put(gateway_url + "/v1/changeflowstatus", params={**params, "flow_id": 1, "status": "paused"},
                      headers=headers, timeout=10)
    assert paused.json() == {"id": "ok", "resource": "", "message": "Flow diagram has been stopped successfully"}
    again = http.put(gateway_url + "/v1/changeflowstatus", headers={**headers, "X-Flow-Id": "1", "X-Status": "paused"},
                     params=params, timeout=10)
    assert again.status_code == 402 and again.json()["error"]["code"] == 402
    bad = http.put(gateway_url + "/v1/changeflowstatus", headers={**headers, "X-Flow-Id": "1", "X-Status": "gone"},
                   params=params, timeout=10)
    assert bad.status_code == 400


def test_keystore_json_crud_and_search(http, gateway_url):
    url = gateway_url + "/v1/keystore/weather"
    assert http.get(url + "/london", headers=KEY, timeout=10).json()["city"] == "London"
    created = http.post(url + "/paris", headers=KEY, json={"temp": 20, "city": "Paris"}, timeout=10)
    assert created.status_code == 200 and created.json() == {"temp": 20, "city": "Paris"}
    assert http.post(url + "/paris", headers=KEY, json={"temp": 1}, timeout=10).status_code == 409
    assert http.put(url + "/paris", headers=KEY, json={"temp": 21}, timeout=10).json() == {"temp": 21}
    found = http.post(url, headers=KEY, timeout=10, json={
        "select": [{"field": "key", "alias": "k"}, {"field": "temp", "alias": "t"}],
        "where": {"rules": [{"field": "temp", "operator": ">", "value": "20"}]}})
    assert found.status_code == 200 and {"k": "paris", "t": "21"} in found.json()
    deleted = http.delete(url + "/paris", headers=KEY, timeout=10)
    assert deleted.json()["message"] == "Successfully deleted key paris in keystore weather"
    assert http.delete(url + "/paris", headers=KEY, timeout=10).status_code == 404


def test_keystore_raw_text_round_trip(http, gateway_url):
    url = gateway_url + "/v1/keystore/notes/today"
    put = http.put(url, headers={**KEY, "Content-Type": "text/plain"}, data="buy milk", timeout=10)
    assert put.status_code == 200 and put.text == "buy milk"
    assert put.headers["Content-Type"].startswith("text/plain")
    as_json = http.get(url, headers={**KEY, "Accept": "application/json"}, timeout=10)
    assert as_json.json() == "buy milk"
    # "*" is the data as saved: raw text stays raw (stored as RAW, not as a JSON string)
    search = http.post(gateway_url + "/v1/keystore/notes", headers=KEY, json={"select": [{"field": "*"}]}, timeout=10)
    assert search.json() == [{"*": "buy milk"}]


def test_keystore_bad_json_is_400(http, gateway_url):
    resp = http.post(gateway_url + "/v1/keystore/weather/x", headers={**KEY, "Content-Type": "application/json"},
                     data="{nope", timeout=10)
    assert resp.status_code == 400 and "text/plain" in resp.json()["error"]["message"]
    search = http.post(gateway_url + "/v1/keystore/weather", headers=KEY, json=[1], timeout=10)
    assert search.status_code == 400


def test_tables_crud_and_search(http, gateway_url):
    url = gateway_url + "/v1/tables/users"
    assert http.get(url + "/8", headers=KEY, timeout=10).json()["data"][0]["username"] == "myusername"
    inserted = http.post(url + "/", headers=KEY, json={"username": "newuser", "age": 23}, timeout=10)
    assert inserted.status_code == 200, inserted.text
    row = inserted.json()["data"][0]
    alt = http.post(url + "/5000", headers=KEY, timeout=10,
                    json={"columns": [{"column_name": "username", "column_value": "alt"}]})
    assert alt.json()["data"][0]["id"] == "5000"
    updated = http.put(url + "/" + row["id"], headers=KEY, timeout=10,
                       json={"columns": [{"column_name": "age", "column_value": 24}]})
    assert updated.json()["total"] == 1 and updated.json()["data"] == []
    found = http.post(url + "/search", headers=KEY, timeout=10, json={
        "where": {"rules": [{"field": "username", "operator": "=", "value": "newuser"}]}})
    assert found.json()["data"][0]["age"] == 24 and found.json()["max_results"] == 1
    deleted = http.delete(url + "/" + row["id"], headers=KEY, timeout=10)
    assert deleted.json()["resource"] == 1
    assert http.get(url + "/" + row["id"], headers=KEY, timeout=10).status_code == 404
    assert http.get(url + "/abc", headers=KEY, timeout=10).status_code == 400
    assert http.post(url + "/", headers=KEY, json=[1, 2], timeout=10).status_code == 400


def test_tables_accept_xml_bodies_and_answer_xml(http, gateway_url):
    body = b"<row><username>xml-user</username><age>30</age></row>"
    resp = http.post(gateway_url + "/v1/tables/users/", data=body, timeout=10,
                     headers={**KEY, "Content-Type": "application/xml"})
    assert resp.status_code == 200, resp.text
    assert resp.headers["Content-Type"].startswith("application/xml")
    assert b"<username>xml-user</username>" in resp.content


def test_keystore_with_full_demo_headers(http, gateway_url):
    assert http.get(gateway_url + "/v1/keystore/weather/madrid", headers=DEMO_HEADERS, timeout=10).status_code == 200


def test_tables_without_id_answer_both_slash_forms_directly(http, gateway_url):
    """The vendor redirects ``/v1/tables/users`` to ``.../users/`` (308); the gateway answers both."""
    body = {"columns": [{"column_name": "age", "column_value": 99}],
            "where": {"rules": [{"field": "id", "operator": "=", "value": "8"}]}}
    for path in ("/v1/tables/users", "/v1/tables/users/"):
        resp = http.put(gateway_url + path, headers=KEY, json=body, timeout=10, allow_redirects=False)
        assert resp.status_code == 200 and resp.json()["total"] == 1
        inserted = http.post(gateway_url + path, headers=KEY, json={"username": "u"}, timeout=10,
                             allow_redirects=False)
        assert inserted.status_code == 200


def test_values_a_header_cannot_carry_are_400(http, gateway_url):
    resp = http.get(gateway_url + "/v1/flowdiagram", headers=KEY | {"X-App": "demo-app"}, timeout=10,
                    params={"flow_name": "bad\nname"})
    assert resp.status_code == 400 and resp.json()["resource"] == []
    unicode = http.get(gateway_url + "/v1/record/%E2%98%83", headers=KEY | {"X-App": "demo-app"}, timeout=10)
    assert unicode.status_code == 400

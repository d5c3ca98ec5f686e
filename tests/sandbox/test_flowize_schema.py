"""Flowize sandbox over real HTTP: "Data Schema" (POST, GET, PUT, DELETE /v1/schema, base64 fields)."""

from __future__ import annotations

import base64
import json
import re

import pytest
from support import DEMO_HEADERS, DEMO_OAUTH, DEMO_PARAMS

DATE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
SCHEMA = {"$schema": "http://json-schema.org/draft-04/schema#", "type": "object",
          "properties": {"client": {"type": "array"}}}
RECORD = {"client": [{"uuid": "", "name": "", "age": 0}]}


def b64(value) -> str:
    return base64.b64encode(json.dumps(value).encode()).decode()


def payload(schema=SCHEMA, record=RECORD, url="www.example.nl") -> dict:
    return {"schema": b64(schema), "data_record": b64(record), "url": url}


def _insert(http, sandbox_url, body=None, **kw):
    kw.setdefault("headers", {**DEMO_HEADERS, "X-Scopes": "schema"})
    return http.post(sandbox_url + "/v1/schema", json=body if body is not None else payload(), timeout=5, **kw)


def _assert_error(resp, status: int) -> None:
    assert resp.status_code == status, resp.text
    assert resp.json()["resource"] == []
    assert resp.json()["error"]["code"] == status


def test_insert_schema_gives_201_with_creation_and_modified_dates(http, sandbox_url):
    resp = _insert(http, sandbox_url)
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["message"] == "Schema structure is created successfully"
    assert DATE.match(body["resource"]["creation_date"])
    assert DATE.match(body["resource"]["modified_date"])


def test_second_insert_gives_409(http, sandbox_url):
    assert _insert(http, sandbox_url).status_code == 201
    _assert_error(_insert(http, sandbox_url), 409)


def test_get_returns_the_base64_schema_url_and_customer(http, sandbox_url):
    _insert(http, sandbox_url)
    resp = http.get(sandbox_url + "/v1/schema", headers={**DEMO_HEADERS, "X-Scopes": "schema.read"}, timeout=5)
    assert resp.status_code == 200
    res = resp.json()["resource"]
    assert resp.json()["message"] == "Schema structure is retrieving successfully"
    assert json.loads(base64.b64decode(res["schema"])) == SCHEMA
    assert res["customer"] == "Demo"
    assert res["url"] == "www.example.nl"
    assert DATE.match(res["creation_date"]) and DATE.match(res["modified_date"])


def test_get_without_a_schema_gives_404(http, sandbox_url):
    _assert_error(http.get(sandbox_url + "/v1/schema", headers=DEMO_HEADERS, timeout=5), 404)


def test_update_gives_201_and_get_shows_the_new_schema(http, sandbox_url):
    _insert(http, sandbox_url)
    new_schema = {**SCHEMA, "title": "v2"}
    resp = http.put(sandbox_url + "/v1/schema", json=payload(schema=new_schema, url="www.example.com"),
                    headers={**DEMO_HEADERS, "X-Scopes": "schema"}, timeout=5)
    assert resp.status_code == 201, resp.text
    assert resp.json()["message"] == "Schema structure is updated successfully"
    res = http.get(sandbox_url + "/v1/schema", headers=DEMO_HEADERS, timeout=5).json()["resource"]
    assert json.loads(base64.b64decode(res["schema"])) == new_schema
    assert res["url"] == "www.example.com"


def test_update_without_a_schema_gives_404(http, sandbox_url):
    resp = http.put(sandbox_url + "/v1/schema", json=payload(), headers=DEMO_HEADERS, timeout=5)
    _assert_error(resp, 404)


def test_delete_gives_200_then_get_gives_404(http, sandbox_url):
    _insert(http, sandbox_url)
    resp = http.delete(sandbox_url + "/v1/schema", headers=DEMO_HEADERS, timeout=5)
    assert resp.status_code == 200
    assert resp.json()["message"] == "Schema has been removed successfully"
    _assert_error(http.get(sandbox_url + "/v1/schema", headers=DEMO_HEADERS, timeout=5), 404)


def test_delete_with_client_credentials_headers_as_documented(http, sandbox_url):
    _insert(http, sandbox_url)
    headers = {"client_id": DEMO_OAUTH["client_id"], "client_secret": DEMO_OAUTH["client_secret"]}
    assert http.delete(sandbox_url + "/v1/schema", headers=headers, timeout=5).status_code == 200
    _assert_error(http.get(sandbox_url + "/v1/schema", headers=DEMO_HEADERS, timeout=5), 404)


def test_insert_can_be_done_again_after_delete(http, sandbox_url):
    _insert(http, sandbox_url)
    http.delete(sandbox_url + "/v1/schema", headers=DEMO_HEADERS, timeout=5)
    assert _insert(http, sandbox_url).status_code == 201


@pytest.mark.parametrize("field", ["schema", "data_record"])
def test_non_base64_field_gives_400(http, sandbox_url, field):
    body = payload()
    body[field] = "this is {not} base64!"
    _assert_error(_insert(http, sandbox_url, body), 400)


def test_base64_that_is_not_json_gives_400(http, sandbox_url):
    body = payload()
    body["schema"] = base64.b64encode(b"not json").decode()
    _assert_error(_insert(http, sandbox_url, body), 400)


def test_missing_field_gives_400(http, sandbox_url):
    body = payload()
    del body["data_record"]
    _assert_error(_insert(http, sandbox_url, body), 400)


def test_empty_body_gives_400(http, sandbox_url):
    resp = http.post(sandbox_url + "/v1/schema", data=b"",
                     headers={**DEMO_HEADERS, "Content-Type": "application/json"}, timeout=5)
    _assert_error(resp, 400)


def test_malformed_json_gives_400(http, sandbox_url):
    resp = http.post(sandbox_url + "/v1/schema", data=b'{"schema": ',
                     headers={**DEMO_HEADERS, "Content-Type": "application/json"}, timeout=5)
    _assert_error(resp, 400)


def test_failed_insert_stores_nothing(http, sandbox_url):
    body = payload()
    body["schema"] = "%%%"
    _insert(http, sandbox_url, body)
    _assert_error(http.get(sandbox_url + "/v1/schema", headers=DEMO_HEADERS, timeout=5), 404)


def test_schema_with_bearer_token(http, sandbox_url):
    token = http.get(sandbox_url + "/v1/checkauthentication", headers=DEMO_OAUTH, timeout=5).json()
    headers = {"Authorization": "Bearer " + token["resource"]["access_token"], "X-Scopes": "schema"}
    assert _insert(http, sandbox_url, headers=headers).status_code == 201
    assert http.get(sandbox_url + "/v1/schema", headers=headers, timeout=5).json()["resource"]["customer"] == "Demo"


def test_schema_with_url_params(http, sandbox_url):
    params = {**DEMO_PARAMS, "scopes": "schema"}
    resp = http.post(sandbox_url + "/v1/schema", params=params, json=payload(), timeout=5)
    assert resp.status_code == 201
    got = http.get(sandbox_url + "/v1/schema", params={**DEMO_PARAMS, "scopes": "schema.read"}, timeout=5)
    assert got.status_code == 200
    assert json.loads(base64.b64decode(got.json()["resource"]["schema"])) == SCHEMA


def test_schema_with_apikey_headers(http, sandbox_url):
    assert _insert(http, sandbox_url, headers=DEMO_HEADERS).status_code == 201
    assert http.get(sandbox_url + "/v1/schema", headers=DEMO_HEADERS, timeout=5).status_code == 200


def test_schema_read_scope_cannot_insert(http, sandbox_url):
    _assert_error(_insert(http, sandbox_url, headers={**DEMO_HEADERS, "X-Scopes": "schema.read"}), 401)


def test_schema_without_credentials_gives_401(http, sandbox_url):
    _assert_error(_insert(http, sandbox_url, headers={}), 401)

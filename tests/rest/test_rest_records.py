"""REST front door, Data Schema and Data Record groups, in each documented credential style."""

from __future__ import annotations

import requests
from support import DEMO_HEADERS, DEMO_OAUTH, b64json


def call(http, method, url, auth, **kw):
    headers, params = auth
    return http.request(method, url, headers={**headers, **kw.pop("headers", {})},
                        params={**params, **kw.pop("params", {})}, timeout=10, **kw)


def test_schema_create_get_update_delete(http, gateway_url, auth):
    body = {"schema": b64json({"type": "object"}), "data_record": b64json({"client": []}), "url": "www.example.nl"}
    created = call(http, "POST", gateway_url + "/v1/schema", auth, json=body)
    assert created.status_code == 201, created.text
    assert created.json()["message"] == "Schema structure is created successfully"
    assert call(http, "POST", gateway_url + "/v1/schema", auth, json=body).status_code == 409
    got = call(http, "GET", gateway_url + "/v1/schema", auth).json()["resource"]
    assert got["schema"] == body["schema"] and got["customer"] == "Demo"
    updated = call(http, "PUT", gateway_url + "/v1/schema", auth, json={**body, "url": "www.example.com"})
    assert updated.status_code == 201
    deleted = call(http, "DELETE", gateway_url + "/v1/schema", auth)
    assert deleted.status_code == 200 and deleted.json()["resource"] == {}
    missing = call(http, "GET", gateway_url + "/v1/schema", auth)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == 404


def test_schema_rejects_non_base64(http, gateway_url):
    resp = http.post(gateway_url + "/v1/schema", headers=DEMO_HEADERS, timeout=10,
                     json={"schema": "not base64!", "data_record": b64json({})})
    assert resp.status_code == 400 and resp.json()["resource"] == []


def test_record_lifecycle(http, gateway_url, auth):
    data = {"client": [{"name": "Ada", "age": 36}]}
    created = call(http, "POST", gateway_url + "/v1/record", auth, json=data,
                   headers={"X-Flow": "demo-flow", "X-Uuid": "rest-1"})
    assert created.status_code == 201, created.text
    assert created.json()["resource"]["data_record"] == data
    assert created.json()["resource"]["uuid"] == "rest-1"
    by_path = call(http, "GET", gateway_url + "/v1/record/rest-1", auth).json()["resource"]
    by_header = call(http, "GET", gateway_url + "/v1/record", auth, headers={"X-Uuid": "rest-1"}).json()["resource"]
    assert by_path == by_header and by_path["data_record"] == data and by_path["info"]["status"] == "Finished"
    updated = call(http, "PUT", gateway_url + "/v1/record", auth, json={"client": []}, headers={"X-Uuid": "rest-1"})
    assert updated.status_code == 200 and updated.json()["resource"]["data_record"] == {"client": []}
    assert call(http, "POST", gateway_url + "/v1/record", auth, json=data,
                headers={"X-Flow": "demo-flow", "X-Uuid": "rest-1"}).status_code == 409
    deleted = call(http, "DELETE", gateway_url + "/v1/record/rest-1", auth)
    assert deleted.json()["resource"] == {"flow_name": "demo-flow", "uuid": "rest-1"}
    assert call(http, "GET", gateway_url + "/v1/record/rest-1", auth).status_code == 404


def test_record_values_as_url_parameters(http, gateway_url):
    """URL authorization passes X-Flow / X-Uuid as flow_name / uuid "by GET"."""
    params = {"api_key": "demo-api-key", "app_key": "demo-app", "flow_name": "demo-flow", "uuid": "url-1"}
    resp = http.post(gateway_url + "/v1/record", params=params, json={"a": 1}, timeout=10)
    assert resp.status_code == 201 and resp.json()["resource"]["uuid"] == "url-1"
    got = http.get(gateway_url + "/v1/record", params={**params}, timeout=10)
    assert got.json()["resource"]["data_record"] == {"a": 1}


def test_record_insert_without_flow_is_400(http, gateway_url):
    resp = http.post(gateway_url + "/v1/record", headers=DEMO_HEADERS, json={"a": 1}, timeout=10)
    assert resp.status_code == 400 and resp.json()["error"]["code"] == 400


def test_record_with_client_credentials_headers(http, gateway_url):
    """The delete examples' client_id + client_secret headers (decisions A5) work through the gateway."""
    headers = {"client_id": DEMO_OAUTH["client_id"], "client_secret": DEMO_OAUTH["client_secret"]}
    resp = http.get(gateway_url + "/v1/record/demo-record", headers=headers, timeout=10)
    assert resp.status_code == 200, resp.text
    assert resp.json()["resource"]["info"]["uuid"] == "demo-record"


def test_search_headers_and_url_parameters(http, gateway_url, auth):
    for uuid in ("s-1", "s-2"):
        call(http, "POST", gateway_url + "/v1/record", auth, json={"n": uuid},
             headers={"X-Flow": "demo-flow-2", "X-Uuid": uuid}).raise_for_status()
    by_header = call(http, "GET", gateway_url + "/v1/record/search", auth, headers={"X-Flow": "demo-flow-2"}).json()
    assert by_header["id"] == "ok" and by_header["resource"]["total"] == 2
    by_url = call(http, "GET", gateway_url + "/v1/record/search", auth,
                  params={"flow_name": "demo-flow-2", "limit": 1}).json()["resource"]
    assert by_url["total"] == 2 and len(by_url["records"]) == 1 and by_url["limit"] == 1
    # "If Header parameters are present, URL parameters will be omitted"
    mixed = call(http, "PUT", gateway_url + "/v1/record/search", auth, headers={"X-Uuid": "s-1"},
                 params={"flow_name": "nope"}).json()["resource"]
    assert [r["uuid"] for r in mixed["records"]] == ["s-1"]


def test_changestatus_and_movetoflow(http, gateway_url, auth):
    call(http, "POST", gateway_url + "/v1/record", auth, json={"n": 1},
         headers={"X-Flow": "demo-flow", "X-Uuid": "q-1"}).raise_for_status()
    paused = call(http, "PUT", gateway_url + "/v1/record/changestatus", auth,
                  headers={"X-Queue-Status": "pause-queue", "X-Queue-Uuids": "q-1"})
    assert paused.status_code == 200, paused.text
    assert paused.json()["resource"]["records"][0]["queue_status_key"] == "Paused"
    resumed = call(http, "PUT", gateway_url + "/v1/record/changestatus", auth,
                   headers={"X-Queue-Status": "resume-and-continue"}, json=["q-1"])
    assert resumed.json()["message"] == "1 datarecords resumed from error status"
    moved = call(http, "PUT", gateway_url + "/v1/record/movetoflow", auth,
                 headers={"X-MoveToFlow-Flow": "demo-flow-2"}, json=["q-1", "demo-record"])
    assert moved.status_code == 200 and moved.json()["resource"]["total"] == 2
    bad = call(http, "PUT", gateway_url + "/v1/record/changestatus", auth,
               headers={"X-Queue-Status": "explode"}, json=["q-1"])
    assert bad.status_code == 400
    unknown = call(http, "PUT", gateway_url + "/v1/record/changestatus", auth,
                   headers={"X-Queue-Status": "pause-queue"}, json=["nope"])
    assert unknown.status_code == 404 and "nope" in unknown.json()["error"]["message"]
    not_array = call(http, "PUT", gateway_url + "/v1/record/movetoflow", auth,
                     headers={"X-MoveToFlow-Flow": "demo-flow"}, json={"uuid": "q-1"})
    assert not_array.status_code == 400


def test_checkauthentication_and_refreshtoken_with_underscore_headers(http, gateway_url):
    token = http.get(gateway_url + "/v1/checkauthentication", headers=DEMO_OAUTH, timeout=10)
    assert token.status_code == 200 and token.json()["message"] == "The credentials are valid"
    resource = token.json()["resource"]
    assert resource["token_type"] == "bearer" and resource["expires_in"] > 1_000_000_000
    refreshed = http.get(gateway_url + "/v1/refreshtoken", timeout=10,
                         headers={**DEMO_OAUTH, "refresh_token": resource["refresh_token"]})
    assert refreshed.status_code == 200 and refreshed.json()["message"] == "The token has been generated"
    new = refreshed.json()["resource"]["access_token"]
    assert http.get(gateway_url + "/v1/record/demo-record", headers={"Authorization": f"Bearer {new}"},
                    timeout=10).status_code == 200
    wrong = http.get(gateway_url + "/v1/checkauthentication", timeout=10,
                     headers={**DEMO_OAUTH, "client_secret": "wrong"})
    assert wrong.status_code == 401 and wrong.json() == {
        "resource": [], "error": {"code": 401, "message": "The credentials are not correct."}}
    no_grant = http.get(gateway_url + "/v1/checkauthentication", timeout=10,
                        headers={k: v for k, v in DEMO_OAUTH.items() if k != "grant_type"})
    assert no_grant.status_code == 400


def test_expired_or_unknown_token_is_403_436(http, gateway_url):
    resp = http.get(gateway_url + "/v1/schema", headers={"Authorization": "Bearer 00ff"}, timeout=10)
    assert resp.status_code == 403
    assert resp.json() == {"resource": [], "error": {"code": 436, "message": "Access token not valid"}}


def test_wrong_keys_401_and_missing_credentials_401(http, gateway_url):
    wrong = http.get(gateway_url + "/v1/record/demo-record", headers={"X-Apikey": "x", "X-App": "y"}, timeout=10)
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == 401
    none = requests.get(gateway_url + "/v1/record/demo-record", timeout=10)
    assert none.status_code == 401 and none.json()["resource"] == []

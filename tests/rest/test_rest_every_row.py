"""Every row of flowize-api.txt's REST endpoint table, through the gateway, in each of the three
documented auth styles and in JSON and XML: the "Done when" of the REST front door, in one table."""

from __future__ import annotations

import pytest
from support import DEMO_OAUTH, b64json

from gateway.xmlshape import from_xml

SCHEMA = {"schema": b64json({"type": "object"}), "data_record": b64json({"client": []}), "url": "www.example.nl"}


def _with_schema(http, base, headers, params):
    http.post(base + "/v1/schema", json=SCHEMA, headers={**headers, "Accept": "application/json"},
              params=params, timeout=10).raise_for_status()


# (row of the table, method, path, extra headers, JSON body, expected status, setup)
ROWS = [
    ("OPTIONS /v1/options", "OPTIONS", "/v1/options", {}, None, 200, None),
    ("POST /v1/schema", "POST", "/v1/schema", {}, SCHEMA, 201, None),
    ("GET /v1/schema", "GET", "/v1/schema", {}, None, 200, _with_schema),
    ("PUT /v1/schema", "PUT", "/v1/schema", {}, SCHEMA, 201, _with_schema),
    ("DELETE /v1/schema", "DELETE", "/v1/schema", {}, None, 200, _with_schema),
    ("GET /v1/record/:id", "GET", "/v1/record/demo-record", {}, None, 200, None),
    ("POST /v1/record", "POST", "/v1/record", {"X-Flow": "demo-flow"}, {"client": [{"n": 1}]}, 201, None),
    ("PUT /v1/record", "PUT", "/v1/record", {"X-Uuid": "demo-record"}, {"client": [{"n": 2}]}, 200, None),
    ("DELETE /v1/record", "DELETE", "/v1/record", {"X-Uuid": "demo-record"}, None, 200, None),
    ("PUT /v1/record/search", "PUT", "/v1/record/search", {"X-Flow": "demo-flow"}, None, 200, None),
    ("PUT /v1/record/movetoflow", "PUT", "/v1/record/movetoflow", {"X-MoveToFlow-Flow": "demo-flow-2"},
     ["demo-record"], 200, None),
    ("PUT /v1/record/changestatus", "PUT", "/v1/record/changestatus",
     {"X-Queue-Status": "pause-queue", "X-Queue-Uuids": "demo-record"}, None, 200, None),
    ("POST /v1/webhook", "POST", "/v1/webhook/demo-webhook", {}, {"order": 1}, 201, None),
    ("GET /v1/flowdiagram", "GET", "/v1/flowdiagram", {"X-Flow": "demo-flow"}, None, 200, None),
    ("PUT /v1/changeflowstatus", "PUT", "/v1/changeflowstatus", {"X-Flow-Id": "1", "X-Status": "paused"}, None,
     200, None),
    ("GET /v1/keystore", "GET", "/v1/keystore/weather/london", {}, None, 200, None),
    ("POST /v1/keystore (insert)", "POST", "/v1/keystore/weather/paris", {}, {"temp": 18, "city": "Paris"}, 200,
     None),
    ("PUT /v1/keystore", "PUT", "/v1/keystore/weather/london", {}, {"temp": 16, "city": "London"}, 200, None),
    ("DELETE /v1/keystore", "DELETE", "/v1/keystore/weather/london", {}, None, 200, None),
    ("POST /v1/keystore (search)", "POST", "/v1/keystore/weather", {},
     {"select": [{"field": "key"}], "where": {"rules": [{"field": "city", "operator": "LIKE", "value": "lon%"}]}},
     200, None),
    ("GET /v1/tables", "GET", "/v1/tables/users/8", {}, None, 200, None),
    ("POST /v1/tables (insert)", "POST", "/v1/tables/users/", {}, {"username": "row", "age": 30}, 200, None),
    ("PUT /v1/tables", "PUT", "/v1/tables/users/8", {}, {"columns": [{"column_name": "age", "column_value": 19}]},
     200, None),
    ("DELETE /v1/tables", "DELETE", "/v1/tables/users/8", {}, None, 200, None),
    ("POST /v1/tables (search)", "POST", "/v1/tables/users/search", {},
     {"where": {"condition": "AND", "rules": [{"field": "age", "operator": ">", "value": "10"}]}, "limit": 5}, 200,
     None),
    ("GET /v1/environment", "GET", "/v1/environment", {}, None, 200, None),
    ("GET /v1/environment/:id", "GET", "/v1/environment/1", {}, None, 200, None),
    ("GET /v1/environment/:id/status", "GET", "/v1/environment/1/status", {}, None, 200, None),
    ("POST /v1/environment", "POST", "/v1/environment", {},
     {"name": "Row test", "package": "SS-A", "region": "london"}, 201, None),
    ("POST /v1/environment/:id", "POST", "/v1/environment/2", {}, {"name": "Renamed"}, 200, None),
    ("DELETE /v1/environment/:id", "DELETE", "/v1/environment/2", {}, None, 200, None),
    ("POST /v1/environment/:id/upgrade", "POST", "/v1/environment/1/upgrade", {}, {"package": "SS-B"}, 200, None),
    ("POST /v1/environment/:id/update-version", "POST", "/v1/environment/1/update-version", {}, None, 200, None),
    ("POST /v1/environment/:id/optimize", "POST", "/v1/environment/1/optimize", {}, None, 200, None),
    ("GET /v1/environment/:id/projects", "GET", "/v1/environment/1/projects", {}, None, 200, None),
    ("POST /v1/environment/:id/project/:project_id", "POST", "/v1/environment/1/project/12", {},
     {"static_data": "yes"}, 200, None),
    ("DELETE /v1/environment/:id/project/:project_id", "DELETE", "/v1/environment/1/project/55", {}, None, 200,
     None),
]

FORMATS = {"json": "application/json", "xml": "application/xml"}


def _check_body(resp, fmt: str) -> None:
    assert resp.headers["Content-Type"].startswith(FORMATS[fmt]), resp.headers["Content-Type"]
    assert "X-RateLimit-Remaining" in resp.headers
    body = resp.json() if fmt == "json" else from_xml(resp.content)
    assert body not in (None, ""), resp.text


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("row", ROWS, ids=[r[0] for r in ROWS])
def test_every_row_in_every_auth_style_and_format(http, gateway_url, auth, row, fmt):
    _, method, path, extra, body, expected, setup = row
    headers, params = auth
    if setup:
        setup(http, gateway_url, headers, params)
    resp = http.request(method, gateway_url + path, headers={**headers, **extra, "Accept": FORMATS[fmt]},
                        params=params, json=body, timeout=10)
    assert resp.status_code == expected, f"{row[0]}: {resp.status_code} {resp.text[:300]}"
    _check_body(resp, fmt)


@pytest.mark.parametrize("fmt", FORMATS)
def test_oauth_rows_checkauthentication_and_refreshtoken(http, gateway_url, fmt):
    accept = {"Accept": FORMATS[fmt]}
    got = http.get(gateway_url + "/v1/checkauthentication", headers={**DEMO_OAUTH, **accept}, timeout=10)
    assert got.status_code == 200
    _check_body(got, fmt)
    token = http.get(gateway_url + "/v1/checkauthentication", headers=DEMO_OAUTH, timeout=10).json()["resource"]
    refreshed = http.get(gateway_url + "/v1/refreshtoken", timeout=10,
                         headers={**DEMO_OAUTH, "refresh_token": token["refresh_token"], **accept})
    assert refreshed.status_code == 200
    _check_body(refreshed, fmt)

"""The facade's part of the OpenAPI document (gateway/api/openapi.yaml) and its index, against the code.

The drift check (documented (path, method) pairs == the URL map under /api/) and the Postman folder are
in tests/rest/test_openapi.py, next to the /v1/ ones; the generated calls in tests/rest/test_schemathesis.py.
Here: the facade's own rules, which the generated calls cannot see (schemathesis sends the demo key
and does not compare the security of an operation with the code), and ``GET /api/``.
"""

from __future__ import annotations

import re
from importlib import resources
from typing import Any

import pytest
import yaml
from api.conftest import DEMO

from gateway.api.index import RESOURCES
from gateway.rest.openapi import load_spec, merge

CONSUMER = [{"apiConsumerKey": []}, {"apiConsumerBearer": []}]
PROBLEM = {"$ref": "#/components/schemas/ApiProblem"}
METHODS = ("get", "put", "post", "delete", "patch")


def shape(path: str) -> str:
    return re.sub(r"\{[^{}]*\}|<(?:[^:<>]+:)?[^<>]+>", "{}", path).rstrip("/") or "/"


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return load_spec()


def facade_operations(spec: dict[str, Any]):
    for path, item in spec["paths"].items():
        if path.startswith("/api/"):
            for method in METHODS:
                if method in item:
                    yield method.upper(), path, item[method]


def deref(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = spec
        for part in node["$ref"][2:].split("/"):
            target = target[part]
        node = target
    return node


def test_every_facade_operation_takes_the_consumer_key_but_the_index(spec):
    for method, path, op in facade_operations(spec):
        expected = [] if path == "/api/" else CONSUMER
        assert op.get("security") == expected, f"{method} {path}"
        assert any(tag.startswith("Facade") for tag in op["tags"]), f"{method} {path}"


def test_every_facade_error_is_a_problem_document(spec):
    for method, path, op in facade_operations(spec):
        responses = op["responses"]
        if path != "/api/":
            for status in ("400", "401", "403", "404", "429"):
                assert status in responses, f"{method} {path} does not document {status}"
            limited = deref(spec, responses["429"])
            assert {"Retry-After", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} <= set(
                limited["headers"]), f"{method} {path}"
        if "requestBody" in op:
            for status in ("413", "415", "422"):
                assert status in responses, f"{method} {path} reads a body but does not document {status}"
        for status, response in responses.items():
            if int(status) >= 400:
                assert deref(spec, response)["content"] == {"application/problem+json": {"schema": PROBLEM}}, (
                    f"{method} {path} {status}")


def test_the_facade_part_defines_only_api_names():
    """So that merging it into the Flowize document can never shadow a name there."""
    part = yaml.safe_load(resources.files("gateway.api").joinpath("openapi.yaml").read_text(encoding="utf-8"))
    for section, entries in part["components"].items():
        assert all(name.startswith(("api", "Api")) for name in entries), section
    assert all(path.startswith("/api/") for path in part["paths"])


def test_merge_refuses_a_clash():
    base = {"paths": {"/a": {}}, "tags": [{"name": "T"}], "components": {"schemas": {"S": {}}}}
    for part in ({"paths": {"/a": {}}}, {"tags": [{"name": "T"}]}, {"components": {"schemas": {"S": {}}}}):
        with pytest.raises(ValueError):
            merge(dict(base), part)
    merged = merge({"paths": {}}, {"paths": {"/b": {"get": {}}}, "components": {"headers": {"H": {}}}})
    assert merged == {"paths": {"/b": {"get": {}}}, "components": {"headers": {"H": {}}}}


def test_the_index_lists_every_route(spec):
    """``routes`` of GET /api/ name every facade operation but the index, and only those."""
    listed = set()
    for resource in RESOURCES:
        for route in resource["routes"]:
            method, path = route.split(" ", 1)
            listed.add((method, shape(path)))
        assert resource["href"] in {r.split(" ", 1)[1] for r in resource["routes"]}, resource["name"]
        for method in resource["methods"]:
            assert f"{method} {resource['href']}" in resource["routes"], resource["name"]
    documented = {(m, shape(p)) for m, p, _ in facade_operations(spec) if p != "/api/"}
    assert listed == documented
    sessions = next(r for r in RESOURCES if r["name"] == "event-sessions")
    assert "POST /api/events/sessions/{token}/registrants" in sessions["routes"]


def test_index_is_served_without_a_key(http, api_url):
    resp = http.get(api_url + "/", timeout=10)
    assert resp.status_code == 200
    body = resp.json()
    assert body["openapi"] == "/openapi.json" and body["docs"] == "/docs"
    assert [r["name"] for r in body["resources"]] == [r["name"] for r in RESOURCES]


def test_empty_idempotency_key_is_no_key(http, api_url):
    """Found by schemathesis: an empty Idempotency-Key was stored as the key "", so the second such
    submit hit the store's unique index (500). Both are new jobs now; a key too long for the store is 400."""
    row = {"uid": "a", "destination": {"type": "url", "url": "https://example.com"}}
    headers = {**DEMO, "Idempotency-Key": ""}
    ids = set()
    for _ in range(2):
        resp = http.post(api_url + "/qr/jobs", json={"vendor": "flowcode", "rows": [row]}, headers=headers, timeout=10)
        assert resp.status_code == 202, resp.text
        assert "Idempotent-Replayed" not in resp.headers
        ids.add(resp.json()["id"])
    assert len(ids) == 2
    resp = http.post(api_url + "/qr/jobs", json={"vendor": "flowcode", "rows": [row]},
                     headers={**DEMO, "Idempotency-Key": "k" * 256}, timeout=10)
    assert resp.status_code == 400 and resp.json()["code"] == "invalid_request"


def test_a_cursor_of_another_list_is_refused_by_the_jobs_list(http, api_url):
    cursor = http.get(api_url + "/events/sessions", params={"limit": 1}, headers=DEMO, timeout=10).json()["next_cursor"]
    assert cursor
    resp = http.get(api_url + "/qr/jobs", params={"cursor": cursor}, headers=DEMO, timeout=10)
    assert resp.status_code == 400 and resp.json()["code"] == "invalid_cursor"


@pytest.mark.parametrize("kind", [{}, ["url"], 7, None])
def test_a_destination_type_that_is_not_a_name_is_a_422(http, api_url, kind):
    """Found by schemathesis: ``{"type": {}}`` was a 500 (a dict looked up in a dict of checks)."""
    row = {"uid": "a1", "destination": {"type": kind, "url": "https://example.com"}}
    resp = http.post(api_url + "/qr/codes", json={"vendor": "flowcode", "row": row}, headers=DEMO, timeout=10)
    assert resp.status_code == 422, resp.text
    assert resp.json()["errors"] == [{"field": "row", "reason": "destination.type must be one of url, sms, phone, "
                                                               "email, venmo, wifi"}]
    resp = http.post(api_url + "/qr/jobs", json={"vendor": "flowcode", "rows": [row]}, headers=DEMO, timeout=10)
    assert resp.status_code == 422, resp.text
    assert resp.json()["code"] == "invalid_rows"

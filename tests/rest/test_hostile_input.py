"""Hostile REST input: path parameters that would change the vendor's path, JSON too deep or with
NaN, XML with comments, processing instructions or a DOCTYPE. Each is a clean 400 (or 413) in the
documented error shape, never a 500, and nothing reaches the vendor that the caller did not mean.
"""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

import pytest
from support import DEMO_HEADERS, Recorder

from gateway.cli import add_consumer
from gateway.config import Settings

RECORD_XML = "application/xml"


def raw_request(base: str, method: str, target: str, headers: dict[str, str] | None = None,
                body: bytes | None = None) -> tuple[int, bytes]:
    """Send ``target`` exactly as written (curl --path-as-is): no client normalises the dots."""
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=15)
    try:
        conn.request(method, target, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


@pytest.fixture
def vendor():
    recorder = Recorder()
    yield recorder
    recorder.shutdown()


# -- path parameters ----------------------------------------------------------------------------------
TRAVERSALS = [
    ("GET", "/v1/keystore/%2E%2E/schema"),
    ("GET", "/v1/keystore/demo-keystore/%2E%2E"),
    ("DELETE", "/v1/tables/%2E%2E/%2E%2E"),
    ("DELETE", "/v1/keystore/%2e/%2e"),
    ("PUT", "/v1/tables/%2E%2E/1"),
    ("POST", "/v1/tables/demo_table/%2E%2E"),
    ("POST", "/v1/keystore/%2E%2E"),
    ("POST", "/v1/webhook/%2E%2E"),
    ("POST", "/v1/webhook/a/%2E%2E/%2E%2E/record"),
]


@pytest.mark.parametrize("mode", ["passthrough", "gateway"])
@pytest.mark.parametrize(("method", "target"), TRAVERSALS)
def test_a_dot_segment_in_a_path_parameter_is_a_400_and_never_reaches_the_vendor(gateway_factory, tmp_path, vendor,
                                                                                 mode, method, target):
    gw = gateway_factory(upstream=vendor.url, rest_auth=mode)
    headers = dict(DEMO_HEADERS)
    if mode == "gateway":  # a consumer key; the gateway holds the vendor credentials it sends
        key = add_consumer(Settings(data_dir=str(tmp_path / "gw0")), "acme", upstream_api_key="demo-api-key",
                           upstream_app_key="demo-app")[1]
        headers = {"X-Apikey": key}
    body = b"{}" if method in ("POST", "PUT") else None
    status, data = raw_request(gw.url, method, target, {**headers, "Content-Type": "application/json"}, body)
    assert status == 400, data
    error = json.loads(data)
    assert error["resource"] == [] and error["error"]["code"] == 400
    assert "'..'" in error["error"]["message"] and "vendor's path" in error["error"]["message"]
    assert vendor.seen == []


def test_a_value_sent_double_encoded_reaches_the_vendor_as_that_literal_name(gateway_factory, vendor):
    gw = gateway_factory(upstream=vendor.url)
    assert raw_request(gw.url, "GET", "/v1/keystore/%2E%2E/schema", DEMO_HEADERS)[0] == 400
    status, data = raw_request(gw.url, "GET", "/v1/keystore/%252E%252E/schema", DEMO_HEADERS)
    assert status == 200, data
    # The key "%2E%2E" (percent signs included) is a name like any other, quoted once more upstream.
    assert vendor.seen == [("GET", "/v1/keystore/%252E%252E/schema")]


@pytest.mark.parametrize("target", ["/api/events/sessions/%2E%2E", "/api/events/sessions/%2E%2E/registrants",
                                    "/api/events/sessions/%2E%2E/reports/summary", "/api/feeds/%2E%2E"])
def test_a_dot_segment_in_a_facade_path_is_a_400_problem_and_never_reaches_the_vendor(gateway_factory, vendor,
                                                                                     target):
    gw = gateway_factory(upstream=vendor.url)
    status, data = raw_request(gw.url, "GET", target, {"X-Apikey": "demo-api-key"})
    assert status == 400, data
    problem = json.loads(data)
    assert problem["status"] == 400 and problem["code"] == "invalid_request"
    assert vendor.seen == []


# -- JSON bodies ----------------------------------------------------------------------------------------
def test_deeply_nested_json_is_a_400_not_a_recursion_error(http, gateway_url):
    body = "[" * 10000 + "]" * 10000
    resp = http.post(gateway_url + "/v1/record", data=body, timeout=15,
                     headers={**DEMO_HEADERS, "Content-Type": "application/json", "X-Flow": "demo-flow"})
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["message"] == "The JSON body is nested deeper than 64 levels."
    assert "Traceback" not in resp.text


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_nan_and_infinity_are_refused_not_echoed_as_invalid_json(http, gateway_url, number):
    body = '{"amount": ' + number + "}"
    resp = http.post(gateway_url + "/v1/record", data=body, timeout=15,
                     headers={**DEMO_HEADERS, "Content-Type": "application/json", "X-Flow": "demo-flow"})
    assert resp.status_code == 400, resp.text
    message = resp.json()["error"]["message"]  # the answer itself is valid JSON
    assert "finite" in message


def test_the_json_caps_come_from_settings(gateway_factory, http):
    gw = gateway_factory(json_max_depth=3, json_max_body_bytes=200)
    headers = {**DEMO_HEADERS, "Content-Type": "application/json", "X-Flow": "demo-flow"}
    ok = http.post(gw.url + "/v1/record", data='{"a": [{"b": 1}]}', headers=headers, timeout=15)
    assert ok.status_code == 201, ok.text
    deep = http.post(gw.url + "/v1/record", data='{"a": [{"b": [1]}]}', headers=headers, timeout=15)
    assert deep.status_code == 400 and "nested deeper than 3 levels" in deep.json()["error"]["message"]
    big = http.post(gw.url + "/v1/record", data=json.dumps({"a": "x" * 300}), headers=headers, timeout=15)
    assert big.status_code == 413 and big.json()["error"]["code"] == 413


# -- XML bodies -----------------------------------------------------------------------------------------
def _post_xml(http, base: str, xml: str):
    return http.post(base + "/v1/record", data=xml.encode(), timeout=15,
                     headers={**DEMO_HEADERS, "Content-Type": RECORD_XML, "Accept": "application/json",
                              "X-Flow": "demo-flow", "X-Uuid": "xml-hostile-1"})


def test_an_xml_body_with_comments_and_processing_instructions_is_read_without_them(http, gateway_url):
    xml = ('<?xml version="1.0"?><!-- a comment before --><?app keep-me?>'
           '<response><!-- inside --><name>Ada</name><?pi here?><tags type="array"><item>x</item>'
           '<!-- between --><item>y</item></tags></response>')
    resp = _post_xml(http, gateway_url, xml)
    assert resp.status_code == 201, resp.text
    stored = http.get(gateway_url + "/v1/record/xml-hostile-1", headers=DEMO_HEADERS, timeout=15)
    assert stored.status_code == 200, stored.text
    assert resp.json()["resource"]["data_record"] == {"name": "Ada", "tags": ["x", "y"]}
    assert stored.json()["resource"]["data_record"] == {"name": "Ada", "tags": ["x", "y"]}


@pytest.mark.parametrize("xml", [
    '<!DOCTYPE response><response><name>Ada</name></response>',
    '<!DOCTYPE r [<!ENTITY e "Ada">]><response><name>&e;</name></response>',
    '<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><response><name>&x;</name></response>',
])
def test_an_xml_body_with_a_doctype_is_a_clear_400(http, gateway_url, xml):
    resp = _post_xml(http, gateway_url, xml)
    assert resp.status_code == 400, resp.text
    assert "Document Type Declaration" in resp.json()["error"]["message"]
    assert "root:" not in resp.text


def test_a_deeply_nested_xml_body_is_a_400(http, gateway_url):
    xml = "<response>" + "<a>" * 5000 + "</a>" * 5000 + "</response>"
    resp = _post_xml(http, gateway_url, xml)
    assert resp.status_code == 400, resp.text
    assert "nested deeper" in resp.json()["error"]["message"]

"""REST front door, HTTP done right: negotiation, fields, ETag/304, HEAD/OPTIONS, error shapes, IPs."""

from __future__ import annotations

import pytest
from lxml import etree
from support import DEMO_HEADERS

from gateway.errors import InvalidRequest
from gateway.rest.negotiation import parse_fields, select_fields

RECORD = "/v1/record/demo-record"


# -- negotiation ---------------------------------------------------------------------------------
def test_json_by_default_xml_when_accepted(http, gateway_url):
    as_json = http.get(gateway_url + RECORD, headers=DEMO_HEADERS, timeout=10)
    assert as_json.headers["Content-Type"].startswith("application/json")
    as_xml = http.get(gateway_url + RECORD, headers={**DEMO_HEADERS, "Accept": "application/xml"}, timeout=10)
    assert as_xml.headers["Content-Type"].startswith("application/xml")
    root = etree.fromstring(as_xml.content)
    assert root.tag == "response" and root.findtext("resource/info/uuid") == "demo-record"
    assert root.findtext("message") == as_json.json()["message"]


def test_accept_quality_and_content_type_fallback(http, gateway_url):
    prefers_json = http.get(gateway_url + RECORD, timeout=10,
                            headers={**DEMO_HEADERS, "Accept": "application/xml;q=0.5, application/json"})
    assert prefers_json.headers["Content-Type"].startswith("application/json")
    by_ctype = http.get(gateway_url + RECORD, timeout=10,
                        headers={**DEMO_HEADERS, "Accept": "*/*", "Content-Type": "application/xml"})
    assert by_ctype.headers["Content-Type"].startswith("application/xml")


def test_gateway_body_equals_vendor_body(http, gateway_url, sandbox_url):
    for path in (RECORD, "/v1/environment/1", "/v1/keystore/weather/london"):
        for accept in ("application/json", "application/xml"):
            headers = {**DEMO_HEADERS, "Accept": accept}
            assert http.get(gateway_url + path, headers=headers, timeout=10).content == \
                http.get(sandbox_url + path, headers=headers, timeout=10).content


def test_xml_request_body(http, gateway_url):
    body = b"<client><name>Xml</name><age>7</age></client>"
    resp = http.post(gateway_url + "/v1/record", data=body, timeout=10,
                     headers={**DEMO_HEADERS, "X-Flow": "demo-flow", "Content-Type": "application/xml"})
    assert resp.status_code == 201 and etree.fromstring(resp.content).findtext("resource/data_record/name") == "Xml"


def test_errors_in_xml_when_asked(http, gateway_url):
    resp = http.get(gateway_url + "/v1/record/nope", headers={**DEMO_HEADERS, "Accept": "application/xml"}, timeout=10)
    assert resp.status_code == 404
    root = etree.fromstring(resp.content)
    assert root.findtext("error/code") == "404" and root.find("resource").get("type") == "array"


# -- selectable fields ---------------------------------------------------------------------------------
def test_fields_selection(http, gateway_url):
    resp = http.get(gateway_url + RECORD, params={"fields": "resource.info.uuid,message"},
                    headers=DEMO_HEADERS, timeout=10)
    assert resp.json() == {"resource": {"info": {"uuid": "demo-record"}},
                           "message": "Data Record structure was retrieving successfully"}
    listed = http.get(gateway_url + "/v1/environment", params={"fields": "data.id,data.name"},
                      headers=DEMO_HEADERS, timeout=10).json()
    assert listed["data"][0] == {"id": "1", "name": "Environment 1"} and "code" not in listed
    as_xml = http.get(gateway_url + RECORD, params={"fields": "message"},
                      headers={**DEMO_HEADERS, "Accept": "application/xml"}, timeout=10)
    assert [c.tag for c in etree.fromstring(as_xml.content)] == ["message"]


def test_fields_do_not_touch_errors_and_bad_syntax_is_400(http, gateway_url):
    err = http.get(gateway_url + "/v1/record/nope", params={"fields": "message"}, headers=DEMO_HEADERS, timeout=10)
    assert err.json()["error"]["code"] == 404
    bad = http.get(gateway_url + RECORD, params={"fields": "resource..uuid"}, headers=DEMO_HEADERS, timeout=10)
    assert bad.status_code == 400 and bad.json()["resource"] == []


def test_select_fields_unit():
    body = {"a": {"b": 1, "c": 2}, "list": [{"x": 1, "y": 2}, {"x": 3}], "s": "t", "gone": 0}
    assert select_fields(body, parse_fields("a.b,list.x,s.deeper")) == {"a": {"b": 1}, "list": [{"x": 1}, {"x": 3}],
                                                                        "s": "t"}
    assert select_fields(body, parse_fields("a.b,a")) == {"a": {"b": 1, "c": 2}}
    assert select_fields(body, parse_fields("a,a.b")) == {"a": {"b": 1, "c": 2}}
    assert parse_fields("  ") is None
    with pytest.raises(InvalidRequest):
        parse_fields("a,,b")


# -- ETag, 304, HEAD, OPTIONS --------------------------------------------------------------------------
def test_etag_and_304(http, gateway_url):
    first = http.get(gateway_url + RECORD, headers=DEMO_HEADERS, timeout=10)
    etag = first.headers["ETag"]
    assert len(etag.strip('"')) == 32 and first.headers["Pragma"] == "no-cache"
    again = http.get(gateway_url + RECORD, headers={**DEMO_HEADERS, "If-None-Match": etag}, timeout=10)
    assert again.status_code == 304 and again.content == b"" and again.headers.get("Content-Length", "0") == "0"
    assert again.headers["ETag"] == etag
    http.put(gateway_url + RECORD, headers=DEMO_HEADERS, json={"changed": True}, timeout=10).raise_for_status()
    changed = http.get(gateway_url + RECORD, headers={**DEMO_HEADERS, "If-None-Match": etag}, timeout=10)
    assert changed.status_code == 200 and changed.headers["ETag"] != etag


def test_head_gives_headers_without_body(http, gateway_url):
    get = http.get(gateway_url + RECORD, headers=DEMO_HEADERS, timeout=10)
    head = http.head(gateway_url + RECORD, headers=DEMO_HEADERS, timeout=10)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["ETag"] == get.headers["ETag"]
    assert head.headers["Content-Length"] == get.headers["Content-Length"]


def test_options_on_any_route_lists_allowed_methods(http, gateway_url):
    resp = http.options(gateway_url + "/v1/schema", timeout=10)
    assert resp.status_code == 200
    assert {"GET", "POST", "PUT", "DELETE", "OPTIONS"} <= {m.strip() for m in resp.headers["Allow"].split(",")}


# -- error shapes ----------------------------------------------------------------------------------------
def test_unknown_route_wrong_method_malformed_json(http, gateway_url):
    unknown = http.get(gateway_url + "/v1/nothing/here", headers=DEMO_HEADERS, timeout=10)
    assert unknown.status_code == 404 and unknown.json() == {
        "resource": [], "error": {"code": 404, "message": "The requested resource doesn't exist."}}
    outside = http.get(gateway_url + "/nothing", timeout=10)
    assert outside.status_code == 404 and outside.headers["Content-Type"].startswith("application/json")
    wrong = http.patch(gateway_url + "/v1/schema", headers=DEMO_HEADERS, timeout=10)
    assert wrong.status_code == 405 and wrong.json()["error"]["code"] == 405 and "GET" in wrong.headers["Allow"]
    malformed = http.post(gateway_url + "/v1/record", data="{oops", timeout=10,
                          headers={**DEMO_HEADERS, "X-Flow": "demo-flow", "Content-Type": "application/json"})
    assert malformed.status_code == 400 and malformed.json() == {
        "resource": [], "error": {"code": 400, "message": "The request body is not valid JSON."}}


def test_vendor_errors_pass_through_with_status_and_code(http, gateway_url, sandbox_url):
    restricted = http.get(gateway_url + RECORD, headers={"X-Apikey": "demo-api-key", "X-App": "demo-app-restricted"},
                          timeout=10)
    assert restricted.status_code == 403 and restricted.json()["error"] == {"code": 437, "message": "Ip not valid"}
    http.post(sandbox_url + "/_sandbox/faults", json={"path": "/v1/schema", "status": 429, "retry_after": 30},
              timeout=5).raise_for_status()
    limited = http.get(gateway_url + "/v1/schema", headers=DEMO_HEADERS, timeout=10)
    assert limited.status_code == 429 and limited.json()["error"]["code"] == 429
    assert int(limited.headers["Retry-After"]) >= 1
    http.post(sandbox_url + "/_sandbox/faults", json={"path": "/v1/flowdiagram", "status": 500}, timeout=5)
    broken = http.get(gateway_url + "/v1/flowdiagram?flow_name=demo-flow", headers=DEMO_HEADERS, timeout=10)
    assert broken.status_code == 502 and broken.json()["resource"] == []


def test_vendor_unreachable_is_503_in_the_documented_shape(http, gateway_factory):
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    gw = gateway_factory(upstream=f"http://127.0.0.1:{port}")
    resp = http.get(gw.url + RECORD, headers=DEMO_HEADERS, timeout=10)
    assert resp.status_code == 503 and resp.json()["resource"] == [] and resp.json()["error"]["code"] == 503


def test_global_ip_allowlist_gives_403_437(http, gateway_factory):
    blocked = gateway_factory(rest_ip_allowlist="203.0.113.0/24")
    resp = http.get(blocked.url + RECORD, headers=DEMO_HEADERS, timeout=10)
    assert resp.status_code == 403 and resp.json() == {"resource": [], "error": {"code": 437, "message": "Ip not valid"}}
    allowed = gateway_factory(rest_ip_allowlist="10.0.0.1, 127.0.0.0/8")
    assert http.get(allowed.url + RECORD, headers=DEMO_HEADERS, timeout=10).status_code == 200


def test_soap_is_not_shadowed(http, gateway_url):
    wsdl = http.get(gateway_url + "/v1/soap?wsdl", timeout=10)
    assert wsdl.status_code == 200 and b"definitions" in wsdl.content
    assert "X-RateLimit-Limit" not in wsdl.headers  # the REST hooks never see /v1/soap


def test_consumer_scopes_reach_the_vendor_and_are_enforced(http, gateway_url):
    # A scope that does not grant the method gets the vendor's 401, as when calling the vendor directly,
    # whether sent as X-Scopes or as the scopes URL parameter; nothing is deleted.
    wrong = [({**DEMO_HEADERS, "X-Scopes": "schema"}, {}), (DEMO_HEADERS, {"scopes": "schema.read"})]
    for headers, params in wrong:
        resp = http.delete(gateway_url + "/v1/record/demo-record", headers=headers, params=params, timeout=10)
        assert resp.status_code == 401 and resp.json()["error"]["code"] == 401, resp.text
    assert http.get(gateway_url + "/v1/schema", headers={**DEMO_HEADERS, "X-Scopes": "record"},
                    timeout=10).status_code == 401
    right = http.delete(gateway_url + "/v1/record/demo-record", headers={**DEMO_HEADERS, "X-Scopes": "record"},
                        timeout=10)
    assert right.status_code == 200

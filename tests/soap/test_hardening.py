"""Hostile or broken input gets a Client fault, fast: never a 500 page, a traceback or a hang."""

from __future__ import annotations

import time

import pytest
import requests
from support import gateway_with

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
<!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">]>
<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><m:getSchema xmlns:m="Flowize">
<input><AuthenticationObject><Apikey>&lol5;</Apikey></AuthenticationObject></input></m:getSchema></s:Body></s:Envelope>"""

XXE = """<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><m:getSchema xmlns:m="Flowize">
<input><AuthenticationObject><Apikey>&xxe;</Apikey></AuthenticationObject></input></m:getSchema></s:Body></s:Envelope>"""

DEEP = ('<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><m:getSchema xmlns:m="Flowize">'
        + "<a>" * 500 + "</a>" * 500 + "</m:getSchema></s:Body></s:Envelope>")
WIDE = ('<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><m:getSchema xmlns:m="Flowize">'
        + "<a/>" * 150_000 + "</m:getSchema></s:Body></s:Envelope>")

CASES = {
    "billion laughs": (BILLION_LAUGHS, "Document Type Declaration"),
    "external entity": (XXE, "Document Type Declaration"),
    "too deep": (DEEP, "nested deeper"),
    "too many elements": (WIDE, "more than"),
    "not xml": ("this is not xml", "not well-formed"),
    "empty": ("", "not well-formed"),
    "not an envelope": ("<hello/>", "not a SOAP"),
    "no body": ('<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"/>', "no Body"),
    "empty body": ('<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body/></s:Envelope>',
                   "Body is empty"),
    "unknown operation": (('<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
                           '<m:dropTables xmlns:m="Flowize"/></s:Body></s:Envelope>'), "Unknown operation"),
    "truncated": ('<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><m:getSchema', "not well"),
}


@pytest.mark.parametrize("name", CASES)
def test_hostile_or_broken_xml_gets_a_client_fault_quickly(post_soap, name):
    envelope, expected = CASES[name]
    started = time.monotonic()
    reply = post_soap(envelope)
    assert time.monotonic() - started < 5
    assert reply.response.headers["Content-Type"].startswith("text/xml")
    fault = reply.fault()
    assert fault["faultcode"] == "SOAP-ENV:Client"
    assert expected in fault["faultstring"]
    assert "Traceback" not in reply.response.text and "root:" not in reply.response.text


def test_body_over_the_cap_is_refused_before_parsing(tmp_path, sandbox_url):
    server = gateway_with(tmp_path, sandbox_url, soap_max_body_bytes=1000)
    try:
        resp = requests.post(server.url + "/v1/soap", data=b"<x>" + b"a" * 5000 + b"</x>",
                             headers={"Content-Type": "text/xml"}, timeout=10)
        assert resp.status_code == 500 and b"larger than 1000 bytes" in resp.content
    finally:
        server.shutdown()


def test_get_without_wsdl_and_other_methods_are_plain_errors(gateway_url):
    assert requests.get(gateway_url + "/v1/soap", timeout=5).status_code == 400
    resp = requests.put(gateway_url + "/v1/soap", data=b"x", timeout=5)
    assert resp.status_code == 405 and "POST" in resp.headers["Allow"]

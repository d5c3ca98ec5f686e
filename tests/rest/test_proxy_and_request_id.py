"""The WSGI stack every door shares (gateway/app.py): ``GATEWAY_TRUST_PROXY`` wraps it in Werkzeug's
ProxyFix, so the REST door's IP allowlist and ``request-ip`` see the client the proxy saw; and one
request id per request, echoed as ``X-Request-Id`` by REST, the facade, SOAP and the probes alike."""

from __future__ import annotations

import re

import pytest
from support import DEMO_HEADERS

KEY = {"X-Apikey": "demo-api-key"}  # keystore needs only the API key (decisions A9)
RECORD = "/v1/record/demo-record"
CLIENT = "198.51.100.7"
GENERATED = re.compile(r"^[0-9a-f]{32}$")
SOAP_WRONG_KEY = (
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:f="Flowize">'
    "<soapenv:Body><f:getRecord><input><AuthenticationObject><Apikey>wrong</Apikey><Appkey>demo-app</Appkey>"
    "</AuthenticationObject><DataRecordObject><Uuid>demo-record</Uuid></DataRecordObject></input>"
    "</f:getRecord></soapenv:Body></soapenv:Envelope>")


def _request_ip(http, base: str, headers: dict[str, str]) -> str:
    """``request-ip`` of a keystore delete, the REST door's view of the caller's address."""
    http.put(base + "/v1/keystore/proxied/k", headers=KEY, json={"a": 1}, timeout=10).raise_for_status()
    resp = http.delete(base + "/v1/keystore/proxied/k", headers={**KEY, **headers}, timeout=10)
    assert resp.status_code == 200, resp.text
    return resp.json()["request-ip"]


# -- behind a proxy -----------------------------------------------------------------------------------
def test_without_trust_proxy_x_forwarded_for_is_ignored(http, gateway_factory):
    gw = gateway_factory(rest_ip_allowlist=f"{CLIENT}/32")
    forwarded = {**DEMO_HEADERS, "X-Forwarded-For": CLIENT}
    refused = http.get(gw.url + RECORD, headers=forwarded, timeout=10)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == 437
    open_gw = gateway_factory()
    assert _request_ip(http, open_gw.url, {"X-Forwarded-For": CLIENT}) == "127.0.0.1"


def test_with_trust_proxy_the_allowlist_and_request_ip_see_the_forwarded_client(http, gateway_factory):
    gw = gateway_factory(rest_ip_allowlist=f"{CLIENT}/32", trust_proxy=True)
    assert http.get(gw.url + RECORD, headers=DEMO_HEADERS, timeout=10).status_code == 403  # the proxy itself
    allowed = http.get(gw.url + RECORD, headers={**DEMO_HEADERS, "X-Forwarded-For": CLIENT}, timeout=10)
    assert allowed.status_code == 200, allowed.text
    open_gw = gateway_factory(trust_proxy=True)
    assert _request_ip(http, open_gw.url, {"X-Forwarded-For": CLIENT}) == CLIENT


def test_with_trust_proxy_only_the_hop_the_proxy_added_is_believed(http, gateway_factory):
    """One trusted proxy appends the address it saw; what the client wrote before it is not evidence."""
    gw = gateway_factory(rest_ip_allowlist="203.0.113.9/32", trust_proxy=True)
    spoofed = http.get(gw.url + RECORD, headers={**DEMO_HEADERS, "X-Forwarded-For": f"203.0.113.9, {CLIENT}"},
                       timeout=10)
    assert spoofed.status_code == 403
    open_gw = gateway_factory(trust_proxy=True)
    assert _request_ip(http, open_gw.url, {"X-Forwarded-For": f"203.0.113.9, {CLIENT}"}) == CLIENT


def test_with_trust_proxy_the_rate_limit_counts_per_forwarded_client(http, gateway_factory):
    """Gateway-held mode without a known key counts per address: each forwarded client has its own window."""
    gw = gateway_factory(rest_auth="gateway", rest_rate_limit="1/minute", trust_proxy=True)
    first = http.get(gw.url + RECORD, headers={"X-Forwarded-For": "198.51.100.1"}, timeout=10)
    assert first.status_code == 401 and first.headers["X-RateLimit-Remaining"] == "0"
    other = http.get(gw.url + RECORD, headers={"X-Forwarded-For": "198.51.100.2"}, timeout=10)
    assert other.status_code == 401 and other.headers["X-RateLimit-Remaining"] == "0"
    again = http.get(gw.url + RECORD, headers={"X-Forwarded-For": "198.51.100.1"}, timeout=10)
    assert again.status_code == 429


# -- request ids ----------------------------------------------------------------------------------------
def _calls(http, base: str):
    """One call per door: REST, an unknown REST route, the facade, SOAP (a fault), the WSDL, a probe."""
    return {
        "rest": lambda h: http.get(base + RECORD, headers={**DEMO_HEADERS, **h}, timeout=10),
        "rest 404": lambda h: http.get(base + "/v1/nowhere", headers=h, timeout=10),
        "facade": lambda h: http.get(base + "/api/records/demo-record", headers=h, timeout=10),
        "soap": lambda h: http.post(base + "/v1/soap", data=SOAP_WRONG_KEY, timeout=10,
                                    headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""', **h}),
        "wsdl": lambda h: http.get(base + "/v1/soap?wsdl", headers=h, timeout=10),
        "probe": lambda h: http.get(base + "/healthz", headers=h, timeout=10),
    }


@pytest.mark.parametrize("door", ["rest", "rest 404", "facade", "soap", "wsdl", "probe"])
def test_a_well_formed_request_id_is_echoed_by_every_door(http, gateway_url, door):
    resp = _calls(http, gateway_url)[door]({"X-Request-Id": f"trace-{door.replace(' ', '-')}:1.a_b"})
    assert resp.headers["X-Request-Id"] == f"trace-{door.replace(' ', '-')}:1.a_b"


@pytest.mark.parametrize("sent", [None, "", "has space", "x" * 129, "semi;colon", "caf\u00e9"])
@pytest.mark.parametrize("door", ["rest", "facade", "soap", "probe"])
def test_a_request_id_is_made_when_absent_or_malformed(http, gateway_url, door, sent):
    headers = {} if sent is None else {"X-Request-Id": sent.encode("utf-8")}
    resp = _calls(http, gateway_url)[door](headers)
    assert GENERATED.match(resp.headers["X-Request-Id"]), resp.headers
    assert "," not in resp.headers["X-Request-Id"]  # one id, never the client's and ours


def test_the_request_id_is_the_one_errors_name(http, gateway_url):
    """The SOAP fault's faultactor and the facade's problem carry the id the response header does."""
    soap = _calls(http, gateway_url)["soap"]({"X-Request-Id": "bad id"})
    assert f"<faultactor>{soap.headers['X-Request-Id']}</faultactor>" in soap.text
    facade = _calls(http, gateway_url)["facade"]({})
    assert facade.status_code == 401 and facade.json()["request_id"] == facade.headers["X-Request-Id"]


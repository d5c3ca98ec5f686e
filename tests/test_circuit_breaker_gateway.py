"""A vendor outage through the gateway: the circuit opens, calls fail fast with a clear 503 / Server
fault and Retry-After, /readyz says not ready, and the vendor is not hammered (issue defect 3: "123
upstream calls for 41 client calls")."""

from __future__ import annotations

import time

from support import DEMO_HEADERS, add_fault

from gateway.metrics import UPSTREAM

GET_RECORD = """<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:urn="Flowize">
 <soapenv:Body><urn:getRecord><input>
  <AuthenticationObject><Apikey>demo-api-key</Apikey><Appkey>demo-app-key</Appkey></AuthenticationObject>
  <DataRecordObject><Uuid>demo-record</Uuid></DataRecordObject>
 </input></urn:getRecord></soapenv:Body></soapenv:Envelope>"""


def _attempts() -> float:
    return sum(UPSTREAM.labels("flowize", "GET", outcome)._value.get()
               for outcome in ("UpstreamUnavailable", "503", "200"))


def test_an_outage_opens_the_circuit_and_41_calls_cost_the_vendor_a_handful(gateway_factory, sandbox_url, http):
    gateway = gateway_factory(http_retries=2, http_backoff=0.01, breaker_fail_max=3, breaker_reset_timeout=1.0)
    add_fault(sandbox_url, path="/v1/record*", method="GET", drop=True)
    before = _attempts()
    statuses = []
    for _ in range(41):
        resp = http.get(gateway.url + "/v1/record/demo-record", headers=DEMO_HEADERS, timeout=10)
        statuses.append(resp.status_code)
    sent = _attempts() - before
    assert set(statuses) == {503}
    assert sent <= 4, sent  # three failed attempts open the circuit; the rest are not sent

    resp = http.get(gateway.url + "/v1/record/demo-record", headers=DEMO_HEADERS, timeout=10)
    assert resp.status_code == 503 and 1 <= int(resp.headers["Retry-After"]) <= 2
    assert "paused" in resp.json()["error"]["message"]
    assert "127.0.0.1" not in resp.text

    ready = http.get(gateway.url + "/readyz", timeout=5)
    assert ready.status_code == 503
    assert ready.json()["circuits"]["flowize"] == "open" and ready.json()["checks"]["circuit:flowize"] is False
    # Where circuits are shared by every gateway (Redis), a probe may ask for them to be reported only.
    reported = http.get(gateway.url + "/readyz?circuits=report", timeout=5)
    assert reported.status_code == 200 and reported.json()["checks"]["circuit:flowize"] is False

    soap = http.post(gateway.url + "/v1/soap", data=GET_RECORD, timeout=10,
                     headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'})
    assert soap.status_code == 500 and "<faultcode>503</faultcode>" in soap.text and "paused" in soap.text
    assert soap.headers["Retry-After"]

    metrics = http.get(gateway.url + "/metrics", timeout=5).text
    assert 'flowgate_circuit_state{vendor="flowize"} 2.0' in metrics

    # The vendor comes back: after the reset timeout one probe goes through and closes the circuit.
    http.delete(sandbox_url + "/_sandbox/faults", timeout=5)
    time.sleep(1.1)
    assert http.get(gateway.url + "/v1/record/demo-record", headers=DEMO_HEADERS, timeout=10).status_code == 200
    assert http.get(gateway.url + "/readyz", timeout=5).status_code == 200


def test_an_open_circuit_of_one_vendor_leaves_the_others_served(gateway_factory, sandbox_url, http):
    gateway = gateway_factory(http_retries=0, breaker_fail_max=2, breaker_reset_timeout=30)
    add_fault(sandbox_url, path="/v1/record*", method="GET", status=502)
    for _ in range(3):
        http.get(gateway.url + "/v1/record/demo-record", headers=DEMO_HEADERS, timeout=10)
    feed = http.get(gateway.url + "/api/feeds/demo-feed", headers={"X-Apikey": "demo-api-key"}, timeout=10)
    assert feed.status_code == 200


def test_readyz_is_not_ready_when_the_task_engine_cannot_queue(gateway_factory, http):
    gateway = gateway_factory(redis_url="redis://127.0.0.1:1/0")  # nothing listens there
    resp = http.get(gateway.url + "/readyz", timeout=15)
    assert resp.status_code == 503
    assert resp.json()["checks"]["task_engine"] is False and resp.json()["checks"]["database"] is True
    assert http.get(gateway.url + "/healthz", timeout=5).status_code == 200

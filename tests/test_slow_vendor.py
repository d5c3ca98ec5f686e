"""A slow vendor must not take the gateway down (issue: "a slow vendor takes the gateway down").

`flowgate serve` as users run it (gunicorn, production worker settings) in front of a vendor whose
record reads take 35 s: 24 SOAP getRecord calls in parallel each end at the request deadline with a
Server fault, and meanwhile /healthz and a call to another vendor (a Flowbox feed on the facade)
answer within a second. The vendor here is the test's own sandbox, a threaded server with no thread
limit, so what is measured is the gateway alone.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest
import requests
from support import add_fault, free_port, vendor_urls

pytestmark = pytest.mark.slow

DEADLINE = 3.0
GET_RECORD = """<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:urn="Flowize">
 <soapenv:Body><urn:getRecord><input>
  <AuthenticationObject><Apikey>demo-api-key</Apikey><Appkey>demo-app-key</Appkey></AuthenticationObject>
  <DataRecordObject><Uuid>demo-record</Uuid></DataRecordObject>
 </input></urn:getRecord></soapenv:Body></soapenv:Envelope>"""


@pytest.fixture
def gateway(tmp_path, sandbox_url):
    port = free_port()
    env = {**os.environ, "GATEWAY_PORT": str(port), "GATEWAY_DATA_DIR": str(tmp_path), "PYTHONUNBUFFERED": "1",
           "GATEWAY_REQUEST_DEADLINE": str(DEADLINE), "GATEWAY_HTTP_READ_TIMEOUT": "30",
           **{f"GATEWAY_{k.upper()}": v for k, v in vendor_urls(sandbox_url).items()}}
    proc = subprocess.Popen([sys.executable, "-m", "gateway.cli", "serve", "--no-sandbox", "--no-worker"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if requests.get(base + "/healthz", timeout=1).status_code == 200:
                break
        except requests.RequestException:
            time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail("the gateway did not start")
    yield base
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def test_a_slow_vendor_keeps_healthz_and_other_vendors_answering(gateway, sandbox_url):
    add_fault(sandbox_url, path="/v1/record*", method="GET", latency_ms=35_000)
    answers: list[tuple[int, float, str]] = []

    def slow_call() -> None:
        started = time.perf_counter()
        resp = requests.post(gateway + "/v1/soap", data=GET_RECORD, timeout=60,
                             headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'})
        answers.append((resp.status_code, time.perf_counter() - started, resp.text))

    callers = [threading.Thread(target=slow_call) for _ in range(24)]
    for caller in callers:
        caller.start()
    time.sleep(0.5)  # every slow call is in flight now
    probes = []
    while any(c.is_alive() for c in callers) and len(probes) < 10:
        started = time.perf_counter()
        assert requests.get(gateway + "/healthz", timeout=5).status_code == 200
        health = time.perf_counter() - started
        started = time.perf_counter()
        feed = requests.get(gateway + "/api/feeds/demo-feed", headers={"X-Apikey": "demo-api-key"}, timeout=5)
        probes.append((health, time.perf_counter() - started))
        assert feed.status_code == 200
        time.sleep(0.2)
    for caller in callers:
        caller.join()
    assert probes, "the probes ran while the slow calls were in flight"
    print(f"slowest answers while 24 calls wait on a 35 s vendor: healthz {max(h for h, _ in probes):.3f} s, "
          f"feed {max(f for _, f in probes):.3f} s; slow calls ended after at most "
          f"{max(seconds for _, seconds, _ in answers):.2f} s")
    assert max(h for h, _ in probes) < 1.0, probes
    assert max(f for _, f in probes) < 1.0, probes
    # Each slow call ended at the deadline (or was turned away by the vendor's bulkhead), with a fault.
    assert len(answers) == 24
    assert all(status == 500 and "Fault" in text for status, _, text in answers)
    assert max(seconds for _, seconds, _ in answers) < DEADLINE + 1.5, sorted(s for _, s, _ in answers)

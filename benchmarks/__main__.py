"""Measure what the gateway adds: the same read, direct to the sandbox and through Flowgate.

Starts ``flowgate serve`` (gunicorn, embedded sandbox) on free loopback ports, warms up, then times
each scenario in one run, interleaved, so machine noise hits all of them alike. Prints p50/p99 in
milliseconds and each scenario's ratio to the direct call.

    python -m benchmarks [--requests 500]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

import requests

from benchmarks.common import free_port, wait_up

SOAP_GET_RECORD = b"""<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:mym="Flowize">
<soapenv:Body><mym:getRecord><input><AuthenticationObject><Apikey>demo-api-key</Apikey><Appkey>demo-app</Appkey>
</AuthenticationObject><DataRecordObject><Uuid>demo-record</Uuid></DataRecordObject></input></mym:getRecord>
</soapenv:Body></soapenv:Envelope>"""


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()

    port, sandbox_port = free_port(), free_port()
    data_dir = tempfile.mkdtemp(prefix="flowgate-bench-")
    env = {**os.environ, "GATEWAY_PORT": str(port), "GATEWAY_SANDBOX_PORT": str(sandbox_port),
           "GATEWAY_DATA_DIR": data_dir, "GATEWAY_LOG_LEVEL": "WARNING", "GATEWAY_SANDBOX_RATE_LIMIT": "100000000"}
    proc = subprocess.Popen([sys.executable, "-m", "gateway.cli", "serve"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    gateway, sandbox = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{sandbox_port}"
    try:
        wait_up(gateway + "/healthz")
        wait_up(sandbox + "/_sandbox/health")
        session = requests.Session()
        direct_headers = {"X-Apikey": "demo-api-key", "X-App": "demo-app", "X-Uuid": "demo-record"}

        def direct_rest() -> None:
            assert session.get(sandbox + "/v1/record", headers=direct_headers, timeout=10).status_code == 200

        def soap_get_record() -> None:
            resp = session.post(gateway + "/v1/soap", data=SOAP_GET_RECORD, timeout=10,
                                headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'})
            assert resp.status_code == 200 and b"<Code>200</Code>" in resp.content, resp.content[:500]

        def rest_via_gateway() -> None:
            assert session.get(gateway + "/v1/record", headers=direct_headers, timeout=10).status_code == 200

        def healthz() -> None:
            assert session.get(gateway + "/healthz", timeout=10).status_code == 200

        scenarios: dict[str, Callable[[], None]] = {
            "direct REST GET /v1/record (sandbox)": direct_rest,
            "SOAP getRecord via gateway": soap_get_record,
            "REST GET /v1/record via gateway": rest_via_gateway,
            "gateway GET /healthz": healthz,
        }
        timings: dict[str, list[float]] = {name: [] for name in scenarios}
        for _ in range(50):  # warm-up: connections, imports, caches
            for call in scenarios.values():
                call()
        for _ in range(args.requests):
            for name, call in scenarios.items():
                started = time.perf_counter()
                call()
                timings[name].append((time.perf_counter() - started) * 1000)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)

    base = timings["direct REST GET /v1/record (sandbox)"]
    base50, base99 = _percentile(base, 50), _percentile(base, 99)
    print(f"\nFlowgate benchmark: {args.requests} requests per scenario, interleaved, loopback, keep-alive\n")
    print(f"{'scenario':42} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8} {'p50 x':>6} {'p99 x':>6}")
    for name, values in timings.items():
        p50, p99 = _percentile(values, 50), _percentile(values, 99)
        print(f"{name:42} {p50:8.2f} {p99:8.2f} {statistics.fmean(values):8.2f} "
              f"{p50 / base50:6.2f} {p99 / base99:6.2f}")
    print()
    for name in ("SOAP getRecord via gateway", "REST GET /v1/record via gateway"):
        values = timings[name]
        print(f"added latency of {name} over the direct REST call: "
              f"p50 {_percentile(values, 50) - base50:+.2f} ms, p99 {_percentile(values, 99) - base99:+.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())

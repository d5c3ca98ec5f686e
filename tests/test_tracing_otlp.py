"""GATEWAY_TRACING=otlp end to end: `flowgate serve` (gunicorn workers, each configuring its exporter
after the fork) sends its spans over OTLP/HTTP to a collector, here a receiver on loopback that
decodes what arrives as a collector would."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from support import free_port

trace_service = pytest.importorskip(
    "opentelemetry.proto.collector.trace.v1.trace_service_pb2",
    reason="the OTLP exporter is not installed (pip install 'flowgate[otel]')")

ENVELOPE = ('<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:f="Flowize">'
            "<soapenv:Body><f:getRecord><input><AuthenticationObject><Apikey>demo-api-key</Apikey>"
            "<Appkey>demo-app</Appkey></AuthenticationObject><DataRecordObject><Uuid>demo-record</Uuid>"
            "</DataRecordObject></input></f:getRecord></soapenv:Body></soapenv:Envelope>")


class Collector:
    """What an OTLP/HTTP collector received: each span with its resource's attributes."""

    def __init__(self) -> None:
        self.spans: list[dict] = []
        self.paths: list[str] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                collector.take(self.path, self.headers.get("Content-Type", ""), body)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def take(self, path: str, content_type: str, body: bytes) -> None:
        self.paths.append(path)
        assert content_type == "application/x-protobuf", content_type
        request = trace_service.ExportTraceServiceRequest.FromString(body)
        for resource_spans in request.resource_spans:
            resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    attributes = {a.key: (a.value.string_value or a.value.int_value) for a in span.attributes}
                    self.spans.append({"name": span.name, "trace_id": span.trace_id.hex(),
                                       "span_id": span.span_id.hex(), "parent": span.parent_span_id.hex(),
                                       "kind": span.kind, "attributes": attributes, "resource": resource})

    def with_request_id(self, request_id: str) -> dict[str, dict]:
        return {s["name"]: s for s in self.spans if s["attributes"].get("flowgate.request_id") == request_id}


@pytest.fixture
def collector():
    made = Collector()
    yield made
    made.server.shutdown()


def test_serve_exports_each_request_as_one_trace_over_otlp(collector, tmp_path):
    port, sandbox_port = free_port(), free_port()
    env = {**os.environ, "GATEWAY_PORT": str(port), "GATEWAY_SANDBOX_PORT": str(sandbox_port),
           "GATEWAY_DATA_DIR": str(tmp_path), "GATEWAY_WORKERS": "2", "GATEWAY_TRACING": "otlp",
           "OTEL_EXPORTER_OTLP_ENDPOINT": collector.url, "OTEL_BSP_SCHEDULE_DELAY": "100",
           "OTEL_SERVICE_NAME": "", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "gateway.cli", "serve", "--no-worker"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True).start()
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline and proc.poll() is None, "".join(lines)[-3000:]
            time.sleep(0.1)
        # Both workers answer some of these: each exports through the exporter it made after the fork.
        for i in range(6):
            resp = requests.post(base + "/v1/soap", data=ENVELOPE, timeout=10,
                                 headers={"Content-Type": "text/xml", "X-Request-Id": f"otlp-{i}"})
            assert resp.status_code == 200, resp.text
        deadline = time.monotonic() + 15
        while not all(len(collector.with_request_id(f"otlp-{i}")) >= 3 for i in range(6)):
            assert time.monotonic() < deadline, ([(s["name"], s["attributes"].get("flowgate.request_id"))
                                                  for s in collector.spans], "".join(lines)[-2000:])
            time.sleep(0.1)
    finally:
        proc.terminate()
        proc.wait(timeout=20)

    assert set(collector.paths) == {"/v1/traces"}
    for i in range(6):
        spans = collector.with_request_id(f"otlp-{i}")
        door, operation, vendor = spans["POST /v1/soap"], spans["soap getRecord"], spans["flowize GET /v1/record"]
        assert door["parent"] == "" and operation["parent"] == door["span_id"]
        assert vendor["parent"] == operation["span_id"]
        assert door["trace_id"] == operation["trace_id"] == vendor["trace_id"]
        assert door["resource"]["service.name"] == "flowgate"
        assert door["attributes"]["http.response.status_code"] == 200
    # One trace per request.
    assert len({collector.with_request_id(f"otlp-{i}")["POST /v1/soap"]["trace_id"] for i in range(6)}) == 6
    assert "Traceback" not in "".join(lines), "".join(lines)[-3000:]

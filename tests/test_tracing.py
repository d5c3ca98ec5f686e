"""OpenTelemetry tracing (the otel extra): door → operation → vendor call, one trace per request."""

from __future__ import annotations

import time

import pytest
import requests
from support import DEMO_HEADERS

from gateway import tracing

sdk = pytest.importorskip("opentelemetry.sdk.trace.export.in_memory_span_exporter",
                          reason="OpenTelemetry SDK not installed (pip install 'flowgate[otel]')")


def finished(exporter, name: str) -> dict:
    """The spans by name, once ``name`` is among them: the door's span ends when the server closes
    the response, just after the client has it."""
    deadline = time.monotonic() + 5
    while True:
        found = {span.name: span for span in exporter.get_finished_spans()}
        if name in found or time.monotonic() > deadline:
            return found
        time.sleep(0.01)


@pytest.fixture
def spans():
    exporter = sdk.InMemorySpanExporter()
    assert tracing.configure("", exporter=exporter)
    yield exporter
    tracing.configure("")


def test_a_rest_call_is_one_trace_from_the_door_to_the_vendor(gateway_factory, spans):
    server = gateway_factory()
    resp = requests.get(server.url + "/v1/record/demo-record", headers={**DEMO_HEADERS, "X-Request-Id": "trace-1"},
                        timeout=10)
    assert resp.status_code == 200
    by_name = finished(spans, "GET /v1/record/demo-record")
    door = by_name["GET /v1/record/demo-record"]
    operation = by_name["rest GET /v1/record/<path_uuid>"]
    vendor = by_name["flowize GET /v1/record"]
    assert door.parent is None and door.kind.name == "SERVER"
    assert operation.parent.span_id == door.context.span_id
    assert vendor.parent.span_id == operation.context.span_id and vendor.kind.name == "CLIENT"
    assert {door.context.trace_id, operation.context.trace_id, vendor.context.trace_id} == {door.context.trace_id}
    # The request id on each span: a trace is found from a log line, whichever span one lands on.
    assert {s.attributes["flowgate.request_id"] for s in (door, operation, vendor)} == {"trace-1"}
    assert door.attributes["http.response.status_code"] == 200


def test_a_soap_call_names_its_operation(gateway_factory, spans):
    server = gateway_factory()
    envelope = ('<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:f="Flowize">'
                "<soapenv:Body><f:getRecord><input><AuthenticationObject><Apikey>demo-api-key</Apikey>"
                "<Appkey>demo-app</Appkey></AuthenticationObject><DataRecordObject><Uuid>demo-record</Uuid>"
                "</DataRecordObject></input></f:getRecord></soapenv:Body></soapenv:Envelope>")
    resp = requests.post(server.url + "/v1/soap", data=envelope, headers={"Content-Type": "text/xml"}, timeout=10)
    assert resp.status_code == 200
    names = finished(spans, "POST /v1/soap")
    assert "POST /v1/soap" in names and "soap getRecord" in names and "flowize GET /v1/record" in names


def test_without_the_packages_tracing_says_how_to_install_them(monkeypatch, caplog):
    import builtins

    real_import = builtins.__import__

    def no_otel(name, *args, **kwargs):
        if name.startswith("opentelemetry"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_otel)
    assert tracing.configure("otlp") is False
    assert "pip install 'flowgate[otel]'" in caplog.text

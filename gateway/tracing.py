"""Optional OpenTelemetry tracing: a span per request, its operation, and each vendor call in it.

Off unless ``GATEWAY_TRACING`` is set and the packages are installed (``pip install
'flowgate[otel]'``): ``otlp`` exports over OTLP/HTTP to wherever the standard
``OTEL_EXPORTER_OTLP_*`` variables point, ``console`` prints spans (for a look on a laptop). The
spans nest as a trace viewer shows them::

    POST /v1/soap                    the door: one per request (server span)
      └ soap getRecord               the operation, once the door knows it
          └ flowize GET /v1/record   each attempt at a vendor call (client span)

and the request id is an attribute of each, so a trace is found from a log line and back. When
tracing is off every function here returns at once: no import of OpenTelemetry, no cost.
"""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager, nullcontext
from typing import Any

__all__ = ["configure", "end", "start_operation", "start_request", "vendor_span"]

log = logging.getLogger("gateway.tracing")

_tracer: Any = None   # an opentelemetry Tracer once configure() turned tracing on


def configure(mode: str, *, service: str = "flowgate", exporter: Any = None) -> bool:
    """Turn tracing on (``otlp`` / ``console``; ``exporter`` overrides, for tests); False when the
    packages are missing, with one warning saying how to install them."""
    global _tracer
    if not mode and exporter is None:
        _tracer = None
        return False
    try:
        from opentelemetry import trace
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import (
            BatchSpanProcessor,
            ConsoleSpanExporter,
            SimpleSpanProcessor,
        )
    except ImportError:
        log.warning("GATEWAY_TRACING=%s but OpenTelemetry is not installed: pip install 'flowgate[otel]'", mode)
        return False
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    elif mode == "console":
        provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
    else:
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        except ImportError:
            log.warning("GATEWAY_TRACING=otlp needs opentelemetry-exporter-otlp-proto-http: pip install 'flowgate[otel]'")
            return False
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    _tracer = provider.get_tracer("flowgate")
    if exporter is None:
        trace.set_tracer_provider(provider)  # for other instrumentation in the process too
    return True


def start_request(method: str, path: str, protocol: str, request_id: str) -> Any:
    """The door's span, made current; None when tracing is off."""
    if _tracer is None:
        return None
    from opentelemetry import trace

    return _start(_tracer.start_span(f"{method} {path}", kind=trace.SpanKind.SERVER,
                                     attributes={"http.request.method": method, "url.path": path,
                                                 "flowgate.protocol": protocol, "flowgate.request_id": request_id}))


def start_operation(protocol: str, operation: str, request_id: str) -> Any:
    """The operation's span, a child of the door's and the parent of its vendor calls."""
    if _tracer is None:
        return None
    return _start(_tracer.start_span(f"{protocol} {operation}", attributes={
        "flowgate.operation": operation, "flowgate.request_id": request_id}))


def _start(span: Any) -> tuple[Any, Any]:
    from opentelemetry import context, trace

    return span, context.attach(trace.set_span_in_context(span))


def end(started: Any, status: int) -> None:
    """End a span from start_request / start_operation (the innermost first)."""
    if started is None:
        return
    from opentelemetry import context
    from opentelemetry.trace import Status, StatusCode

    span, token = started
    span.set_attribute("http.response.status_code", status)
    if status >= 500:
        span.set_status(Status(StatusCode.ERROR))
    span.end()
    try:
        context.detach(token)
    except ValueError:  # detached in another context than it was attached in
        pass


def vendor_span(vendor: str, method: str, url: str, request_id: str | None) -> AbstractContextManager[Any]:
    """A client span around one attempt at a vendor call (named by the URL's path: no host, no query)."""
    if _tracer is None:
        return nullcontext()
    from urllib.parse import urlsplit

    from opentelemetry import trace

    path = urlsplit(url).path

    return _tracer.start_as_current_span(f"{vendor} {method} {path}", kind=trace.SpanKind.CLIENT,
                                          attributes={"flowgate.vendor": vendor, "http.request.method": method,
                                                      "url.path": path, "flowgate.request_id": request_id or ""})

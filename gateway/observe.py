"""What one request was, for its log line, its metrics and its trace: the front door's middleware.

Every request, whichever door answers it, gets one :class:`Exchange` in a context variable: its id,
protocol (``soap``, ``rest``, ``api``...), operation, consumer, the vendors it called and how long
they took. The layers fill it in as they learn each part — the SOAP door its operation, Flask its
route, the credential policy its consumer, the HTTP client each vendor attempt — through
:func:`note` and :func:`note_upstream`, which do nothing outside a request (in a job or an outbox
delivery the request id alone is carried, in :data:`request_id_var`).

When the response is closed, :class:`Observe` writes one JSON log line (logger ``gateway.access``)
and counts the request in ``flowgate_requests_total{protocol, operation, status}``. Why one
middleware for the id, the metrics and the log: each is a few microseconds, but each layer of WSGI
wrapping costs a call and a closure per request on the hottest path (docs/operations.md).
"""

from __future__ import annotations

import contextvars
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from werkzeug.wsgi import ClosingIterator

from gateway import metrics, tracing

__all__ = ["REQUEST_ID_KEY", "Exchange", "Observe", "current_request_id", "exchange_var", "note", "note_upstream",
           "protocol_of", "request_id_var"]

access_log = logging.getLogger("gateway.access")

#: Where the request's id is in the WSGI environ, for every front door.
REQUEST_ID_KEY = "flowgate.request_id"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")

#: The id of the request being served — or of the request a job or outbox entry came from. Front
#: doors set it; the HTTP client sends it to vendors as X-Request-Id; every log line carries it.
request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


def current_request_id() -> str:
    return request_id_var.get() or uuid.uuid4().hex


@dataclass(slots=True)
class Exchange:
    """One client request as the gateway saw it."""

    request_id: str
    protocol: str
    method: str
    operation: str = ""
    consumer: str = ""
    vendors: list[str] = field(default_factory=list)
    upstream_calls: int = 0
    upstream_seconds: float = 0.0
    spans: list[Any] = field(default_factory=list)   # open trace spans, outermost first (tracing on)


exchange_var: contextvars.ContextVar[Exchange | None] = contextvars.ContextVar("exchange", default=None)


def note(*, operation: str | None = None, consumer: str | None = None) -> None:
    """Tell the request's record what a layer has learnt (nothing happens outside a request)."""
    exchange = exchange_var.get()
    if exchange is None:
        return
    if operation is not None:
        exchange.operation = operation
        span = tracing.start_operation(exchange.protocol, operation, exchange.request_id)
        if span is not None:
            exchange.spans.append(span)
    if consumer is not None:
        exchange.consumer = consumer


def note_upstream(vendor: str, seconds: float) -> None:
    """One attempt at a vendor call, whatever its outcome."""
    exchange = exchange_var.get()
    if exchange is None:
        return
    if vendor not in exchange.vendors:
        exchange.vendors.append(vendor)
    exchange.upstream_calls += 1
    exchange.upstream_seconds += seconds


def protocol_of(path: str) -> str:
    """A small fixed set of label values, whatever paths clients try."""
    if path.startswith("/v1/soap"):
        return "soap"
    if path.startswith("/v1/") or path == "/v1":
        return "rest"
    if path.startswith("/api/") or path == "/api":
        return "api"
    if path in ("/healthz", "/readyz", "/metrics"):
        return "probe"
    if path.startswith(("/openapi.json", "/docs")):
        return "docs"
    return "other"


class Observe:
    """WSGI middleware, outermost but for ProxyFix: one request id, one record, one log line.

    The id is the client's ``X-Request-Id`` when it is 1-128 of ``A-Z a-z 0-9 . _ : -``, else a new
    uuid4 hex. It is put in the environ (``flowgate.request_id``, and ``HTTP_X_REQUEST_ID`` rewritten
    to it, so anything below that reads the header sees the same id), set in ``request_id_var``
    until the response is closed, and echoed as ``X-Request-Id`` on every response, replacing any
    the app set. Probes (/healthz, /readyz, /metrics) are counted but not logged: a load balancer
    asks every few seconds, and those lines would bury the ones that matter."""

    def __init__(self, app: Callable[..., Iterable[bytes]]):
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        started = time.perf_counter()
        incoming = environ.get("HTTP_X_REQUEST_ID", "")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        environ[REQUEST_ID_KEY] = request_id
        environ["HTTP_X_REQUEST_ID"] = request_id
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        exchange = Exchange(request_id, protocol_of(path), method)
        status = ["500"]
        answered = [False]   # start_response called: the status is known
        counted = [False]

        def start(line: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            status[0] = line[:3]
            answered[0] = True
            headers = [(k, v) for k, v in headers if k.lower() != "x-request-id"]
            headers.append(("X-Request-Id", request_id))
            return start_response(line, headers, exc_info) if exc_info else start_response(line, headers)

        id_token = request_id_var.set(request_id)
        exchange_token = exchange_var.set(exchange)
        span = tracing.start_request(method, path, exchange.protocol, request_id)
        if span is not None:
            exchange.spans.append(span)

        def count() -> None:
            counted[0] = True
            metrics.observe_request(exchange.protocol, exchange.operation or "unmatched", status[0],
                                    time.perf_counter() - started)

        def finish() -> None:
            seconds = time.perf_counter() - started
            if not counted[0]:
                count()
            if exchange.protocol != "probe" and access_log.isEnabledFor(logging.INFO):
                access_log.info("%s %s %s", method, path, status[0], extra={
                    "event": "request", "protocol": exchange.protocol, "operation": exchange.operation,
                    "consumer": exchange.consumer, "vendor": ",".join(exchange.vendors), "status": int(status[0]),
                    "duration_ms": round(seconds * 1000, 2), "upstream_calls": exchange.upstream_calls,
                    "upstream_ms": round(exchange.upstream_seconds * 1000, 2)})
            for opened in reversed(exchange.spans):
                tracing.end(opened, int(status[0]))
            for var, token in ((exchange_var, exchange_token), (request_id_var, id_token)):
                try:
                    var.reset(token)  # type: ignore[arg-type]
                except ValueError:  # closed in another context than it was set in: nothing of ours to undo
                    pass

        try:
            body = self.app(environ, start)
        except BaseException:
            finish()
            raise
        if answered[0]:
            # Counted as soon as the answer is ready, before it is sent: a client that reads /metrics
            # right after its answer finds it counted. (The log line waits for the body to be closed.)
            count()
        # Kept until the body is closed: a streamed body still runs inside the request.
        return ClosingIterator(body, finish)

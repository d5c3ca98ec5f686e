"""Prometheus metrics: what comes in (per front door) and what goes out (per vendor host).

    flowgate_requests_total{door, method, status}        requests answered, by front door
    flowgate_request_duration_seconds{door}              their latency
    flowgate_upstream_requests_total{vendor, method, outcome}  attempts at vendor calls (each retry
                                                         counts): HTTP status, or the error class
                                                         when no response came back (CircuitOpen:
                                                         not sent, the circuit is open)
    flowgate_upstream_duration_seconds{vendor}           their latency
    flowgate_circuit_state{vendor}                       0 closed, 1 half-open, 2 open (the worst
                                                         any process has seen last)

``GET /metrics`` serves them in the Prometheus text format. Under gunicorn every worker is its own
process: ``flowgate serve`` points ``PROMETHEUS_MULTIPROC_DIR`` at a fresh folder before the workers
start (``gateway.cli.cmd_serve``, the one place it is chosen), and the endpoint then adds up every
worker's numbers (prometheus_client's multiprocess mode).

prometheus_client reads ``PROMETHEUS_MULTIPROC_DIR`` once, when it is first imported, and a metric
keeps the storage it was made with. So this module imports it, and makes the collectors, on first
use (the first request counted, vendor call observed or page rendered), never at import: importing
``gateway.metrics`` — or the app, or the CLI — before the folder is chosen is safe. The collectors
are reached as module attributes (``gateway.metrics.UPSTREAM``...), built on that first access.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prometheus_client import Counter, Gauge, Histogram

__all__ = ["MetricsMiddleware", "door_of", "observe_circuit", "observe_upstream", "render_metrics"]

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_CIRCUIT_VALUES = {"closed": 0, "half-open": 1, "open": 2}


@dataclass(frozen=True)
class _Collectors:
    REQUESTS: Counter
    REQUEST_SECONDS: Histogram
    UPSTREAM: Counter
    UPSTREAM_SECONDS: Histogram
    CIRCUIT: Gauge


_built: _Collectors | None = None
_building = threading.Lock()


def _collectors() -> _Collectors:
    """The process's collectors, registered once in prometheus_client's default registry."""
    global _built
    if _built is None:
        with _building:
            if _built is None:
                from prometheus_client import Counter, Gauge, Histogram

                _built = _Collectors(
                    REQUESTS=Counter("flowgate_requests_total", "Requests answered by the gateway.",
                                     ["door", "method", "status"]),
                    REQUEST_SECONDS=Histogram("flowgate_request_duration_seconds", "Time to answer a request.",
                                              ["door"], buckets=_BUCKETS),
                    UPSTREAM=Counter("flowgate_upstream_requests_total",
                                     "Attempts at vendor API calls, retries included.", ["vendor", "method", "outcome"]),
                    UPSTREAM_SECONDS=Histogram("flowgate_upstream_duration_seconds", "Time a vendor took to answer.",
                                               ["vendor"], buckets=_BUCKETS),
                    CIRCUIT=Gauge("flowgate_circuit_state", "Circuit breaker per vendor: 0 closed, 1 half-open, 2 open.",
                                  ["vendor"], multiprocess_mode="mostrecent"))
    return _built


def __getattr__(name: str) -> Any:
    """``REQUESTS``, ``REQUEST_SECONDS``, ``UPSTREAM``, ``UPSTREAM_SECONDS``, ``CIRCUIT``: built on first use."""
    if name in _Collectors.__dataclass_fields__:
        return getattr(_collectors(), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def door_of(path: str) -> str:
    """A small fixed set of label values, whatever paths clients try."""
    if path.startswith("/v1/soap"):
        return "soap"
    if path.startswith("/v1/") or path == "/v1":
        return "rest"
    if path in ("/healthz", "/readyz", "/metrics"):
        return "probe"
    if path.startswith(("/openapi.json", "/docs")):
        return "docs"
    return "other"


def observe_upstream(vendor: str, method: str, outcome: str, seconds: float) -> None:
    collectors = _collectors()
    collectors.UPSTREAM.labels(vendor, method, outcome).inc()
    collectors.UPSTREAM_SECONDS.labels(vendor).observe(seconds)


def observe_circuit(vendor: str, state: str) -> None:
    _collectors().CIRCUIT.labels(vendor).set(_CIRCUIT_VALUES.get(state, 0))


def render_metrics() -> tuple[bytes, str]:
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess

    _collectors()  # registered, so a page rendered before any request still lists them
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST


class MetricsMiddleware:
    """Counts and times every request, whichever front door answers it."""

    def __init__(self, app: Callable[..., Iterable[bytes]]):
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        started = time.perf_counter()
        seen: dict[str, str] = {}

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            seen["status"] = status.split(" ", 1)[0]
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        door = door_of(environ.get("PATH_INFO", ""))
        method = environ.get("REQUEST_METHOD", "GET")
        try:
            return self.app(environ, start)
        finally:
            collectors = _collectors()
            collectors.REQUESTS.labels(door, method if method in _METHODS else "other",
                                       seen.get("status", "500")).inc()
            collectors.REQUEST_SECONDS.labels(door).observe(time.perf_counter() - started)

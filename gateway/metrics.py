"""Prometheus metrics: what comes in (per protocol and operation) and what goes out (per vendor).

    flowgate_requests_total{protocol, operation, status}    requests answered
    flowgate_request_duration_seconds{protocol, operation}  their latency
    flowgate_upstream_requests_total{vendor, method, outcome}  attempts at vendor calls (each retry
                                                         counts): HTTP status, or the error class
                                                         when no response came back (CircuitOpen:
                                                         not sent, the circuit is open)
    flowgate_upstream_duration_seconds{vendor}           their latency
    flowgate_upstream_errors_total{vendor, error}        attempts that failed: a 5xx or 429 status,
                                                         a timeout, a refused connection, an open circuit
    flowgate_circuit_state{vendor}                       0 closed, 1 half-open, 2 open (the worst
                                                         any process has seen last)

and, read from the database when the page is rendered (so every gateway shows the same figures,
whichever process or machine did the work — workers need no endpoint of their own):

    flowgate_jobs{status}                     bulk jobs by status (queued, running, succeeded...)
    flowgate_jobs_oldest_waiting_seconds      age of the oldest queued or running job (0: none)
    flowgate_job_rows{status}                 rows of every job kept: done, failed
    flowgate_task_queue_length                tasks waiting in the task engine's queue
    flowgate_outbox_entries{state}            store-and-forward entries: pending, delivered, dead...
    flowgate_outbox_dead_letters              entries given up on (state dead)
    flowgate_outbox_oldest_pending_seconds    age of the oldest undelivered entry (0: none)

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

__all__ = ["StoreFigures", "observe_circuit", "observe_request", "observe_upstream", "render_metrics"]

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_CIRCUIT_VALUES = {"closed": 0, "half-open": 1, "open": 2}


@dataclass(frozen=True)
class _Collectors:
    REQUESTS: Counter
    REQUEST_SECONDS: Histogram
    UPSTREAM: Counter
    UPSTREAM_SECONDS: Histogram
    UPSTREAM_ERRORS: Counter
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
                                     ["protocol", "operation", "status"]),
                    REQUEST_SECONDS=Histogram("flowgate_request_duration_seconds", "Time to answer a request.",
                                              ["protocol", "operation"], buckets=_BUCKETS),
                    UPSTREAM=Counter("flowgate_upstream_requests_total",
                                     "Attempts at vendor API calls, retries included.", ["vendor", "method", "outcome"]),
                    UPSTREAM_SECONDS=Histogram("flowgate_upstream_duration_seconds", "Time a vendor took to answer.",
                                               ["vendor"], buckets=_BUCKETS),
                    UPSTREAM_ERRORS=Counter("flowgate_upstream_errors_total",
                                            "Failed attempts at vendor calls: 5xx, 429, timeouts, refused, circuit open.",
                                            ["vendor", "error"]),
                    CIRCUIT=Gauge("flowgate_circuit_state", "Circuit breaker per vendor: 0 closed, 1 half-open, 2 open.",
                                  ["vendor"], multiprocess_mode="mostrecent"))
    return _built


def __getattr__(name: str) -> Any:
    """``REQUESTS``, ``REQUEST_SECONDS``, ``UPSTREAM``, ``UPSTREAM_SECONDS``, ``UPSTREAM_ERRORS``,
    ``CIRCUIT``: built on first use."""
    if name in _Collectors.__dataclass_fields__:
        return getattr(_collectors(), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def observe_request(protocol: str, operation: str, status: str, seconds: float) -> None:
    collectors = _collectors()
    collectors.REQUESTS.labels(protocol, operation, status).inc()
    collectors.REQUEST_SECONDS.labels(protocol, operation).observe(seconds)


def observe_upstream(vendor: str, method: str, outcome: str, seconds: float) -> None:
    collectors = _collectors()
    collectors.UPSTREAM.labels(vendor, method, outcome).inc()
    collectors.UPSTREAM_SECONDS.labels(vendor).observe(seconds)
    if not outcome.isdigit() or outcome == "429" or outcome >= "500":
        collectors.UPSTREAM_ERRORS.labels(vendor, outcome).inc()


def observe_circuit(vendor: str, state: str) -> None:
    _collectors().CIRCUIT.labels(vendor).set(_CIRCUIT_VALUES.get(state, 0))


class StoreFigures:
    """A collector of the figures kept in the database: jobs, their rows, the outbox, the queue.

    Read when the page is rendered, in a few aggregate queries; a store that does not answer leaves
    its figures out of the page (and /readyz says why) rather than failing the scrape."""

    def __init__(self, jobs: Any, outbox: Any, queue_length: Callable[[], int]):
        self.jobs = jobs
        self.outbox = outbox
        self.queue_length = queue_length

    def collect(self) -> Iterable[Any]:
        from prometheus_client.core import GaugeMetricFamily

        now = time.time()
        try:
            jobs = self.jobs.figures()
            outbox = self.outbox.figures() if self.outbox is not None else None
        except Exception:  # noqa: BLE001 - the database is down: /readyz says so; the scrape goes on
            return
        by_status = GaugeMetricFamily("flowgate_jobs", "Bulk jobs by status.", labels=["status"])
        for status, count in sorted(jobs.by_status.items()):
            by_status.add_metric([status], count)
        yield by_status
        yield GaugeMetricFamily("flowgate_jobs_oldest_waiting_seconds",
                                "Age of the oldest queued or running job (0: none).",
                                value=max(0.0, now - jobs.oldest_waiting) if jobs.oldest_waiting else 0.0)
        rows = GaugeMetricFamily("flowgate_job_rows", "Rows of the jobs kept, by outcome.", labels=["status"])
        rows.add_metric(["done"], jobs.rows_done)
        rows.add_metric(["failed"], jobs.rows_failed)
        yield rows
        if outbox is not None:
            yield from self._outbox(outbox, now)
        try:
            length = self.queue_length()
        except Exception:  # noqa: BLE001 - Redis or the queue file is down: /readyz says so
            return
        yield GaugeMetricFamily("flowgate_task_queue_length", "Tasks waiting in the task engine's queue.",
                                value=length)

    @staticmethod
    def _outbox(outbox: Any, now: float) -> Iterable[Any]:
        from prometheus_client.core import GaugeMetricFamily

        entries = GaugeMetricFamily("flowgate_outbox_entries", "Store-and-forward entries by state.", labels=["state"])
        for state, count in sorted(outbox.by_state.items()):
            entries.add_metric([state], count)
        yield entries
        yield GaugeMetricFamily("flowgate_outbox_dead_letters", "Outbox entries given up on (state dead).",
                                value=outbox.by_state.get("dead", 0))
        yield GaugeMetricFamily("flowgate_outbox_oldest_pending_seconds",
                                "Age of the oldest undelivered outbox entry (0: none).",
                                value=max(0.0, now - outbox.oldest_pending) if outbox.oldest_pending else 0.0)


def render_metrics(*extra: Any) -> tuple[bytes, str]:
    """The page: this process's collectors (every worker's, in multiprocess mode) and ``extra``."""
    from prometheus_client import (
        CONTENT_TYPE_LATEST,
        REGISTRY,
        CollectorRegistry,
        generate_latest,
        multiprocess,
    )

    _collectors()  # registered, so a page rendered before any request still lists them
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_Everything(REGISTRY))
    for collector in extra:
        registry.register(collector)
    return generate_latest(registry), CONTENT_TYPE_LATEST


class _Everything:
    """The default registry, as one collector of another registry."""

    def __init__(self, registry: Any):
        self.registry = registry

    def collect(self) -> Iterable[Any]:
        return self.registry.collect()

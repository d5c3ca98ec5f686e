"""The one HTTP client for every outbound vendor call.

Connection pools (gateway/transport.py: urllib3 underneath, ``requests.Response`` on top), and
around every call the policies a gateway owes
the services in front of it, per vendor (``Settings.vendor_policies`` overrides the defaults):

* **timeouts** always on, and one **deadline** per client request (``deadline_var``, set by the
  front doors): every attempt's read timeout and every backoff sleep fit inside it, so a slow
  vendor costs a client at most the deadline, not ``retries x read timeout``;
* **retries** (tenacity) of what is safe to repeat: idempotent methods, or writes the caller marks
  as deduplicated by the vendor (an idempotency key: Flowize ``X-Uuid``, ExaRoutes ``uid``);
  ``Retry-After`` honoured up to a cap; each attempt counted in ``/metrics``;
* a **bulkhead**: at most ``max_inflight`` calls in flight to one vendor per process, so one slow
  vendor cannot take every thread from the others (``VendorBusy``, 503 with Retry-After);
* a **circuit breaker** (pybreaker) per vendor: after ``fail_max`` failed attempts in a row
  (no answer, or a 5xx) calls fail fast with ``CircuitOpen`` until one probe succeeds after
  ``reset_timeout``; its state lives in Redis when ``GATEWAY_REDIS_URL`` is set, so every process
  sees the same circuit;
* rate-limit awareness: once a vendor said ``X-RateLimit-Remaining: 0`` for a credential, we do
  not call it again with that credential before the window resets;
* a **request budget** per vendor that has one (``flowcode_rate_limit``, ``exaroutes_rate_limit``),
  spent by every attempt of every process — in Redis when ``GATEWAY_REDIS_URL`` is set, so many
  gateways and workers together never exceed it in any window (gateway/budget.py). A spent budget
  is waited for while the request's deadline allows (up to ``budget_wait``), else ``RateLimited``
  with the seconds to wait: job workers pass ``budget_wait=0`` and come back later instead.

Library exceptions become the project's tree here (:mod:`gateway.errors`); messages name the vendor,
the method and the path, never the vendor's base URL or a credential.
"""

from __future__ import annotations

import contextvars
import hashlib
import logging
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import pybreaker
import requests
import tenacity
import urllib3

from gateway import tracing
from gateway.budget import VendorBudget
from gateway.config import Settings
from gateway.errors import (
    CircuitOpen,
    GatewayError,
    RateLimited,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
    VendorBusy,
)
from gateway.metrics import observe_circuit, observe_upstream
from gateway.observe import current_request_id, exchange_var, note_upstream, request_id_var
from gateway.redact import redact_text, redact_url
from gateway.transport import Transport

__all__ = ["HttpClient", "VendorPolicy", "deadline_var"]

log = logging.getLogger("gateway.http")

#: When the client request being served must be answered (``time.monotonic()``); None: no deadline.
deadline_var: contextvars.ContextVar[float | None] = contextvars.ContextVar("deadline", default=None)

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRY_STATUSES = frozenset({429, 502, 503, 504})
#: An attempt needs at least this long to be worth starting before the deadline.
MIN_ATTEMPT_SECONDS = 0.05
VENDOR_NAMES = {"flowize": "Flowize", "flowcode": "Flowcode", "exaroutes": "ExaRoutes",
                "flowevents": "Flow events", "flowbox": "Flowbox"}


class _RedactingFilter(logging.Filter):
    """urllib3 logs request URLs with their query (DEBUG): mask ``api_key=...`` and the like there
    too, since the client sends URL-style credentials."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_text(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


_URLLIB3_LOGGERS = ("urllib3", "urllib3.connectionpool", "urllib3.connection", "urllib3.poolmanager",
                    "urllib3.util.retry")
_log_filter = _RedactingFilter()


def _redact_library_logs() -> None:
    for name in _URLLIB3_LOGGERS:
        logger = logging.getLogger(name)
        if _log_filter not in logger.filters:
            logger.addFilter(_log_filter)
    breaker_log = pybreaker.CircuitRedisStorage.logger
    if _redis_outage_filter not in breaker_log.filters:
        breaker_log.addFilter(_redis_outage_filter)


def _shown(vendor: str, method: str, url: str) -> str:
    """``Vendor METHOD /path`` for messages a client may see: no host, no query, no credential."""
    return f"{VENDOR_NAMES.get(vendor, vendor or 'the vendor')} {method} {urlsplit(url).path or '/'}"


@dataclass
class _Window:
    remaining: int
    reset_at: float


@dataclass(frozen=True)
class VendorPolicy:
    """How one vendor is called: the settings' defaults with that vendor's overrides."""

    retries: int
    backoff: float
    connect_timeout: float
    read_timeout: float
    max_inflight: int
    fail_max: int
    reset_timeout: float

    @classmethod
    def for_vendor(cls, settings: Settings, vendor: str) -> VendorPolicy:
        override = settings.vendor_overrides().get(vendor, {})
        return cls(retries=int(override.get("retries", settings.http_retries)),
                   backoff=override.get("backoff", settings.http_backoff),
                   connect_timeout=override.get("connect_timeout", settings.http_connect_timeout),
                   read_timeout=override.get("read_timeout", settings.http_read_timeout),
                   max_inflight=int(override.get("max_inflight", settings.vendor_max_inflight)),
                   fail_max=int(override.get("fail_max", settings.breaker_fail_max)),
                   reset_timeout=override.get("reset_timeout", settings.breaker_reset_timeout))


class _Failed(Exception):
    """An attempt that counts against the vendor's circuit: no usable answer, or a 5xx."""

    def __init__(self, error: GatewayError | None = None, response: requests.Response | None = None,
                 *, never_sent: bool = False):
        super().__init__()
        self.error = error
        self.response = response
        self.never_sent = never_sent  # the connection was never made: safe to repeat any method


class _Breaker(pybreaker.CircuitBreaker):
    """pybreaker's breaker, without its lock around the guarded call: held there, it lets one call
    at a time through to the vendor (the transitions between states keep their own locking)."""

    def call(self, func: Any, *args: Any, **kwargs: Any) -> Any:
        return self.state.call(func, *args, **kwargs)


class _CircuitListener(pybreaker.CircuitBreakerListener):
    def state_change(self, cb: pybreaker.CircuitBreaker, old_state: Any, new_state: Any) -> None:
        name = getattr(new_state, "name", str(new_state))
        observe_circuit(cb.name or "", name)
        level = logging.WARNING if name == pybreaker.STATE_OPEN else logging.INFO
        log.log(level, "circuit of %s is now %s", cb.name, name)


class _RedisCircuitStorage(pybreaker.CircuitRedisStorage):
    """pybreaker's Redis storage, which falls back to "closed" when Redis does not answer — except
    when it is made, where it would raise and fail every call to the vendor. While Redis is down
    each process keeps its own circuit (pybreaker's fallback), and its per-call error log is cut
    to one line a minute (_OncePer)."""

    def _initialize_redis_state(self, state: str) -> None:
        import redis

        try:
            super()._initialize_redis_state(state)
        except redis.RedisError:
            self.logger.warning("Redis does not answer: circuit %s starts closed in this process", self._namespace_name)


class _OncePer(logging.Filter):
    """Let one record through per ``seconds``, without its traceback (a library logging every call)."""

    def __init__(self, seconds: float):
        super().__init__()
        self.seconds = seconds
        self._last = 0.0

    def filter(self, record: logging.LogRecord) -> bool:
        now = time.monotonic()
        if now - self._last < self.seconds:
            return False
        self._last = now
        record.exc_info = record.exc_text = None
        return True


_redis_outage_filter = _OncePer(60.0)


class _Vendor:
    """What the client keeps per vendor: its policy, bulkhead and circuit breaker."""

    def __init__(self, name: str, policy: VendorPolicy, storage: pybreaker.CircuitBreakerStorage | None):
        self.name = name
        self.policy = policy
        self.slots = threading.BoundedSemaphore(policy.max_inflight)
        self.breaker = _Breaker(fail_max=policy.fail_max, reset_timeout=policy.reset_timeout,
                                                name=name, state_storage=storage, listeners=[_CircuitListener()],
                                                throw_new_error_on_trip=False)

    def reopens_in(self) -> float:
        """Seconds until an open circuit lets a probe through (0 when it would now)."""
        opened_at = self.breaker._state_storage.opened_at  # pybreaker keeps it only there
        if opened_at is None:
            return float(self.policy.reset_timeout)
        return max(0.0, self.policy.reset_timeout - (datetime.now(UTC) - opened_at).total_seconds())


def _retry_after_seconds(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None


class HttpClient:
    """``send()`` one request; everything a vendor call needs is on by default."""

    def __init__(self, settings: Settings | None = None, *, user_agent: str = "Flowgate/0.1",
                 budget_wait: float | None = None):
        self.settings = settings = settings or Settings()
        self.budget = VendorBudget.from_settings(settings)
        #: The longest a call waits for a spent vendor budget before RateLimited (the deadline allowing).
        self.budget_wait = settings.http_max_retry_after if budget_wait is None else budget_wait
        _redact_library_logs()
        self.timeout = (settings.http_connect_timeout, settings.http_read_timeout)
        self.max_retry_after = settings.http_max_retry_after
        self._busy_wait = settings.vendor_busy_wait
        # Retries are ours (one place for the deadline, the breaker and per-attempt metrics):
        # the transport makes exactly one attempt.
        self._transport = Transport(pool_size=settings.http_pool_size, user_agent=user_agent)
        self._vendors: dict[str, _Vendor] = {}
        self._windows: dict[str, _Window] = {}
        self._lock = threading.Lock()
        self._redis: Any = None

    def close(self) -> None:
        self._transport.close()

    # -- per-vendor state ------------------------------------------------------------------------
    def vendor(self, name: str) -> _Vendor:
        found = self._vendors.get(name)
        if found is None:
            with self._lock:
                found = self._vendors.get(name)
                if found is None:
                    found = self._vendors[name] = _Vendor(name, VendorPolicy.for_vendor(self.settings, name),
                                                          self._circuit_storage(name))
        return found

    def _circuit_storage(self, name: str) -> pybreaker.CircuitBreakerStorage | None:
        if not self.settings.redis_url:
            return None  # pybreaker's in-memory storage: this process only
        if self._redis is None:
            import redis

            # pybreaker's Redis storage reads bytes back: no decode_responses.
            self._redis = redis.Redis.from_url(self.settings.redis_url, socket_timeout=1.0,
                                               socket_connect_timeout=1.0)
        return _RedisCircuitStorage(pybreaker.STATE_CLOSED, self._redis, namespace=f"flowgate:circuit:{name}")

    def circuits(self, names: tuple[str, ...] = tuple(VENDOR_NAMES)) -> dict[str, str]:
        """Each vendor's circuit state: ``closed``, ``open`` or ``half-open`` (for /readyz, /metrics)."""
        states = {}
        for name in names:
            try:
                states[name] = self.vendor(name).breaker.current_state
            except Exception:  # noqa: BLE001 - a probe must answer even when Redis does not
                states[name] = "unknown"
        return states

    # ------------------------------------------------------------------------------------------
    def send(self, method: str, url: str, *, headers: Mapping[str, str] | None = None,
             params: Mapping[str, Any] | None = None, json: Any = None, data: Any = None,
             timeout: float | tuple[float, float] | None = None, retry: bool | None = None,
             vendor: str = "") -> requests.Response:
        """Send one request and return the response, whatever its status.

        Raises UpstreamTimeout / UpstreamUnavailable / UpstreamError when no usable response came
        back, CircuitOpen / VendorBusy when the vendor is not called at all, and RateLimited when the
        vendor's window for this credential is known to be spent. ``retry=None`` retries idempotent
        methods only; ``True`` any method (only for calls the vendor deduplicates); ``False`` never.
        ``vendor`` names the policy, breaker, bulkhead and rate-limit window (vendors sharing a host,
        as in the embedded sandbox, keep their own); without it the host is the name.
        """
        method = method.upper()
        headers = dict(headers or {})
        headers.setdefault("X-Request-Id", current_request_id())
        name = vendor or urlsplit(url).netloc
        state = self.vendor(name)
        policy = state.policy
        window_key = self._window_key(name, url, headers, params)
        self._check_window(window_key)
        retryable = (method in IDEMPOTENT) if retry is None else retry
        if isinstance(timeout, tuple):
            connect_timeout, read_timeout = timeout
        elif timeout is not None:
            connect_timeout = read_timeout = float(timeout)
        else:
            connect_timeout, read_timeout = policy.connect_timeout, policy.read_timeout
        deadline = deadline_var.get()
        shown = _shown(vendor, method, url)
        kwargs = {"headers": headers, "params": params, "json": json, "data": data}

        reached = False  # did any attempt reach the vendor? Then a failed write may have been made.

        def attempt() -> requests.Response:
            nonlocal reached
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left < MIN_ATTEMPT_SECONDS:
                late = UpstreamTimeout(f"{shown}: the request's deadline passed before the vendor answered")
                late.never_sent = not reached
                raise late
            read = read_timeout if left is None else min(read_timeout, left)
            self._spend_budget(name, vendor, deadline)
            try:
                response = state.breaker.call(self._attempt, name, method, url, shown, (connect_timeout, read),
                                              kwargs)
            except pybreaker.CircuitBreakerError:
                wait = state.reopens_in()
                observe_upstream(name, method, "CircuitOpen", 0.0)
                paused = CircuitOpen(f"{VENDOR_NAMES.get(vendor, name)} is failing: calls to it are paused "
                                     f"for {max(1, round(wait))} s.", retry_after=max(1.0, wait))
                paused.never_sent = not reached
                raise paused from None
            except _Failed as failed:
                reached = reached or not failed.never_sent
                failed.never_sent = not reached
                raise
            reached = True
            return response

        def worth_retrying(outcome: tenacity.RetryCallState) -> bool:
            response = _response_of(outcome)
            if response is not None:
                return retryable and self._retry_status(response)
            failure = outcome.outcome.exception() if outcome.outcome is not None else None
            return isinstance(failure, _Failed) and (retryable or failure.never_sent)

        def wait(outcome: tenacity.RetryCallState) -> float:
            backoff = policy.backoff * (2 ** (outcome.attempt_number - 1))
            response = _response_of(outcome)
            return max(backoff, _retry_after_seconds(response) or 0.0) if response is not None else backoff

        class past_deadline(tenacity.stop.stop_base):
            def __call__(self, outcome: tenacity.RetryCallState) -> bool:
                sleep = outcome.upcoming_sleep or 0.0
                return deadline is not None and time.monotonic() + sleep + MIN_ATTEMPT_SECONDS >= deadline

        retrying = tenacity.Retrying(stop=tenacity.stop_after_attempt(policy.retries + 1) | past_deadline(),
                                     wait=wait, retry=worth_retrying, retry_error_callback=_last_outcome,
                                     reraise=True)
        with self._slot(state, vendor):
            try:
                response = retrying(attempt)
            except _Failed as failed:
                if failed.response is not None:
                    return self._finish(failed.response, window_key)
                assert failed.error is not None
                if isinstance(failed.error, UpstreamError):
                    failed.error.never_sent = failed.never_sent
                raise failed.error from None
        return self._finish(response, window_key)

    def _spend_budget(self, name: str, vendor: str, deadline: float | None) -> None:
        """One call of the vendor's budget, waited for while allowed; else RateLimited (not sent)."""
        waited = 0.0
        while (wait := self.budget.take(name)) > 0:
            left = None if deadline is None else deadline - time.monotonic() - MIN_ATTEMPT_SECONDS
            if waited + wait > self.budget_wait or (left is not None and wait > left):
                raise RateLimited(f"The request budget for {VENDOR_NAMES.get(vendor, name)} "
                                  f"({self.budget.describe(name)}) is spent for now.", retry_after=max(1, round(wait)))
            time.sleep(wait)
            waited += wait

    def _retry_status(self, response: requests.Response) -> bool:
        if response.status_code not in RETRY_STATUSES:
            return False
        retry_after = _retry_after_seconds(response)
        # A Retry-After longer than we wait goes back to the caller, who maps it with the delay.
        return retry_after is None or retry_after <= self.max_retry_after

    @contextmanager
    def _slot(self, state: _Vendor, vendor: str) -> Iterator[None]:
        if not state.slots.acquire(timeout=self._busy_wait):
            raise VendorBusy(f"{VENDOR_NAMES.get(vendor, state.name)} already has {state.policy.max_inflight} "
                             "calls in flight from this gateway process; try again shortly.", retry_after=1)
        try:
            yield
        finally:
            state.slots.release()

    def _attempt(self, name: str, method: str, url: str, shown: str, timeout: tuple[float, float],
                 kwargs: dict[str, Any]) -> requests.Response:
        """One attempt, inside the breaker: raises _Failed for what counts against the circuit."""
        started = time.perf_counter()
        try:
            with tracing.vendor_span(name, method, url, request_id_var.get()):
                response = self._transport.request(method, url, timeout=timeout, **kwargs)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            error = self._translate(exc, shown, timeout[1])
            _attempt_done(name, method, type(error).__name__, time.perf_counter() - started)
            # No connection was made (refused, no such host, connect timeout): nothing reached the vendor.
            never_sent = isinstance(exc, urllib3.exceptions.ConnectTimeoutError)
            raise _Failed(error, never_sent=never_sent) from None
        seconds = time.perf_counter() - started
        _attempt_done(name, method, str(response.status_code), seconds)
        # Inside a client request its access line names the vendors and their time: each attempt's
        # own line is DEBUG there. In a job step or an outbox delivery it is the only line: INFO.
        level = logging.DEBUG if exchange_var.get() is not None else logging.INFO
        if log.isEnabledFor(level):  # the redacted URL is only worth building for a log line
            log.log(level, "%s %s -> %s in %.1f ms", method, redact_url(response.request.url or url),
                    response.status_code, seconds * 1000,
                    extra={"event": "vendor_call", "vendor": name, "method": method,
                           "status": response.status_code, "duration_ms": round(seconds * 1000, 2)})
        if response.status_code >= 500:
            raise _Failed(response=response)
        return response

    @staticmethod
    def _translate(exc: Exception, shown: str, read_timeout: float) -> GatewayError:
        # urllib3 makes NewConnectionError (refused, no such host) a kind of ConnectTimeoutError.
        if isinstance(exc, urllib3.exceptions.NewConnectionError):
            return UpstreamUnavailable(f"{shown}: connection failed")
        if isinstance(exc, urllib3.exceptions.TimeoutError):
            return UpstreamTimeout(f"{shown}: no answer within {read_timeout:g} s")
        if isinstance(exc, (urllib3.exceptions.ProtocolError, urllib3.exceptions.SSLError,
                            urllib3.exceptions.ProxyError, OSError)):
            return UpstreamUnavailable(f"{shown}: connection failed")
        return UpstreamError(f"{shown}: the request failed")

    def _finish(self, response: requests.Response, window_key: str) -> requests.Response:
        self._note_window(window_key, response.headers)
        return response

    # -- rate-limit awareness ------------------------------------------------------------------
    @staticmethod
    def _window_key(vendor: str, url: str, headers: Mapping[str, str], params: Mapping[str, Any] | None) -> str:
        # OAuth token requests carry their credential in a client_id header: key them by it, so a
        # window spent by anonymous calls (webhooks) does not block fetching a token.
        credential = (headers.get("Authorization") or headers.get("X-Apikey") or headers.get("apikey")
                      or headers.get("api-key") or (params or {}).get("api_key") or headers.get("client_id") or "")
        digest = hashlib.sha256(str(credential).encode()).hexdigest()[:16]
        return f"{vendor}@{urlsplit(url).netloc}/{digest}"

    def _check_window(self, key: str) -> None:
        with self._lock:
            window = self._windows.get(key)
        if window and window.remaining <= 0:
            wait = window.reset_at - time.monotonic()
            if wait > 0:
                raise RateLimited("The vendor's rate limit for this credential is spent.", retry_after=round(wait, 1))

    def _note_window(self, key: str, headers: Mapping[str, str]) -> None:
        remaining, reset = headers.get("X-RateLimit-Remaining"), headers.get("X-RateLimit-Reset")
        if remaining is None:
            return
        try:
            window = _Window(int(remaining), time.monotonic() + float(reset or 0))
        except ValueError:
            return
        with self._lock:
            # Only spent windows matter; keeping every credential's would grow without end.
            if window.remaining > 0:
                self._windows.pop(key, None)
            else:
                now = time.monotonic()
                self._windows = {k: w for k, w in self._windows.items() if w.reset_at > now}
                self._windows[key] = window


def _response_of(outcome: tenacity.RetryCallState) -> requests.Response | None:
    """The response an attempt got (a 5xx travels inside _Failed), or None when none came back."""
    if outcome.outcome is None:
        return None
    if not outcome.outcome.failed:
        return outcome.outcome.result()
    failure = outcome.outcome.exception()
    return failure.response if isinstance(failure, _Failed) else None


def _last_outcome(outcome: tenacity.RetryCallState) -> Any:
    """When retries stop, hand back what the last attempt gave: its response, or its failure."""
    assert outcome.outcome is not None
    return outcome.outcome.result()


def _attempt_done(vendor: str, method: str, outcome: str, seconds: float) -> None:
    """One attempt at a vendor call, whatever its outcome: in /metrics, and in the request's record
    (its access line names the vendors and their time)."""
    observe_upstream(vendor, method, outcome, seconds)
    note_upstream(vendor, seconds)

"""The one HTTP client for every outbound vendor call.

A ``requests.Session`` with connection pooling, connect and read timeouts always on, retries with
backoff for requests that are safe to repeat (idempotent methods, or writes the caller marks as
deduplicated by the vendor), ``Retry-After`` honoured up to a cap, ``X-Request-Id`` passed through,
and rate-limit awareness: once a vendor said ``X-RateLimit-Remaining: 0`` for a credential, we do
not call it again with that credential before the window resets.

Library exceptions become the project's tree here (:mod:`gateway.errors`); messages carry the
method and a redacted URL, never a credential.
"""

from __future__ import annotations

import contextvars
import hashlib
import logging
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import MaxRetryError, ReadTimeoutError, ResponseError
from urllib3.util.retry import Retry

from gateway.config import Settings
from gateway.errors import GatewayError, RateLimited, UpstreamError, UpstreamTimeout, UpstreamUnavailable
from gateway.metrics import observe_upstream
from gateway.redact import redact_text, redact_url

__all__ = ["HttpClient", "current_request_id", "request_id_var"]

log = logging.getLogger("gateway.http")

#: The id of the request being served; front doors set it, the client sends it as X-Request-Id.
request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRY_STATUSES = (429, 502, 503, 504)


def current_request_id() -> str:
    return request_id_var.get() or uuid.uuid4().hex


class _RedactingFilter(logging.Filter):
    """urllib3 logs request URLs with their query (DEBUG) and on every retry (WARNING): mask
    ``api_key=...`` and the like there too, since the client sends URL-style credentials."""

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


def _shown(method: str, url: str, params: Any) -> str:
    """``METHOD url`` for messages, with the query parameters and secrets masked."""
    return f"{method} {redact_url(requests.Request(method, url, params=params).prepare().url or url)}"


class _CappedRetry(Retry):
    """urllib3's Retry, but a ``Retry-After`` longer than ``max_retry_after`` is not waited for:
    the 429/503 goes straight back to the caller, who maps it to RateLimited with the vendor's delay."""

    max_retry_after: float = 10.0

    def increment(self, method: Any = None, url: Any = None, response: Any = None, error: Any = None,
                  _pool: Any = None, _stacktrace: Any = None) -> Self:
        if response is not None:
            retry_after = self.get_retry_after(response)
            if retry_after is not None and retry_after > self.max_retry_after:
                raise MaxRetryError(_pool, url, ResponseError("Retry-After longer than we wait"))
        return super().increment(method, url, response, error, _pool, _stacktrace)


def _no_netrc(request: Any) -> Any:
    return request


class _Session(requests.Session):
    """requests re-reads proxy, no_proxy and CA-bundle variables from the environment on every call
    (about 0.5 ms each on loopback, measured); they do not change while we run, so the result is kept
    per scheme and host."""

    def __init__(self) -> None:
        super().__init__()
        self._env_cache: dict[tuple[Any, ...], dict[str, Any]] = {}
        # Vendor credentials come from settings, never ~/.netrc; a no-op auth also spares requests a
        # look for that file on every call.
        self.auth = _no_netrc

    def merge_environment_settings(self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any) -> Any:
        if proxies:
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc, stream, verify, cert)
        cached = self._env_cache.get(key)
        if cached is None:
            cached = self._env_cache[key] = super().merge_environment_settings(url, proxies, stream, verify, cert)
        return {**cached, "proxies": dict(cached["proxies"])}


@dataclass
class _Window:
    remaining: int
    reset_at: float


class HttpClient:
    """``send()`` one request; everything a vendor call needs is on by default."""

    def __init__(self, settings: Settings | None = None, *, user_agent: str = "Flowgate/0.1"):
        settings = settings or Settings()
        _redact_library_logs()
        self.timeout = (settings.http_connect_timeout, settings.http_read_timeout)
        self.max_retry_after = settings.http_max_retry_after
        self._user_agent = user_agent
        self._retries = settings.http_retries
        self._backoff = settings.http_backoff
        self._pool = settings.http_pool_size
        # One session per retry policy, so a call can opt in or out: "auto" retries idempotent
        # methods, "always" every method (writes the vendor deduplicates), "never" none.
        self._sessions: dict[str, requests.Session] = {}
        self._windows: dict[str, _Window] = {}
        self._lock = threading.Lock()

    def _session_for(self, policy: str) -> requests.Session:
        with self._lock:
            session = self._sessions.get(policy)
            if session is None:
                # "never" is retries=0; an empty allowed_methods would mean "every verb" to urllib3 2
                # (with a FutureWarning), so it gets None like "always".
                methods = {"auto": IDEMPOTENT, "always": None, "never": None}[policy]
                session = self._sessions[policy] = self._new_session(methods, retries=0 if policy == "never" else None)
            return session

    def _new_session(self, methods: frozenset[str] | None, retries: int | None = None) -> requests.Session:
        retries = self._retries if retries is None else retries
        retry_class = type("Retry", (_CappedRetry,), {"max_retry_after": self.max_retry_after})
        retry = retry_class(
            total=retries, connect=retries, read=retries, status=retries,
            backoff_factor=self._backoff, status_forcelist=RETRY_STATUSES,
            allowed_methods=methods if methods is not None else None,
            respect_retry_after_header=True, raise_on_status=False, raise_on_redirect=False,
        )
        session = _Session()
        adapter = HTTPAdapter(pool_connections=self._pool, pool_maxsize=self._pool, max_retries=retry)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        session.headers["User-Agent"] = self._user_agent
        return session

    def close(self) -> None:
        with self._lock:
            for session in self._sessions.values():
                session.close()
            self._sessions.clear()

    # ------------------------------------------------------------------------------------------
    def send(self, method: str, url: str, *, headers: Mapping[str, str] | None = None,
             params: Mapping[str, Any] | None = None, json: Any = None, data: Any = None,
             timeout: float | tuple[float, float] | None = None, retry: bool | None = None,
             auth: Any = None, vendor: str = "") -> requests.Response:
        """Send one request and return the response, whatever its status.

        Raises UpstreamTimeout / UpstreamUnavailable / UpstreamError when no usable response came
        back, and RateLimited when the vendor's window for this credential is known to be spent.
        ``retry=None`` retries idempotent methods only; ``True`` retries any method (only for calls
        the vendor deduplicates); ``False`` never retries (for PUTs with side effects).
        ``vendor`` names the rate-limit window: vendors sharing a host (the embedded sandbox) keep
        their own windows, so one vendor's 429 never blocks another.
        """
        method = method.upper()
        headers = dict(headers or {})
        headers.setdefault("X-Request-Id", current_request_id())
        window_key = self._window_key(vendor, url, headers, params)
        self._check_window(window_key)
        session = self._session_for("auto" if retry is None else "always" if retry else "never")
        started = time.perf_counter()
        host = urlsplit(url).netloc
        try:
            response = self._request(session, method, url, headers=headers, params=params, json=json,
                                     data=data, timeout=timeout or self.timeout, auth=auth)
        except GatewayError as exc:
            observe_upstream(host, method, type(exc).__name__, time.perf_counter() - started)
            raise
        observe_upstream(host, method, str(response.status_code), time.perf_counter() - started)
        return self._finish(response, started, window_key)

    def _request(self, session: requests.Session, method: str, url: str, *,
                 timeout: Any, **kwargs: Any) -> requests.Response:
        """One call through ``session``; requests' exceptions become the project's tree here."""
        try:
            return session.request(method, url, timeout=timeout, allow_redirects=False, **kwargs)
        except requests.exceptions.RequestException as exc:
            raise self._translate(exc, _shown(method, url, kwargs.get("params")), timeout) from None

    def _translate(self, exc: requests.exceptions.RequestException, shown: str, timeout: Any) -> GatewayError:
        if isinstance(exc, requests.exceptions.RetryError):
            return UpstreamError(f"{shown}: still failing after {self._retries} retries")
        # A read timeout that used up the retries reaches us as MaxRetryError(ReadTimeoutError),
        # which requests reports as ConnectionError, not ReadTimeout: it is still a timeout.
        retried_timeout = isinstance(getattr(exc.args[0] if exc.args else None, "reason", None), ReadTimeoutError)
        if isinstance(exc, requests.exceptions.Timeout) or retried_timeout:
            return UpstreamTimeout(f"{shown}: no answer within {timeout} s")
        if isinstance(exc, requests.exceptions.ConnectionError):
            return UpstreamUnavailable(f"{shown}: connection failed")
        return UpstreamError(f"{shown}: the request failed")

    def _finish(self, response: requests.Response, started: float, window_key: str) -> requests.Response:
        self._note_window(window_key, response.headers)
        if log.isEnabledFor(logging.INFO):  # the redacted URL is only worth building for a log line
            log.info("%s %s -> %s in %.1f ms", response.request.method, redact_url(response.request.url or ""),
                     response.status_code, (time.perf_counter() - started) * 1000,
                     extra={"request_id": request_id_var.get()})
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
            self._windows[key] = window

"""Fault injection for the sandbox: a WSGI middleware driven by rules switchable at run time.

A rule matches requests by path (a glob: ``/v1/record*``) and method, and applies, in this order:

* ``latency_ms``   sleep before answering;
* ``drop``         close the connection without a response (the client sees a reset / EOF);
* ``status``       answer this status instead of the real one, with the vendor's error body;
                   ``retry_after`` adds ``Retry-After`` (use with 429 or 503);
* ``slow_body_ms`` stream the real answer in small chunks, sleeping between them.

``after: true`` runs the real request first, then applies the rule: the write happens and its answer
is lost or late, as when a vendor commits and then times out or fails (a "ghost write").

``rate`` (0..1, default 1) is the share of matching requests affected; ``times`` (optional) expires
the rule after that many hits. Rules come from settings at start (``GATEWAY_SANDBOX_FAULTS``, a JSON
list) and from the control API (``/_sandbox/faults``).

A request still held by ``latency_ms`` when the sandbox is reset is dropped when it wakes, not
served: it belongs to the vendor state the reset threw away, and serving it would write into (and
spend the rate window of) the fresh state the next caller set up.
"""

from __future__ import annotations

import errno
import fnmatch
import itertools
import json
import random
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["FaultMiddleware", "FaultRule", "FaultSet"]

ErrorBody = Callable[[str, int], tuple[str, bytes]]  # (path, status) -> (content type, body)


def _number(value: Any, name: str, kind: type) -> Any:
    """A JSON number (not a string, not a boolean) converted to ``kind``; ints must be whole."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number")
    if kind is int and value != int(value):
        raise ValueError(f"{name} must be a whole number")
    return kind(value)


@dataclass
class FaultRule:
    path: str = "*"
    method: str = "*"
    latency_ms: int = 0
    status: int | None = None
    retry_after: int | None = None
    drop: bool = False
    slow_body_ms: int = 0
    rate: float = 1.0
    times: int | None = None
    after: bool = False
    id: int = 0
    hits: int = field(default=0)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaultRule:
        if not isinstance(data, dict):
            raise TypeError("a fault rule is a JSON object")
        allowed = {"path", "method", "latency_ms", "status", "retry_after", "drop", "slow_body_ms", "rate", "times",
                   "after"}
        unknown = set(data) - allowed
        if unknown:
            raise ValueError(f"unknown fault field(s): {', '.join(sorted(unknown))}")
        rule = cls(**data)
        # Validate types here: a rule with a wrong type (rate "1", times "1", path 5) would otherwise be
        # accepted and then crash the middleware on every matching request, as an HTML 500.
        if not isinstance(rule.path, str) or not isinstance(rule.method, str):
            raise TypeError("path and method must be strings")
        rule.method = rule.method.upper()
        if not isinstance(rule.drop, bool) or not isinstance(rule.after, bool):
            raise TypeError("drop and after must be true or false")
        rule.latency_ms = _number(rule.latency_ms, "latency_ms", int)
        rule.slow_body_ms = _number(rule.slow_body_ms, "slow_body_ms", int)
        rule.rate = _number(rule.rate, "rate", float)
        if rule.status is not None:
            rule.status = _number(rule.status, "status", int)
        if rule.retry_after is not None:
            rule.retry_after = _number(rule.retry_after, "retry_after", int)
            if rule.retry_after < 0:
                raise ValueError("retry_after must be >= 0")
        if rule.times is not None:
            rule.times = _number(rule.times, "times", int)
            if rule.times < 1:
                raise ValueError("times must be >= 1")
        if not 0 <= rule.rate <= 1:
            raise ValueError("rate must be between 0 and 1")
        if rule.status is not None and not 100 <= rule.status <= 599:
            raise ValueError("status must be an HTTP status code")
        if rule.latency_ms < 0 or rule.slow_body_ms < 0:
            raise ValueError("latency_ms and slow_body_ms must be >= 0")
        if not (rule.latency_ms or rule.status or rule.drop or rule.slow_body_ms):
            raise ValueError("a fault rule needs one of latency_ms, status, drop, slow_body_ms")
        return rule

    def matches(self, method: str, path: str) -> bool:
        return (self.method in ("*", method.upper())) and fnmatch.fnmatchcase(path, self.path)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class FaultSet:
    """The live rules; thread-safe."""

    def __init__(self) -> None:
        self._rules: list[FaultRule] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.epoch = 0  # bumped by reset(): requests held from an earlier epoch are stale

    def add(self, rule: FaultRule) -> FaultRule:
        with self._lock:
            rule.id = next(self._ids)
            self._rules.append(rule)
            return rule

    def load_json(self, text: str) -> None:
        if not text.strip():
            return
        data = json.loads(text)
        for item in data if isinstance(data, list) else [data]:
            self.add(FaultRule.from_dict(item))

    def remove(self, rule_id: int) -> bool:
        with self._lock:
            before = len(self._rules)
            self._rules = [r for r in self._rules if r.id != rule_id]
            return len(self._rules) != before

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def reset(self) -> None:
        """No rules, and requests held by a latency rule right now are dropped when they wake."""
        with self._lock:
            self._rules.clear()
            self.epoch += 1

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r.as_dict() for r in self._rules]

    def pick(self, method: str, path: str) -> FaultRule | None:
        with self._lock:
            for rule in self._rules:
                if rule.matches(method, path) and random.random() < rule.rate:
                    rule.hits += 1
                    if rule.times is not None and rule.hits >= rule.times:
                        self._rules.remove(rule)
                    return rule
        return None


def _drop_connection(environ: dict[str, Any]) -> None:
    sock = environ.get("werkzeug.socket") or environ.get("gunicorn.socket")
    if sock is None:
        return
    try:
        # Linger 0 makes close() send a RST: what a crashed or overloaded vendor looks like.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


class _Dropped(ConnectionResetError):
    """Raised after the socket is gone so the server stops without writing a response."""


class FaultMiddleware:
    def __init__(self, app: Any, faults: FaultSet, error_body: ErrorBody, exempt_prefix: str = "/_sandbox"):
        self.app = app
        self.faults = faults
        self.error_body = error_body
        self.exempt_prefix = exempt_prefix

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith(self.exempt_prefix):
            return self.app(environ, start_response)
        rule = self.faults.pick(environ.get("REQUEST_METHOD", "GET"), path)
        if rule is None:
            return self.app(environ, start_response)
        if rule.after:
            self._run_unseen(environ)
        if rule.latency_ms:
            epoch = self.faults.epoch
            time.sleep(rule.latency_ms / 1000)
            if self.faults.epoch != epoch:
                _drop_connection(environ)
                raise _Dropped(errno.ECONNRESET, "sandbox reset while this request was held")
        if rule.drop:
            _drop_connection(environ)
            raise _Dropped(errno.ECONNRESET, "sandbox fault: connection dropped on purpose")
        if rule.status:
            ctype, body = self.error_body(path, int(rule.status))
            headers = [("Content-Type", ctype), ("Content-Length", str(len(body)))]
            if rule.retry_after is not None:
                headers.append(("Retry-After", str(rule.retry_after)))
            start_response(f"{int(rule.status)} Injected Fault", headers)
            return [body]
        if rule.slow_body_ms:
            return self._slow(environ, start_response, rule.slow_body_ms / 1000)
        return self.app(environ, start_response)

    def _run_unseen(self, environ: dict[str, Any]) -> None:
        """Serve the request for real and throw the answer away (the rule answers instead)."""
        body = self.app(environ, lambda *_args, **_kw: (lambda _data: None))
        try:
            for _chunk in body:
                pass
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()

    def _slow(self, environ: dict[str, Any], start_response: Callable[..., Any], pause: float) -> Iterable[bytes]:
        chunks = b"".join(self.app(environ, start_response))
        for i in range(0, max(len(chunks), 1), 16):
            time.sleep(pause)
            yield chunks[i:i + 16]

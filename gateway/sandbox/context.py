"""What every sandbox module reaches through ``sandbox()``: the database, the fault rules, the knobs,
the call log."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from flask import current_app

from gateway.sandbox.faults import FaultSet
from gateway.sandbox.state import SandboxDB

__all__ = ["Call", "CallLog", "RateLimiter", "SandboxContext", "sandbox"]


class RateLimiter:
    """Fixed window per credential, like the vendor's ``X-RateLimit-*`` headers describe."""

    def __init__(self, limit: int, window: int):
        self.limit = limit
        self.window = window
        self._counts: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> tuple[bool, int, int]:
        """Count one request; return (allowed, remaining, seconds until the window resets)."""
        now = time.monotonic()
        with self._lock:
            start, count = self._counts.get(key, (now, 0))
            if now - start >= self.window:
                start, count = now, 0
            count += 1
            self._counts[key] = (start, count)
        reset = max(0, round(self.window - (now - start)))
        return count <= self.limit, max(0, self.limit - count), reset

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()


class Call:
    """One request a vendor received. ``status`` is filled in when the answer starts (None: not yet
    answered, or the connection was dropped by a fault rule)."""

    __slots__ = ("method", "path", "request_id", "status", "time", "token", "vendor")

    def __init__(self, at: float, vendor: str, method: str, path: str, request_id: str | None, token: bool):
        self.time = at
        self.vendor = vendor
        self.method = method
        self.path = path
        self.request_id = request_id
        self.token = token
        self.status: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"time": self.time, "vendor": self.vendor, "method": self.method, "path": self.path,
                "status": self.status, "request_id": self.request_id, "token": self.token}


class CallLog:
    """Every vendor request the sandbox received, oldest first: what the vendors saw, whichever
    gateway process or worker sent it — the independent observer of rate budgets and token fetches
    when many processes share one sandbox. Bounded (the oldest calls drop out), and cheap on the
    request path: one deque append, atomic under the GIL, no lock."""

    def __init__(self, maxlen: int = 100_000):
        self._calls: deque[Call] = deque(maxlen=maxlen)

    def record(self, vendor: str, method: str, path: str, request_id: str | None = None,
               token: bool = False) -> Call:
        call = Call(time.time(), vendor, method, path, request_id, token)
        self._calls.append(call)
        return call

    def entries(self, vendor: str | None = None, since: float | None = None) -> list[dict[str, Any]]:
        # deque.copy() runs in C without releasing the GIL: a snapshot even while requests append.
        return [c.as_dict() for c in self._calls.copy()
                if (vendor is None or c.vendor == vendor) and (since is None or c.time >= since)]

    def clear(self) -> None:
        self._calls.clear()

    def __len__(self) -> int:
        return len(self._calls)


@dataclass
class SandboxContext:
    db: SandboxDB
    faults: FaultSet
    rate_limiter: RateLimiter
    token_ttl: int = 3600
    environment_ready_after: float = 2.0   # seconds an asynchronous environment action takes
    extra: dict = field(default_factory=dict)
    calls: CallLog = field(default_factory=CallLog)
    # Knob values from before the first PATCH /_sandbox/config since the last reset, to restore.
    saved_knobs: dict = field(default_factory=dict, repr=False)

    def knobs(self) -> dict:
        return {"token_ttl": self.token_ttl, "rate_limit": self.rate_limiter.limit,
                "rate_window": self.rate_limiter.window, "environment_ready_after": self.environment_ready_after}

    def set_knob(self, name: str, value) -> None:
        self.saved_knobs.setdefault(name, self.knobs()[name])
        if name == "rate_limit":
            self.rate_limiter.limit = value
        elif name == "rate_window":
            self.rate_limiter.window = value
        else:
            setattr(self, name, value)

    def restore_knobs(self) -> None:
        """Put back the knobs as they were before PATCH /_sandbox/config changed them."""
        for name, value in self.saved_knobs.items():
            self.set_knob(name, value)
        self.saved_knobs.clear()
        self.rate_limiter.reset()


def sandbox() -> SandboxContext:
    return current_app.extensions["flowgate_sandbox"]

"""What every sandbox module reaches through ``sandbox()``: the database, the fault rules, the knobs."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from flask import current_app

from gateway.sandbox.faults import FaultSet
from gateway.sandbox.state import SandboxDB

__all__ = ["RateLimiter", "SandboxContext", "sandbox"]


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


@dataclass
class SandboxContext:
    db: SandboxDB
    faults: FaultSet
    rate_limiter: RateLimiter
    token_ttl: int = 3600
    environment_ready_after: float = 2.0   # seconds an asynchronous environment action takes
    extra: dict = field(default_factory=dict)
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

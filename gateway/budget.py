"""Each vendor's request budget, shared by every process that calls it (moving windows, ``limits``).

``flowcode_rate_limit`` and ``exaroutes_rate_limit`` (``limits`` syntax, "1200/minute") are spent
by every attempt at a call to that vendor, from a gateway or a job worker alike
(:class:`gateway.http.HttpClient`). The counters live in Redis when ``GATEWAY_REDIS_URL`` is set,
so any number of processes on any number of machines spend one budget and never exceed it in any
window of its length; else in the process's memory (one machine: each process its own share).

When the storage does not answer, calls go on unbudgeted (a warning, at most twice a minute): a
Redis outage must not stop every vendor call, and the vendor's own 429 still protects it.
"""

from __future__ import annotations

import logging
import time

from limits import RateLimitItem, parse
from limits.strategies import MovingWindowRateLimiter

from gateway.config import Settings
from gateway.counters import storage

__all__ = ["VendorBudget"]

log = logging.getLogger("gateway.http")

_WARN_EVERY = 30.0


class VendorBudget:
    def __init__(self, storage_url: str, limits: dict[str, str]):
        self.items: dict[str, RateLimitItem] = {vendor: parse(text) for vendor, text in limits.items() if text}
        self._texts = {vendor: text for vendor, text in limits.items() if text}
        self.limiter = MovingWindowRateLimiter(storage(storage_url))
        self._warned_at = 0.0

    @classmethod
    def from_settings(cls, settings: Settings) -> VendorBudget:
        return cls(settings.redis_url or "memory://",
                   {"flowcode": settings.flowcode_rate_limit, "exaroutes": settings.exaroutes_rate_limit})

    def describe(self, vendor: str) -> str:
        return self._texts.get(vendor, "")

    def take(self, vendor: str) -> float:
        """Spend one call of ``vendor``'s budget: 0 when allowed (or unbudgeted), else the seconds to wait."""
        item = self.items.get(vendor)
        if item is None:
            return 0.0
        try:
            if self.limiter.hit(item, "flowgate-vendor", vendor):
                return 0.0
            stats = self.limiter.get_window_stats(item, "flowgate-vendor", vendor)
        except Exception as exc:  # noqa: BLE001 - redis and friends raise their own types
            now = time.monotonic()
            if now - self._warned_at > _WARN_EVERY:
                self._warned_at = now
                log.warning("vendor budget storage unavailable (%s): calls to %s go on unbudgeted",
                            type(exc).__name__, vendor)
            return 0.0
        return max(0.05, stats.reset_time - time.time())

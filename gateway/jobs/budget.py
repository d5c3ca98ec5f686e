"""Each vendor's request budget, shared by every worker process (moving windows, ``limits``).

Memory storage in embedded mode (one worker process); Redis when ``GATEWAY_REDIS_URL`` is set, so
any number of workers on any number of machines spend one budget and never exceed it in any window.
"""

from __future__ import annotations

import logging
import time

from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

__all__ = ["VendorBudget"]

log = logging.getLogger("gateway.jobs")


class VendorBudget:
    def __init__(self, storage_url: str, limits: dict[str, str]):
        self.storage = storage_from_string(storage_url)
        self.limiter = MovingWindowRateLimiter(self.storage)
        self.items: dict[str, RateLimitItem] = {vendor: parse(text) for vendor, text in limits.items()}

    def take(self, vendor: str) -> float:
        """Spend one call of ``vendor``'s budget: 0 when allowed, else the seconds to wait."""
        item = self.items.get(vendor)
        if item is None:
            return 0.0
        try:
            if self.limiter.hit(item, "flowgate-vendor", vendor):
                return 0.0
            stats = self.limiter.get_window_stats(item, "flowgate-vendor", vendor)
        except Exception as exc:  # noqa: BLE001 - redis and friends raise their own types
            log.warning("vendor budget storage unavailable (%s); waiting 5 s", type(exc).__name__)
            return 5.0
        return max(0.05, stats.reset_time - time.time())

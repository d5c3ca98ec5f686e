"""Rate limiting of the REST front door, per consumer, with the ``limits`` library.

flowize-api.txt "Rate Limit": every response carries ``X-RateLimit-Limit``, ``-Remaining`` and
``-Reset`` (seconds until the window resets, docs/flowize-decisions.md H2); over the limit the answer
is 429 with ``{"resource": [], "error": {"code": 429, "message": "Too many requests."}}`` and
``Retry-After``.

Who counts as one consumer: in gateway-held mode the consumer (its own limit if it has one); in
pass-through mode the credential presented (a digest of it), else the client's address. Counters
live in memory (one process, the embedded default) or in Redis (``GATEWAY_REST_RATE_LIMIT_STORAGE=
redis://...``, shared by every worker and machine). Fixed windows, as the vendor's headers imply.
OPTIONS requests are reported but not counted, like a CORS preflight (the sandbox does the same).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from functools import lru_cache

from limits import RateLimitItem, parse
from limits.strategies import FixedWindowRateLimiter

from gateway.counters import storage

__all__ = ["RestRateLimiter", "Window"]

log = logging.getLogger("gateway.rest")


@dataclass(frozen=True)
class Window:
    limit: int
    remaining: int
    reset: int       # seconds until the window resets
    allowed: bool

    def headers(self) -> dict[str, str]:
        return {"X-RateLimit-Limit": str(self.limit), "X-RateLimit-Remaining": str(self.remaining),
                "X-RateLimit-Reset": str(self.reset)}


@lru_cache(maxsize=256)
def _item(limit: str) -> RateLimitItem:
    return parse(limit)


class RestRateLimiter:
    def __init__(self, storage_url: str = "memory://"):
        self.storage = storage(storage_url)
        self.strategy = FixedWindowRateLimiter(self.storage)

    def hit(self, identity: str, limit: str, *, count: bool = True) -> Window | None:
        """Count one request of ``identity`` (unless ``count`` is False) and report its window.

        None when the counter store is unreachable: the gateway then serves without limits rather
        than failing every call (availability over strictness; the failure is logged)."""
        item = _item(limit)
        try:
            allowed = self.strategy.hit(item, "flowgate-rest", identity) if count else \
                self.strategy.test(item, "flowgate-rest", identity)
            stats = self.strategy.get_window_stats(item, "flowgate-rest", identity)
        except Exception as exc:  # noqa: BLE001 - redis and friends raise their own types
            log.warning("rate-limit storage unavailable (%s); serving without limits", type(exc).__name__)
            return None
        reset = max(0, math.ceil(stats.reset_time - time.time()))
        return Window(item.amount, max(0, stats.remaining), reset, allowed)

    def reset(self) -> None:
        self.storage.reset()

"""Where rate-limit counters live (the ``limits`` library): memory, or Redis when shared.

``storage("memory://")`` is limits' MemoryStorage without its expiry thread: that storage starts a
``threading.Timer`` to drop expired counters whenever the last one has fired, which on a busy
gateway is a new thread (a greenlet under gevent) every few requests — most of the limiter's cost,
measured with ``make bench`` — and a thread started in gunicorn's master does not survive the fork
into its workers. Expired counters are dropped here inline instead, at most once a second; a
counter read after its window has passed is reset by limits itself either way. Any other URL
(``redis://``...) goes to limits unchanged.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict
from typing import Any

from limits.storage import MemoryStorage, Storage, storage_from_string

__all__ = ["storage"]

_SWEEP_EVERY = 1.0


class _InlineExpiryMemoryStorage(MemoryStorage):
    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: str):
        # MemoryStorage.__init__ without the timer thread it starts: a thread made in gunicorn's
        # master does not survive the fork into the workers (preload_app, docs/serving.md).
        self.storage: Counter[str] = Counter()
        self.locks: defaultdict[str, threading.RLock] = defaultdict(threading.RLock)
        self.expirations: dict[str, float] = {}
        self.events: dict[str, list[Any]] = {}
        self.timer = threading.Timer(0.0, lambda: None)  # never started; limits' own methods refer to it
        Storage.__init__(self, uri, wrap_exceptions=wrap_exceptions, **options)
        self._swept_at = 0.0
        self._sweeping = threading.Lock()

    def _MemoryStorage__schedule_expiry(self) -> None:  # replaces limits' private method (name-mangled)
        now = time.monotonic()
        if now - self._swept_at < _SWEEP_EVERY or not self._sweeping.acquire(blocking=False):
            return
        try:
            self._swept_at = now
            self._MemoryStorage__expire_events()  # type: ignore[attr-defined]
        finally:
            self._sweeping.release()


def storage(url: str) -> Storage:
    if url.split("://", 1)[0] == "memory":
        return _InlineExpiryMemoryStorage(url)
    found = storage_from_string(url)
    assert isinstance(found, Storage)  # limits' asyncio storages have their own schemes (async+...)
    return found

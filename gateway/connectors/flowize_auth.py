"""Credentials towards Flowize, and the OAuth token manager.

Four ways to authenticate, as flowize-api.txt documents them: ``apikey`` (``X-Apikey`` + ``X-App``
headers), ``url`` (``api_key`` & ``app_key`` URL parameters), ``bearer`` (an access token the caller
already holds) and ``oauth`` (client credentials: we fetch the token with ``checkauthentication``,
cache it, refresh it ahead of expiry with ``refreshtoken``, and again on a 401 or a 403/436).

Tokens are cached per client in a :class:`TokenCache`: in memory (per process) or in the store
(shared by every process; see :class:`gateway.store.TokenRepository`). A lock per client keeps
concurrent requests in one process from fetching a token each; the map of those locks holds them
weakly, so it keeps only the clients being served right now, however many have come and gone.

A cache shared by processes also offers ``locked(key)`` (:class:`SharedTokenCache`): a lock every
process on the same database takes around a renewal, after the thread lock, so that gateways and
workers starting on a cold cache fetch one token between them, not one each. Whoever gets it second
finds the first one's token in the cache and uses it.
"""

from __future__ import annotations

import hashlib
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, Protocol, runtime_checkable

from gateway.credentials import FlowizeCredentials
from gateway.store.tokens import StoredToken

__all__ = ["MemoryTokenCache", "SharedTokenCache", "StoreTokenCache", "TokenCache", "TokenManager", "expiry_from"]

def expiry_from(value: Any, now: float | None = None) -> float:
    """Flowize's ``expires_in`` is documented as "the timestamp in unix time when the access_token
    will expire" despite its name; accept a relative number of seconds too (decisions: "expires_in")."""
    now = time.time() if now is None else now
    try:
        number = float(value)
    except (TypeError, ValueError):
        return now + 3600.0
    return number if number > 1_000_000_000 else now + number


class TokenCache(Protocol):
    def get(self, key: str) -> StoredToken | None: ...
    def put(self, key: str, token: StoredToken) -> None: ...
    def delete(self, key: str) -> None: ...


@runtime_checkable
class SharedTokenCache(TokenCache, Protocol):
    """A cache many processes share, with a renewal lock they all respect."""

    def locked(self, key: str) -> AbstractContextManager[bool]: ...


class MemoryTokenCache:
    def __init__(self) -> None:
        self._tokens: dict[str, StoredToken] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> StoredToken | None:
        with self._lock:
            return self._tokens.get(key)

    def put(self, key: str, token: StoredToken) -> None:
        with self._lock:
            self._tokens[key] = token

    def delete(self, key: str) -> None:
        with self._lock:
            self._tokens.pop(key, None)


class _ClientLock:
    """One OAuth client's lock; weakly referenceable (a bare ``threading.Lock`` is not)."""

    __slots__ = ("__weakref__", "_lock")

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def __enter__(self) -> None:
        self._lock.acquire()

    def __exit__(self, *_exc: object) -> None:
        self._lock.release()


Fetch = Callable[[FlowizeCredentials], StoredToken]
Refresh = Callable[[FlowizeCredentials, str], StoredToken]


class TokenManager:
    """Hands out a valid access token per OAuth client; never fetches one per request."""

    def __init__(self, cache: TokenCache, fetch: Fetch, refresh: Refresh, *, base_url: str, margin: float = 60.0):
        self.cache = cache
        self._fetch = fetch
        self._refresh = refresh
        self._base_url = base_url
        self.margin = margin
        # Weak values: a client's lock lives while a thread holds or waits on it, then leaves the map.
        self._locks: weakref.WeakValueDictionary[str, _ClientLock] = weakref.WeakValueDictionary()
        self._guard = threading.Lock()
        self.fetches = 0  # how many times we asked the vendor: observable, and tested

    def key(self, creds: FlowizeCredentials) -> str:
        # The secret is part of the digest so a rotated secret gets a new token, but is never stored.
        raw = f"flowize|{self._base_url}|{creds.client_id}|{creds.client_secret}"
        return hashlib.sha256(raw.encode()).hexdigest()

    def _lock_for(self, key: str) -> _ClientLock:
        with self._guard:
            lock = self._locks.get(key)
            if lock is None:
                lock = self._locks[key] = _ClientLock()
            return lock

    @contextmanager
    def _held(self, key: str) -> Iterator[None]:
        """This process's lock of the client, then, if the cache is shared, every process's: the
        thread lock first, so a process asks the database for the shared lock once at a time."""
        with self._lock_for(key):
            shared = self.cache.locked(key) if isinstance(self.cache, SharedTokenCache) else nullcontext(False)
            with shared:
                yield

    def token(self, creds: FlowizeCredentials) -> str:
        key = self.key(creds)
        cached = self.cache.get(key)
        if cached and cached.fresh(self.margin):
            return cached.access_token
        with self._held(key):
            cached = self.cache.get(key)  # another thread or process may have renewed while we waited
            if cached and cached.fresh(self.margin):
                return cached.access_token
            token = self._renew(creds, cached)
            self.cache.put(key, token)
            return token.access_token

    def _renew(self, creds: FlowizeCredentials, cached: StoredToken | None) -> StoredToken:
        from gateway.errors import GatewayError

        self.fetches += 1
        if cached is not None and cached.refresh_token:
            try:
                return self._refresh(creds, cached.refresh_token)
            except GatewayError:
                pass  # refresh token refused or gone: start over with the client credentials
        return self._fetch(creds)

    def invalidate(self, creds: FlowizeCredentials, rejected_token: str) -> None:
        """The vendor refused ``rejected_token`` (401, or 403 with 436): forget it, keep its refresh token."""
        key = self.key(creds)
        with self._held(key):  # not between another process's read of the cache and its renewal
            cached = self.cache.get(key)
            if cached and cached.access_token == rejected_token:
                self.cache.put(key, StoredToken(cached.access_token, cached.refresh_token, 0.0))


class StoreTokenCache:
    """A TokenCache over the store: shared by every process using the same database, with the
    store's renewal lock (:meth:`gateway.store.TokenRepository.locked`)."""

    def __init__(self, repository: Any):
        self._repo = repository

    def get(self, key: str) -> StoredToken | None:
        return self._repo.get(key)

    def put(self, key: str, token: StoredToken) -> None:
        self._repo.put(key, token)

    def delete(self, key: str) -> None:
        self._repo.delete(key)

    def locked(self, key: str) -> AbstractContextManager[bool]:
        return self._repo.locked(key)

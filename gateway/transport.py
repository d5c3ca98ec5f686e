"""One HTTP exchange with a vendor: urllib3's pools underneath, a ``requests.Response`` on top.

The connectors speak ``requests`` (its Response, its CaseInsensitiveDict of headers, ``.json()``):
that stays the client API. What goes underneath is one ``urllib3`` call per attempt, because a
``requests.Session`` spends more CPU per call than the exchange itself: merging session and
environment settings, preparing the request (in requests 2.34, ``isinstance`` checks against
runtime-checkable Protocols that cost tens of microseconds each on Python 3.11), hooks, cookies,
redirect resolution — none of which a gateway's vendor call uses. Measured on loopback
(``benchmarks``): about 1 ms of CPU per call through a Session against 0.4 ms through urllib3.

What requests did that a vendor call does need is kept here: ``params`` encoded into the query
(None values left out, lists repeated), ``json=`` bodies, the proxies of ``HTTP(S)_PROXY`` /
``NO_PROXY`` and the CA bundle of ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE`` (else certifi's, as
requests uses), gzip/deflate answers decoded, no redirects followed, no ``~/.netrc``.
"""

from __future__ import annotations

import json as jsonlib
import os
import threading
import urllib.request
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

import certifi
import requests
import urllib3
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers

__all__ = ["Transport"]

DEFAULT_HEADERS = {"Accept": "*/*", "Accept-Encoding": "gzip, deflate"}


def _ca_bundle() -> str:
    return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or certifi.where()


class Transport:
    """Pooled connections per host (``pool_size`` each), direct or through the environment's proxy."""

    def __init__(self, *, pool_size: int, user_agent: str):
        self.pool_size = pool_size
        self.headers = {"User-Agent": user_agent, **DEFAULT_HEADERS}
        self._direct = urllib3.PoolManager(num_pools=32, maxsize=pool_size, block=False, ca_certs=_ca_bundle())
        self._proxied: dict[str, urllib3.ProxyManager] = {}
        self._route: dict[tuple[str, str], str | None] = {}   # (scheme, host) -> proxy URL or None
        self._lock = threading.Lock()

    def close(self) -> None:
        self._direct.clear()
        for manager in self._proxied.values():
            manager.clear()

    def _manager(self, scheme: str, netloc: str) -> urllib3.PoolManager:
        # The environment's proxy settings do not change while we run: looked up once per host.
        key = (scheme, netloc)
        if key not in self._route:
            host = netloc.rsplit("@", 1)[-1].split(":", 1)[0]
            proxy = urllib.request.getproxies().get(scheme)
            self._route[key] = None if not proxy or urllib.request.proxy_bypass(host) else proxy
        proxy = self._route[key]
        if proxy is None:
            return self._direct
        manager = self._proxied.get(proxy)
        if manager is None:
            with self._lock:
                manager = self._proxied.get(proxy)
                if manager is None:
                    manager = self._proxied[proxy] = urllib3.ProxyManager(
                        proxy, num_pools=32, maxsize=self.pool_size, block=False, ca_certs=_ca_bundle())
        return manager

    def request(self, method: str, url: str, *, headers: Mapping[str, str], params: Mapping[str, Any] | None,
                data: Any, json: Any, timeout: tuple[float, float]) -> requests.Response:
        """One attempt, no retry, no redirect. Raises urllib3's exceptions (see ``HttpClient``)."""
        if params:
            query = urlencode([(k, v) for k, v in params.items() if v is not None], doseq=True)
            if query:
                url = f"{url}{'&' if '?' in url else '?'}{query}"
        sent = {**self.headers, **headers}
        body: bytes | None
        if json is not None and data is None:
            body = jsonlib.dumps(json).encode()
            sent.setdefault("Content-Type", "application/json")
        elif isinstance(data, str):
            body = data.encode()
        elif isinstance(data, Mapping):
            body = urlencode(list(data.items()), doseq=True).encode()
            sent.setdefault("Content-Type", "application/x-www-form-urlencoded")
        else:
            body = data
        parts = urlsplit(url)
        raw = self._manager(parts.scheme, parts.netloc).urlopen(
            method, url, body=body, headers=sent, redirect=False, retries=False, preload_content=True,
            timeout=urllib3.Timeout(connect=timeout[0], read=timeout[1]))
        return _response(method, url, sent, raw)


def _response(method: str, url: str, headers: dict[str, str], raw: urllib3.BaseHTTPResponse) -> requests.Response:
    """The answer as a ``requests.Response``, as a Session would have built it (HTTPAdapter.build_response)."""
    response = requests.Response()
    response.status_code = raw.status
    response.headers = CaseInsensitiveDict(raw.headers)
    response.encoding = get_encoding_from_headers(response.headers)
    response.reason = raw.reason or ""
    response.url = url
    response._content = raw.data
    response._content_consumed = True
    request = requests.PreparedRequest()
    request.method, request.url, request.headers = method, url, CaseInsensitiveDict(headers)
    response.request = request
    return response

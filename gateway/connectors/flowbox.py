"""The Flowbox connector: flowbox-api.txt, "Flow API" > "Return a Flow" (``GET /public/feed/{flowKey}``).

Base URLs: production ``https://gateway.getflowbox.com``, the vendor's sandbox
``https://api.sandbox.flbx.io`` (both in this module), and by default the embedded loopback sandbox;
``GATEWAY_FLOWBOX_BASE_URL`` picks one. The doc: "Unencrypted HTTP is not supported", so a plain
``http://`` base URL for anything but loopback is refused when the connector is built, before any
network call. Redirects are never followed (a 301 to https would otherwise hide the misconfiguration).

Paging: every response carries a cursor; we pass it back as received (URL-encoded JSON) and never
build or edit one, so the server may change what is inside. :meth:`FlowboxConnector.iter_posts` is a
generator: it asks for the next page only when the caller has consumed the previous one. The feed
ends with an empty page, a missing cursor, or a cursor equal to the one sent.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import requests

from gateway.config import Settings, SettingsError
from gateway.connectors.common import body_message, json_or_none, segment, vendor_error
from gateway.errors import GatewayError, InvalidRequest, UpstreamError
from gateway.http import HttpClient

__all__ = [
    "DEFAULT_POSTS_PER_PAGE",
    "PRODUCTION_URL",
    "SANDBOX_URL",
    "FeedPage",
    "FlowboxConnector",
    "Post",
    "require_https",
]

PRODUCTION_URL = "https://gateway.getflowbox.com"
SANDBOX_URL = "https://api.sandbox.flbx.io"
DEFAULT_POSTS_PER_PAGE = 29


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def require_https(base_url: str, vendor: str, setting: str) -> str:
    """``base_url`` without its trailing slash, or SettingsError if it is plain HTTP to a real host."""
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingsError(f"{setting}: expected an http(s) URL for {vendor}, got {base_url!r}")
    if parts.scheme != "https" and not _is_loopback(parts.hostname):
        raise SettingsError(f"{setting}: {vendor} is only reachable over HTTPS; use https://{parts.netloc} "
                            f"(plain http is allowed for loopback sandboxes only)")
    return base_url.rstrip("/")


@dataclass(frozen=True)
class Post:
    key: str
    published_at: datetime
    type: str
    text: str
    author_name: str
    author_username: str
    media_url: str | None
    media_type: str | None
    link: str
    source: str
    likes: int | None
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Post:
        author = d.get("author") or {}
        media = d.get("media") or {}
        try:
            published = datetime.fromisoformat(str(d["publishedAt"]))
            return cls(str(d["key"]), published, d.get("type", ""), d.get("text", ""), author.get("name", ""),
                       author.get("username", ""), media.get("url"), media.get("mediaType"), d.get("link", ""),
                       d.get("source", ""), d.get("likes"), d)
        except (KeyError, ValueError, TypeError, AttributeError):
            raise UpstreamError("Flowbox sent a post without a usable key or publishedAt.") from None


@dataclass(frozen=True)
class FeedPage:
    posts: list[Post]
    cursor: Any  # opaque: whatever the server sent, handed back untouched


class FlowboxConnector:
    def __init__(self, http: HttpClient, base_url: str = PRODUCTION_URL):
        self.http = http
        self.base_url = require_https(base_url, "Flowbox", "GATEWAY_FLOWBOX_BASE_URL")

    @classmethod
    def from_settings(cls, http: HttpClient, settings: Settings) -> FlowboxConnector:
        return cls(http, settings.flowbox_base_url)

    def get_feed(self, flow_key: str, *, posts_per_page: int | None = None, cursor: Any = None) -> FeedPage:
        """One page: GET /public/feed/{flowKey}?postsPerPage=&cursor=<URL-encoded JSON>."""
        if not flow_key:
            raise InvalidRequest("A Flowbox flow key is required.")
        params: dict[str, Any] = {}
        if posts_per_page is not None:
            if isinstance(posts_per_page, bool) or not isinstance(posts_per_page, int) or posts_per_page < 1:
                raise InvalidRequest("postsPerPage must be a positive whole number.")
            params["postsPerPage"] = posts_per_page
        if cursor is not None:
            # requests URL-encodes the value once, which is exactly what the doc asks for.
            params["cursor"] = cursor if isinstance(cursor, str) else json.dumps(cursor, ensure_ascii=False,
                                                                                  separators=(",", ":"))
        url = f"{self.base_url}/public/feed/{segment(flow_key, 'The Flowbox flow key')}"
        response = self.http.send("GET", url, headers={"Accept": "application/json"}, params=params or None,
                                  vendor="flowbox")
        if response.status_code >= 300:
            raise _error(response)
        try:
            body = response.json()
        except ValueError:
            raise UpstreamError(f"Flowbox answered {response.status_code} without JSON.") from None
        if not isinstance(body, dict) or not isinstance(body.get("posts"), list):
            raise UpstreamError("Flowbox answered a feed without a posts list.")
        return FeedPage([Post.from_json(p) for p in body["posts"]], body.get("cursor"))

    def iter_pages(self, flow_key: str, *, posts_per_page: int | None = None) -> Iterator[FeedPage]:
        """Every non-empty page, fetched lazily: the next request happens on the next ``next()``."""
        cursor: Any = None
        while True:
            page = self.get_feed(flow_key, posts_per_page=posts_per_page, cursor=cursor)
            if not page.posts:
                return
            yield page
            if page.cursor is None or page.cursor == cursor:
                return
            cursor = page.cursor

    def iter_posts(self, flow_key: str, *, posts_per_page: int | None = None) -> Iterator[Post]:
        """Every post of the feed, newest first, one page in memory at a time."""
        for page in self.iter_pages(flow_key, posts_per_page=posts_per_page):
            yield from page.posts


def _error(response: requests.Response) -> GatewayError:
    """``{"statusCode": 400, "error": "Bad Request", "message": "..."}`` -> the exception tree."""
    status = response.status_code
    if 300 <= status < 400:
        location = urlsplit(response.headers.get("Location", ""))
        hint = " to https; set an https:// base URL" if location.scheme == "https" else ""
        return UpstreamError(f"Flowbox redirected ({status}){hint}; redirects are not followed.")
    return vendor_error("Flowbox", status, body_message(json_or_none(response)), response.headers)

"""FlowboxConnector over real HTTP against the sandbox: typed posts, lazy paging with an opaque cursor,
postsPerPage bounds, https enforcement for real hosts, redirects, and faults mapped to the tree."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
import requests
from support import add_fault

from gateway.config import Settings, SettingsError
from gateway.connectors.flowbox import PRODUCTION_URL, SANDBOX_URL, FlowboxConnector
from gateway.errors import (
    InvalidRequest,
    NotFound,
    RateLimited,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from gateway.http import HttpClient


class RecordingHttp(HttpClient):
    """The real client, noting every request the connector makes (and optionally adding headers)."""

    def __init__(self, *args, extra_headers: dict[str, str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.calls: list[dict] = []
        self.extra_headers = extra_headers or {}

    def send(self, method, url, **kwargs):
        self.calls.append({"method": method, "url": url, "params": dict(kwargs.get("params") or {})})
        kwargs["headers"] = {**(kwargs.get("headers") or {}), **self.extra_headers}
        return super().send(method, url, **kwargs)


SETTINGS = Settings(http_retries=1, http_backoff=0.01, http_connect_timeout=0.5, http_read_timeout=0.4,
                    http_max_retry_after=2.0)


@pytest.fixture
def http():
    client = RecordingHttp(SETTINGS)
    yield client
    client.close()


@pytest.fixture
def flowbox(http, sandbox_url):
    return FlowboxConnector(http, sandbox_url)



# -- one page ---------------------------------------------------------------------------------------
def test_get_feed_default_page_is_29_typed_posts(flowbox):
    page = flowbox.get_feed("demo-feed")
    assert len(page.posts) == 29
    post = page.posts[0]
    assert isinstance(post.published_at, datetime) and post.published_at.tzinfo is not None
    assert post.key and post.link and post.author_name
    assert page.cursor["key"] == page.posts[-1].key


def test_unknown_feed_is_not_found(flowbox):
    with pytest.raises(NotFound):
        flowbox.get_feed("no-such-feed")


def test_posts_per_page_bounds(flowbox, http):
    assert len(flowbox.get_feed("demo-feed", posts_per_page=100).posts) == 100
    calls = len(http.calls)
    for bad in (0, -3, True, "5"):
        with pytest.raises(InvalidRequest):
            flowbox.get_feed("demo-feed", posts_per_page=bad)
    assert len(http.calls) == calls  # refused before any request
    with pytest.raises(InvalidRequest, match="1 to 100"):  # the upper bound is the server's to set
        flowbox.get_feed("demo-feed", posts_per_page=101)


# -- paging ---------------------------------------------------------------------------------------------
def test_iter_posts_walks_the_whole_feed_once(flowbox, http):
    posts = list(flowbox.iter_posts("demo-feed"))
    assert len(posts) == 120 and len({p.key for p in posts}) == 120
    assert [p.published_at for p in posts] == sorted((p.published_at for p in posts), reverse=True)
    assert len(http.calls) == 6  # 29 + 29 + 29 + 29 + 4, then the empty page that ends the feed


def test_iter_posts_is_lazy(flowbox, http):
    posts = flowbox.iter_posts("demo-feed", posts_per_page=10)
    assert http.calls == []  # building the generator asks nothing
    next(posts)
    assert len(http.calls) == 1
    for _ in range(9):
        next(posts)
    assert len(http.calls) == 1  # the first page is still being consumed
    next(posts)
    assert len(http.calls) == 2


def test_next_page_is_fetched_only_when_reached(flowbox, sandbox_url):
    posts = flowbox.iter_posts("demo-feed", posts_per_page=5)
    first = [next(posts) for _ in range(3)]
    add_fault(sandbox_url, path="/public/feed/*", status=500)  # from now on every request fails
    first += [next(posts) for _ in range(2)]  # the rest of page one needs no request
    assert len(first) == 5
    with pytest.raises(UpstreamError, match="500"):
        next(posts)


def test_the_cursor_is_passed_back_exactly_as_received(flowbox, http):
    pages = flowbox.iter_pages("demo-feed", posts_per_page=7)
    first, second = next(pages), next(pages)
    sent = http.calls[1]["params"]["cursor"]
    assert json.loads(sent) == first.cursor and list(json.loads(sent)) == ["feedKey", "key", "publishedAt"]
    assert json.loads(sent)["publishedAt"] == first.posts[-1].raw["publishedAt"]  # seven digits, untouched
    assert second.posts[0].key != first.posts[-1].key


def test_a_cursor_string_is_sent_verbatim(flowbox, http):
    cursor = json.dumps(flowbox.get_feed("demo-feed", posts_per_page=2).cursor)
    page = flowbox.get_feed("demo-feed", posts_per_page=2, cursor=cursor)
    assert http.calls[-1]["params"]["cursor"] == cursor and len(page.posts) == 2


def test_empty_feed_yields_nothing_after_one_request(flowbox, http):
    assert list(flowbox.iter_posts("empty-feed")) == []
    assert len(http.calls) == 1


# -- https, redirects, base URLs --------------------------------------------------------------------------
@pytest.mark.parametrize("url", ["http://api.sandbox.flbx.io", "http://gateway.getflowbox.com",
                                 "http://192.168.1.20:8081", "gateway.getflowbox.com"])
def test_plain_http_to_a_real_host_is_refused_without_a_request(http, url):
    with pytest.raises(SettingsError, match="HTTPS|http"):
        FlowboxConnector(http, url)
    assert http.calls == []


@pytest.mark.parametrize("url", ["http://127.0.0.1:8081", "http://localhost:8081", "http://[::1]:8081",
                                 PRODUCTION_URL, SANDBOX_URL + "/"])
def test_https_and_loopback_base_urls_are_accepted(http, url):
    assert FlowboxConnector(http, url).base_url == url.rstrip("/")


def test_base_url_comes_from_settings_and_defaults(http):
    assert FlowboxConnector.from_settings(http, Settings()).base_url == "http://127.0.0.1:8081"
    assert FlowboxConnector.from_settings(http, Settings(flowbox_base_url=SANDBOX_URL)).base_url == SANDBOX_URL
    assert FlowboxConnector(http).base_url == PRODUCTION_URL


def test_a_redirect_to_https_is_reported_not_followed(sandbox_url):
    client = RecordingHttp(SETTINGS, extra_headers={"Host": "api.sandbox.flbx.io"})
    try:
        with pytest.raises(UpstreamError, match="redirected .*https"):
            FlowboxConnector(client, sandbox_url).get_feed("demo-feed")
        assert len(client.calls) == 1
    finally:
        client.close()


# -- faults -----------------------------------------------------------------------------------------------
def test_read_timeout_is_upstream_timeout(flowbox, sandbox_url):
    add_fault(sandbox_url, path="/public/feed/*", latency_ms=700)
    with pytest.raises(UpstreamTimeout):
        flowbox.get_feed("demo-feed")


def test_429_with_short_retry_after_is_retried(flowbox, sandbox_url):
    add_fault(sandbox_url, path="/public/feed/*", status=429, retry_after=0, times=1)
    assert len(flowbox.get_feed("demo-feed").posts) == 29


def test_429_with_long_retry_after_is_rate_limited(flowbox, sandbox_url):
    add_fault(sandbox_url, path="/public/feed/*", status=429, retry_after=30)
    with pytest.raises(RateLimited) as info:
        flowbox.get_feed("demo-feed")
    assert info.value.retry_after == 30


def test_sandbox_rate_limit_surfaces_as_rate_limited(flowbox, sandbox_url):
    requests.patch(sandbox_url + "/_sandbox/config", json={"rate_limit": 1, "rate_window": 60},
                   timeout=5).raise_for_status()
    flowbox.get_feed("demo-feed")
    with pytest.raises(RateLimited) as info:
        flowbox.get_feed("demo-feed")
    assert info.value.retry_after and info.value.retry_after > 2


def test_dropped_connection_is_retried_once_then_reported(flowbox, sandbox_url):
    add_fault(sandbox_url, path="/public/feed/*", drop=True, times=1)
    assert len(flowbox.get_feed("demo-feed").posts) == 29
    add_fault(sandbox_url, path="/public/feed/*", drop=True)
    with pytest.raises(UpstreamUnavailable):
        flowbox.get_feed("demo-feed")

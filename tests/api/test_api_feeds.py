"""``/api/feeds/<flowKey>`` over real HTTP in front of the Flowbox sandbox: pages under our own signed
cursor (the vendor's never shown), the whole feed as NDJSON in the vendor's order, and every vendor
failure as a problem, also for the stream as long as it has not started."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from api.conftest import DEMO, assert_problem
from support import add_fault, gateway_with

DEMO_POSTS = 120


def _vendor_feed(http, sandbox_url, flow_key="demo-feed") -> tuple[list[dict], list]:
    """Every post straight from the sandbox, in its order, and every cursor it handed out."""
    posts, cursors, cursor = [], [], None
    while True:
        params = {"postsPerPage": 100, **({"cursor": json.dumps(cursor)} if cursor else {})}
        body = http.get(sandbox_url + f"/public/feed/{flow_key}", params=params, timeout=15).json()
        if not body["posts"]:
            return posts, cursors
        posts += body["posts"]
        cursors.append(body["cursor"])
        cursor = body["cursor"]


def _all_pages(http, url, limit, headers=DEMO) -> tuple[list[dict], list[str], int]:
    posts, cursors, cursor, pages = [], [], None, 0
    while True:
        params = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        resp = http.get(url, params=params, headers=headers, timeout=15)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert set(body) == {"posts", "next_cursor"} and len(body["posts"]) <= limit
        posts += body["posts"]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return posts, cursors, pages
        cursors.append(cursor)


def _ndjson(resp) -> list[dict]:
    return [json.loads(line) for line in resp.text.splitlines() if line]


@pytest.fixture(scope="module")
def down_api(tmp_path_factory):
    """A gateway whose vendors are a closed port: every vendor call is refused."""
    server = gateway_with(tmp_path_factory.mktemp("down"), "http://127.0.0.1:9", http_retries=0)
    yield server.url + "/api"
    server.shutdown()


# -- one page ---------------------------------------------------------------------------------------
def test_a_page_with_the_demo_key(http, api_url):
    resp = http.get(api_url + "/feeds/demo-feed", headers=DEMO, timeout=15)
    assert resp.status_code == 200, resp.text
    assert resp.headers["Content-Type"] == "application/json"
    body = resp.json()
    assert len(body["posts"]) == 50 and body["next_cursor"]
    post = body["posts"][0]
    assert set(post) == {"key", "published_at", "type", "text", "author", "media", "link", "source", "likes"}
    assert set(post["author"]) == {"name", "username"}
    assert post["published_at"] == "2024-06-01T12:00:00.033000Z"
    with_media = [p for p in body["posts"] if p["type"] in ("image", "video")]
    assert with_media and all(set(p["media"]) == {"url", "type"} for p in with_media)
    assert all(p["media"] is None for p in body["posts"] if p["type"] == "text")
    assert {p["media"]["type"] for p in with_media} == {"image/jpeg", "video/mp4"}


def test_a_page_with_a_scoped_consumer_key_matches_the_vendor(http, api_url, sandbox_url, consumer_key):
    resp = http.get(api_url + "/feeds/demo-feed", params={"limit": 7},
                    headers={"Authorization": f"Bearer {consumer_key('feeds')}"}, timeout=15)
    assert resp.status_code == 200, resp.text
    vendor, _ = _vendor_feed(http, sandbox_url)
    assert [p["key"] for p in resp.json()["posts"]] == [p["key"] for p in vendor[:7]]
    assert [p["likes"] for p in resp.json()["posts"]] == [p["likes"] for p in vendor[:7]]


@pytest.mark.parametrize("limit", [29, 40, 100])
def test_paging_through_the_feed_gives_each_post_once_in_order(http, api_url, sandbox_url, limit):
    posts, cursors, pages = _all_pages(http, api_url + "/feeds/demo-feed", limit)
    vendor, vendor_cursors = _vendor_feed(http, sandbox_url)
    assert len(vendor) >= 100
    assert [p["key"] for p in posts] == [p["key"] for p in vendor]
    # A full last page cannot be told from a middle one: its cursor leads to one empty page.
    assert pages == -(-len(vendor) // limit) + (1 if len(vendor) % limit == 0 else 0)
    # The vendor's cursor never appears as is, neither as JSON nor URL-encoded, nor its post keys.
    for ours in cursors:
        for theirs in vendor_cursors:
            text = json.dumps(theirs)
            assert text not in ours and quote(text) not in ours and theirs["key"] not in ours


def test_the_empty_feed(http, api_url):
    body = http.get(api_url + "/feeds/empty-feed", headers=DEMO, timeout=15).json()
    assert body == {"posts": [], "next_cursor": None}
    resp = http.get(api_url + "/feeds/empty-feed", params={"all": "true"}, headers=DEMO, timeout=15)
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "application/x-ndjson" and resp.content == b""


def test_limits_and_cursors_that_are_refused(http, api_url):
    url = api_url + "/feeds/demo-feed"
    for limit in ("0", "101", "x"):
        assert_problem(http.get(url, params={"limit": limit}, headers=DEMO, timeout=15), 400, "invalid_limit")
    cursor = http.get(url, params={"limit": 5}, headers=DEMO, timeout=15).json()["next_cursor"]
    tampered = cursor[:-2] + ("AA" if not cursor.endswith("AA") else "BB")
    assert_problem(http.get(url, params={"cursor": tampered}, headers=DEMO, timeout=15), 400, "invalid_cursor")
    assert_problem(http.get(url, params={"cursor": "e30"}, headers=DEMO, timeout=15), 400, "invalid_cursor")
    # A genuine cursor of another feed, or of another kind of list, is refused too.
    assert_problem(http.get(api_url + "/feeds/empty-feed", params={"cursor": cursor}, headers=DEMO, timeout=15),
                   400, "invalid_cursor")
    sessions = http.get(api_url + "/events/sessions", params={"limit": 1}, headers=DEMO, timeout=15).json()
    assert_problem(http.get(url, params={"cursor": sessions["next_cursor"]}, headers=DEMO, timeout=15),
                   400, "invalid_cursor")
    assert_problem(http.get(url, params={"all": "maybe"}, headers=DEMO, timeout=15), 400, "invalid_parameter")


# -- the whole feed as NDJSON -----------------------------------------------------------------------
def test_all_streams_every_post_once_in_order_as_ndjson(http, api_url, sandbox_url, consumer_key):
    resp = http.get(api_url + "/feeds/demo-feed", params={"all": "true"},
                    headers={"X-Apikey": consumer_key("feeds")}, timeout=30)
    assert resp.status_code == 200, resp.text
    assert resp.headers["Content-Type"] == "application/x-ndjson"
    assert resp.text.endswith("\n") and "\n\n" not in resp.text
    posts = _ndjson(resp)
    vendor, _ = _vendor_feed(http, sandbox_url)
    assert len(posts) == len(vendor) == DEMO_POSTS
    assert [p["key"] for p in posts] == [p["key"] for p in vendor]
    page = http.get(api_url + "/feeds/demo-feed", params={"limit": 3}, headers=DEMO, timeout=15).json()["posts"]
    assert posts[:3] == page  # the same post shape in both


def test_all_is_streamed_chunk_by_chunk(http, api_url):
    with http.get(api_url + "/feeds/demo-feed", params={"all": "1"}, headers=DEMO, timeout=30, stream=True) as resp:
        assert resp.status_code == 200
        assert "Content-Length" not in resp.headers
        lines = [json.loads(line) for line in resp.iter_lines() if line]
    assert len(lines) == DEMO_POSTS and len({p["key"] for p in lines}) == DEMO_POSTS


def test_all_on_an_unknown_feed_or_a_failing_first_page_is_still_a_problem(http, api_url, sandbox_url):
    resp = http.get(api_url + "/feeds/no-such-feed", params={"all": "true"}, headers=DEMO, timeout=15)
    assert_problem(resp, 404, "not_found")
    add_fault(sandbox_url, path="/public/feed/*", drop=True)
    resp = http.get(api_url + "/feeds/demo-feed", params={"all": "true"}, headers=DEMO, timeout=15)
    assert_problem(resp, 503, "vendor_unavailable")


def test_a_failure_after_the_stream_started_ends_it_with_an_error_line(http, api_url, sandbox_url):
    # The first feed request is served (rule 1 matches it once, harmlessly), every later one dropped.
    add_fault(sandbox_url, path="/public/feed/*", latency_ms=1, times=1)
    add_fault(sandbox_url, path="/public/feed/*", drop=True)
    resp = http.get(api_url + "/feeds/demo-feed", params={"all": "true"}, headers=DEMO, timeout=30)
    assert resp.status_code == 200  # already sent when page two failed
    lines = _ndjson(resp)
    assert len(lines) == 101 and all("key" in p for p in lines[:100])
    assert set(lines[-1]) == {"error"}
    assert lines[-1]["error"]["code"] == "vendor_unavailable" and lines[-1]["error"]["status"] == 503


def test_all_with_the_vendor_rate_limit_on_the_first_page(http, api_url, sandbox_url):
    add_fault(sandbox_url, path="/public/feed/*", status=429, retry_after=30)
    resp = http.get(api_url + "/feeds/demo-feed", params={"all": "true"}, headers=DEMO, timeout=15)
    assert_problem(resp, 429, "rate_limited")
    assert resp.headers["Retry-After"] == "30"


# -- auth, unknown feeds, vendor failures -----------------------------------------------------------
@pytest.mark.parametrize("params", [{}, {"all": "true"}], ids=["page", "all"])
def test_the_feeds_scope_is_needed(http, api_url, consumer_key, params):
    url = api_url + "/feeds/demo-feed"
    assert_problem(http.get(url, params=params, timeout=15), 401, "unauthorized")
    assert_problem(http.get(url, params=params, headers={"X-Apikey": "not-a-key"}, timeout=15), 401, "unauthorized")
    assert_problem(http.get(url, params=params, headers={"X-Apikey": consumer_key("events,qr")}, timeout=15),
                   403, "forbidden")
    assert http.get(url, params=params, headers={"X-Apikey": consumer_key("admin")}, timeout=15).status_code == 200


def test_unknown_feed_is_a_404_problem(http, api_url):
    assert_problem(http.get(api_url + "/feeds/no-such-feed", headers=DEMO, timeout=15), 404, "not_found")


def test_vendor_rate_limit_is_a_429_problem_with_retry_after(http, api_url, sandbox_url):
    add_fault(sandbox_url, path="/public/feed/*", status=429, retry_after=30)
    resp = http.get(api_url + "/feeds/demo-feed", headers=DEMO, timeout=15)
    assert_problem(resp, 429, "rate_limited")
    assert resp.headers["Retry-After"] == "30"


def test_vendor_dropping_connections_is_a_503_problem(http, api_url, sandbox_url):
    add_fault(sandbox_url, path="/public/feed/*", drop=True)
    assert_problem(http.get(api_url + "/feeds/demo-feed", headers=DEMO, timeout=15), 503, "vendor_unavailable")


@pytest.mark.parametrize("params", [{}, {"all": "true"}], ids=["page", "all"])
def test_vendor_down_is_a_503_problem(http, down_api, params):
    resp = http.get(down_api + "/feeds/demo-feed", params=params, headers=DEMO, timeout=15)
    assert_problem(resp, 503, "vendor_unavailable")

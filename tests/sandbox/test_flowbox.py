"""Flowbox sandbox over real HTTP: GET /public/feed/{flowKey} of flowbox-api.txt, its paging cursor,
postsPerPage bounds, the error shape, the https redirect for the real hosts and the rate limit."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest

FEED = "/public/feed/demo-feed"
DOC_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}(Z|[+-]\d\d:\d\d)$")


def _when(post: dict) -> datetime:
    return datetime.fromisoformat(post["publishedAt"])


def _get(http, sandbox_url, path=FEED, headers=None, **params):
    return http.get(sandbox_url + path, params=params or None, headers=headers, timeout=5)


def _assert_error(resp, status: int) -> dict:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"statusCode", "error", "message"} and body["statusCode"] == status
    return body


def _all_pages(http, sandbox_url, size: int) -> tuple[list[dict], list[dict]]:
    pages, posts, cursor = [], [], None
    while True:
        params = {"postsPerPage": size, **({"cursor": json.dumps(cursor)} if cursor else {})}
        body = _get(http, sandbox_url, **params).json()
        pages.append(body)
        if not body["posts"]:
            return pages, posts
        posts += body["posts"]
        cursor = body["cursor"]


def test_default_page_has_29_posts_and_the_documented_cursor(http, sandbox_url):
    resp = _get(http, sandbox_url)
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("application/json")
    body = resp.json()
    assert body["postsPerPage"] == 29 and len(body["posts"]) == 29
    last = body["posts"][-1]
    assert body["cursor"] == {"feedKey": "demo-feed", "key": last["key"], "publishedAt": last["publishedAt"]}
    assert all(DOC_TIME.match(p["publishedAt"]) for p in body["posts"])


def test_paging_walks_all_120_posts_newest_first_once_each(http, sandbox_url):
    pages, posts = _all_pages(http, sandbox_url, 29)
    assert [len(p["posts"]) for p in pages] == [29, 29, 29, 29, 4, 0]
    assert len({p["key"] for p in posts}) == 120
    times = [_when(p) for p in posts]
    assert times == sorted(times, reverse=True)
    # The empty last page still carries a cursor ("available in all responses"): the one it was given.
    assert pages[-1]["cursor"] == pages[-2]["cursor"]


def test_posts_sharing_an_instant_are_split_by_key_across_pages(http, sandbox_url):
    first = _get(http, sandbox_url, postsPerPage=41).json()
    second = _get(http, sandbox_url, postsPerPage=5, cursor=json.dumps(first["cursor"])).json()
    instant = _when(first["posts"][-1])
    tied = [p for p in first["posts"] + second["posts"] if _when(p) == instant]
    assert len(tied) == 2 and tied[0]["key"] > tied[1]["key"]
    assert second["posts"][0] == tied[1]


@pytest.mark.parametrize("size", ["1", "100"])
def test_posts_per_page_bounds_are_accepted(http, sandbox_url, size):
    assert len(_get(http, sandbox_url, postsPerPage=size).json()["posts"]) == int(size)


@pytest.mark.parametrize("size", ["0", "101", "-1", "abc", "1.5", "", "²"])
def test_posts_per_page_out_of_bounds_is_400(http, sandbox_url, size):
    assert "postsPerPage" in _assert_error(_get(http, sandbox_url, postsPerPage=size), 400)["message"]


@pytest.mark.parametrize("cursor, words", [
    ("{nope", "URL-encoded JSON"),
    ("[]", "feedKey, key and publishedAt"),
    ('{"feedKey": "demo-feed", "key": "x"}', "feedKey, key and publishedAt"),
    ('{"feedKey": "other", "key": "x", "publishedAt": "2024-01-01T00:00:00Z"}', "another flow"),
    ('{"feedKey": "demo-feed", "key": "x", "publishedAt": "yesterday"}', "ISO 8601"),
    ("[" * 5000 + "]" * 5000, "URL-encoded JSON"),
])
def test_bad_cursors_are_400(http, sandbox_url, cursor, words):
    assert words in _assert_error(_get(http, sandbox_url, cursor=cursor), 400)["message"]


def test_a_rebuilt_cursor_with_a_reformatted_date_is_refused(http, sandbox_url):
    cursor = _get(http, sandbox_url).json()["cursor"]
    cursor["publishedAt"] = datetime.fromisoformat(cursor["publishedAt"]).isoformat()  # six digits, not seven
    assert "as received" in _assert_error(_get(http, sandbox_url, cursor=json.dumps(cursor)), 400)["message"]


def test_a_double_encoded_cursor_is_refused(http, sandbox_url):
    from urllib.parse import quote
    cursor = json.dumps(_get(http, sandbox_url).json()["cursor"])
    _assert_error(_get(http, sandbox_url, cursor=quote(cursor)), 400)


def test_a_cursor_for_a_post_no_longer_there_still_pages_by_date(http, sandbox_url):
    cursor = {"feedKey": "demo-feed", "key": "gone", "publishedAt": "2024-06-01T00:00:00.0000000Z"}
    posts = _get(http, sandbox_url, cursor=json.dumps(cursor)).json()["posts"]
    assert posts and all(_when(p) < datetime(2024, 6, 1, tzinfo=UTC) for p in posts)


def test_unknown_feed_is_404_and_empty_feed_has_no_cursor(http, sandbox_url):
    _assert_error(_get(http, sandbox_url, "/public/feed/no-such-feed"), 404)
    body = _get(http, sandbox_url, "/public/feed/empty-feed").json()
    assert body["posts"] == [] and body["cursor"] is None


def test_trailing_slash_as_in_the_filters_example_is_accepted(http, sandbox_url):
    assert len(_get(http, sandbox_url, FEED + "/", postsPerPage=15).json()["posts"]) == 15


def test_collection_without_key_and_other_methods(http, sandbox_url):
    _assert_error(_get(http, sandbox_url, "/public/feed"), 404)
    resp = http.post(sandbox_url + FEED, timeout=5)
    _assert_error(resp, 405)
    assert "GET" in resp.headers["Allow"]


@pytest.mark.parametrize("host", ["api.sandbox.flbx.io", "gateway.getflowbox.com"])
def test_plain_http_to_a_real_host_redirects_to_https(http, sandbox_url, host):
    resp = http.get(sandbox_url + FEED + "?postsPerPage=3", headers={"Host": host}, allow_redirects=False, timeout=5)
    assert resp.status_code == 301
    assert resp.headers["Location"] == f"https://{host}{FEED}?postsPerPage=3"


def test_injected_fault_uses_the_vendor_error_shape(http, sandbox_url):
    http.post(sandbox_url + "/_sandbox/faults", json={"path": "/public/*", "status": 502, "times": 1},
              timeout=5).raise_for_status()
    _assert_error(_get(http, sandbox_url), 502)


def test_rate_limit_gives_429_with_retry_after_and_no_ratelimit_headers(http, sandbox_url):
    http.patch(sandbox_url + "/_sandbox/config", json={"rate_limit": 1, "rate_window": 30}, timeout=5).raise_for_status()
    assert _get(http, sandbox_url).status_code == 200
    resp = _get(http, sandbox_url)
    _assert_error(resp, 429)
    assert 1 <= int(resp.headers["Retry-After"]) <= 30
    assert "X-RateLimit-Remaining" not in resp.headers

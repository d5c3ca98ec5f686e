"""The Flowbox sandbox: flowbox-api.txt, "Flow API" > "Return a Flow".

    GET /public/feed/<flowKey>?postsPerPage=29&cursor=<URL-encoded JSON>

A page of posts, newest first, and the cursor of its last post, ``{"feedKey", "key",
"publishedAt"}`` exactly as the doc draws it ("available in all responses"). Choices where the doc is
silent (docs/vendors.md):

* body ``{"flowKey", "postsPerPage", "posts": [...], "cursor": {...}}``; an empty page echoes the
  cursor it was given (``null`` for an empty feed asked without one): the end of the feed;
* ``postsPerPage`` 1..100 (the doc gives no maximum), anything else is a 400;
* the cursor must be one URL-encoding of a JSON object of this feed; a cursor whose ``key`` names a
  post of the feed must carry that post's ``publishedAt`` character for character (a client that
  re-formats the date is re-building the cursor instead of passing it back);
* errors ``{"statusCode": 404, "error": "Not Found", "message": "..."}`` ("conventional HTTP response
  codes", no body documented); unknown feeds are 404 ("you don't even have the right to know");
* "Rate limit ???": the sandbox rate limiter per client address, 429 with ``Retry-After``, no
  ``X-RateLimit-*`` headers (none documented);
* plain HTTP addressed to the real hosts (``Host: gateway.getflowbox.com`` or ``api.sandbox.flbx.io``)
  is redirected to https with a 301, as the doc says; loopback is served over plain HTTP.

Demo data: ``demo-feed`` (120 posts, two of them published at the same instant to exercise the
``key`` tie-break) and ``empty-feed``. ``publishedAt`` uses the doc's own format, seven fractional
digits and a ``+hh:mm`` or ``Z`` designator.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from flask import Blueprint, Flask, Response, jsonify, redirect, request
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

from gateway.sandbox.context import sandbox
from gateway.sandbox.state import SandboxDB

__all__ = ["DEFAULT_POSTS_PER_PAGE", "MAX_POSTS_PER_PAGE", "error_body", "http_error", "install", "owns", "seed"]

PREFIX = "/public/"
DEFAULT_POSTS_PER_PAGE = 29
MAX_POSTS_PER_PAGE = 100
MAX_CURSOR = 2048
REAL_HOSTS = ("gateway.getflowbox.com", "api.sandbox.flbx.io")
DEMO_POSTS = 120

bp = Blueprint("flowbox", __name__, url_prefix="/public")

DDL = """
CREATE TABLE IF NOT EXISTS fb_feeds (key TEXT PRIMARY KEY, company TEXT NOT NULL, name TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS fb_posts (feed_key TEXT NOT NULL REFERENCES fb_feeds(key), key TEXT NOT NULL,
    published_at TEXT NOT NULL, sort_us INTEGER NOT NULL, type TEXT NOT NULL, text TEXT NOT NULL,
    author_name TEXT NOT NULL, author_username TEXT NOT NULL, media_url TEXT, media_type TEXT,
    link TEXT NOT NULL, source TEXT NOT NULL, likes INTEGER NOT NULL, PRIMARY KEY (feed_key, key));
CREATE INDEX IF NOT EXISTS fb_posts_order ON fb_posts(feed_key, sort_us DESC, key DESC);
"""


class FlowboxError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        self.status, self.message, self.headers = status, message, headers or {}
        super().__init__(message)


def _body(status: int, message: str) -> dict[str, Any]:
    return {"statusCode": status, "error": HTTP_STATUS_CODES.get(status, "Error"), "message": message}


def _error_response(err: FlowboxError) -> Response:
    resp = jsonify(_body(err.status, err.message))
    resp.status_code = err.status
    resp.headers.update(err.headers)
    return resp


# -- the vendor-module interface of gateway/sandbox/app.py ----------------------------------------
def owns(path: str) -> bool:
    return path.startswith(PREFIX) or path == "/public"


def error_body(path: str, status: int) -> tuple[str, bytes]:
    return "application/json", json.dumps(_body(status, HTTP_STATUS_CODES.get(status, "Error") + ".")).encode()


def http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    message = {404: "Not found.", 405: f"The method {request.method} is not allowed here."}.get(status, exc.description)
    resp = _error_response(FlowboxError(status, message or "Error."))
    allow = exc.get_response().headers.get("Allow") if status == 405 else None
    if allow:
        resp.headers["Allow"] = allow
    return resp


def install(app: Flask) -> None:
    app.register_blueprint(bp)
    app.register_error_handler(FlowboxError, _error_response)

    @app.before_request
    def _guard():
        if not owns(request.path):
            return None
        host = request.host.split(":")[0].lower()
        if host in REAL_HOSTS and request.scheme == "http":
            return redirect("https://" + request.host + request.full_path.rstrip("?"), code=301)
        allowed, _remaining, reset = sandbox().rate_limiter.hit("flowbox:" + (request.remote_addr or ""))
        if not allowed:
            raise FlowboxError(429, "Too many requests, slow down.", {"Retry-After": str(max(reset, 1))})
        return None


# -- seed -----------------------------------------------------------------------------------------
_OFFSETS = (timezone(timedelta(hours=1)), UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5)))
_TEXTS = ("Sunset over the harbour #flow", 'Our new "Flow" mug, finally ☕', "Team day, Stockholm 🇸🇪",
          "Behind the scenes, part {n}", "Q&A: 5 tips, 3 tricks, 1 rule")


def flowbox_time(value: datetime) -> str:
    """The doc's example format: ``1970-01-01T23:25:10.0330000+01:00`` (seven fractional digits)."""
    text = value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond:06d}0"
    offset = value.utcoffset() or timedelta(0)
    if not offset:
        return text + "Z"
    sign, minutes = ("+" if offset >= timedelta(0) else "-"), abs(int(offset.total_seconds())) // 60
    return text + f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _micros(value: datetime) -> int:
    """Microseconds since the epoch, exactly (no float rounding): the sort key."""
    return (value - _EPOCH) // timedelta(microseconds=1)


def _post_row(feed: str, n: int, when: datetime) -> tuple:
    key = hashlib.sha256(f"{feed}/{n}".encode()).hexdigest()[:13]
    local = when.astimezone(_OFFSETS[n % len(_OFFSETS)])
    kind = ("image", "video", "text")[n % 3]
    media = {"image": ("image/jpeg", ".jpg"), "video": ("video/mp4", ".mp4")}.get(kind)
    return (feed, key, flowbox_time(local), _micros(when), kind,
            _TEXTS[n % len(_TEXTS)].format(n=n), ("Åsa Öberg", "Jon Doe", "Ming 明")[n % 3],
            ("asa.oberg", "jondoe", "ming")[n % 3],
            f"https://cdn.getflowbox.example/{feed}/{key}{media[1]}" if media else None,
            media[0] if media else None, f"https://instagram.example/p/{key}", ("instagram", "tiktok")[n % 2],
            (n * 37) % 500)


def seed(db: SandboxDB) -> None:
    db.executescript(DDL)
    if db.one("SELECT 1 FROM fb_feeds"):
        return
    newest = datetime(2024, 6, 1, 12, 0, 0, 33000, tzinfo=UTC)
    rows = []
    for n in range(DEMO_POSTS):
        step = 40 if n == 41 else n  # posts 40 and 41 share an instant: the cursor's key tells them apart
        when = newest - timedelta(minutes=37 * step, microseconds=1000 * (step % 7))
        rows.append(_post_row("demo-feed", n, when))
    with db.transaction() as conn:
        conn.executemany("INSERT INTO fb_feeds (key, company, name) VALUES (?, ?, ?)",
                         [("demo-feed", "Demo AB", "Demo feed"), ("empty-feed", "Demo AB", "Nothing yet")])
        conn.executemany("INSERT INTO fb_posts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)


# -- GET /public/feed/<flowKey> ---------------------------------------------------------------------
def _posts_per_page() -> int:
    raw = request.args.get("postsPerPage")
    if raw is None:
        return DEFAULT_POSTS_PER_PAGE
    raw = raw.strip()
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_POSTS_PER_PAGE:
        raise FlowboxError(400, f"postsPerPage must be a whole number from 1 to {MAX_POSTS_PER_PAGE}.")
    return int(raw)


def _parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError("no time zone designator")
    return parsed


def _cursor(flow_key: str) -> dict[str, str] | None:
    raw = request.args.get("cursor")
    if raw is None or raw == "":
        return None
    if len(raw) > MAX_CURSOR:  # a real cursor is ~150 characters; never parse a hostile one
        raise FlowboxError(400, "cursor must be the URL-encoded JSON object of a previous response.")
    try:
        cursor = json.loads(raw)
    except (ValueError, RecursionError):
        raise FlowboxError(400, "cursor must be the URL-encoded JSON object of a previous response.") from None
    if not isinstance(cursor, dict) or not all(isinstance(cursor.get(f), str) for f in ("feedKey", "key", "publishedAt")):
        raise FlowboxError(400, "cursor must be a JSON object with feedKey, key and publishedAt strings.")
    if cursor["feedKey"] != flow_key:
        raise FlowboxError(400, "cursor belongs to another flow.")
    try:
        _micros(_parse_time(cursor["publishedAt"]))
    except (ValueError, OverflowError):
        raise FlowboxError(400, "cursor publishedAt is not an ISO 8601 date and time.") from None
    post = sandbox().db.one("SELECT published_at FROM fb_posts WHERE feed_key = ? AND key = ?", (flow_key, cursor["key"]))
    if post is not None and post["published_at"] != cursor["publishedAt"]:
        raise FlowboxError(400, "cursor does not match the post it names; pass back the cursor as received.")
    return cursor


def _post_json(row) -> dict[str, Any]:
    return {"key": row["key"], "publishedAt": row["published_at"], "type": row["type"], "text": row["text"],
            "author": {"name": row["author_name"], "username": row["author_username"]},
            "media": {"url": row["media_url"], "mediaType": row["media_type"]} if row["media_url"] else None,
            "link": row["link"], "source": row["source"], "likes": row["likes"]}


@bp.get("/feed/<flow_key>", strict_slashes=False)
def feed(flow_key: str):
    db = sandbox().db
    if db.one("SELECT 1 FROM fb_feeds WHERE key = ?", (flow_key,)) is None:
        raise FlowboxError(404, "Not found.")
    size = _posts_per_page()
    cursor = _cursor(flow_key)
    if cursor is None:
        rows = db.all("SELECT * FROM fb_posts WHERE feed_key = ? ORDER BY sort_us DESC, key DESC LIMIT ?",
                      (flow_key, size))
    else:
        after = _micros(_parse_time(cursor["publishedAt"]))
        rows = db.all("SELECT * FROM fb_posts WHERE feed_key = ? AND (sort_us < ? OR (sort_us = ? AND key < ?)) "
                      "ORDER BY sort_us DESC, key DESC LIMIT ?", (flow_key, after, after, cursor["key"], size))
    next_cursor: dict[str, str] | None = cursor
    if rows:
        last = rows[-1]
        next_cursor = {"feedKey": flow_key, "key": last["key"], "publishedAt": last["published_at"]}
    return jsonify({"flowKey": flow_key, "postsPerPage": size, "posts": [_post_json(r) for r in rows],
                    "cursor": next_cursor})


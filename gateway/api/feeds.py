"""``/api/feeds/<flowKey>``: a Flowbox feed, a page at a time or all of it as NDJSON
(docs/api-events-feeds.md).

    GET /api/feeds/<flowKey>?limit=&cursor=   {"posts": [...], "next_cursor": "…" | null}
    GET /api/feeds/<flowKey>?all=true         application/x-ndjson, one post per line, every page

``limit`` is the vendor's ``postsPerPage`` (1..100). Our cursor wraps the vendor's, signed, together
with the flow key: the vendor's cursor is never shown as is, and a cursor of one feed is refused on
another. ``all=true`` streams through the operations' lazy iterator, a vendor page at a time; the first
page is fetched before the answer starts, so a 404 or 503 there is still a proper problem. A failure
on a later page cannot change the status any more: the stream then ends with one last line,
``{"error": <problem document>}``. Scope: ``feeds``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, current_app, request, stream_with_context

from gateway.api.auth import require_scope
from gateway.api.paging import page_args, page_body
from gateway.api.problems import problem_response
from gateway.api.wire import respond
from gateway.errors import InvalidRequest
from gateway.operations.feeds import MAX_POSTS_PER_PAGE, FeedsOperations, Post

__all__ = ["NDJSON", "bp", "post_json"]

bp = Blueprint("feeds", __name__, url_prefix="/feeds")

NDJSON = "application/x-ndjson"
_FLAGS = {"": False, "0": False, "false": False, "1": True, "true": True}


def _ops() -> FeedsOperations:
    return current_app.extensions["flowgate"].feeds


def _iso(value: datetime) -> str:
    # The vendor writes local offsets and seven fractional digits; we send UTC, microseconds, "Z".
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def post_json(post: Post) -> dict[str, Any]:
    media = {"url": post.media_url, "type": post.media_type} if post.media_url else None
    return {"key": post.key, "published_at": _iso(post.published_at), "type": post.type, "text": post.text,
            "author": {"name": post.author_name, "username": post.author_username}, "media": media,
            "link": post.link, "source": post.source, "likes": post.likes}


def _bad(message: str, code: str) -> InvalidRequest:
    err = InvalidRequest(message)
    err.problem_code = code
    return err


def _all() -> bool:
    value = request.args.get("all", "").strip().lower()
    if value not in _FLAGS:
        raise _bad("all must be true or false.", "invalid_parameter")
    return _FLAGS[value]


def _vendor_cursor(state: Any, flow_key: str) -> Any:
    """The vendor's cursor inside our (already verified) cursor state, if it was made for this feed."""
    if state is None:
        return None
    if not isinstance(state, dict) or state.get("f") != flow_key or state.get("c") is None:
        raise _bad("The cursor belongs to another feed; start again without it.", "invalid_cursor")
    return state["c"]


def _ndjson(posts: Iterator[Post]) -> Iterator[bytes]:
    lines: list[str] = []
    try:
        for post in posts:
            lines.append(json.dumps(post_json(post)))
            # Flush once per vendor page's worth: one write per page, not per post, and never more
            # than a page held here.
            if len(lines) >= MAX_POSTS_PER_PAGE:
                yield ("\n".join(lines) + "\n").encode()
                lines = []
    except Exception as exc:  # noqa: BLE001 - the status is sent: say it in the stream (problem table)
        if lines:
            yield ("\n".join(lines) + "\n").encode()
        problem = json.loads(problem_response(exc).get_data())
        yield (json.dumps({"error": problem}) + "\n").encode()
        return
    if lines:
        yield ("\n".join(lines) + "\n").encode()


@bp.get("/<flow_key>")
def get_feed(flow_key: str) -> Response:
    require_scope("feeds")
    if _all():
        posts = _ops().all_posts(flow_key)  # the first page is fetched here: its errors are problems
        return Response(stream_with_context(_ndjson(posts)), content_type=NDJSON,
                        headers={"Cache-Control": "no-store"})
    limit, state = page_args(maximum=MAX_POSTS_PER_PAGE)
    got = _ops().page(flow_key, limit, _vendor_cursor(state, flow_key))
    next_state = {"f": flow_key, "c": got.cursor} if got.cursor is not None else None
    return respond(page_body([post_json(p) for p in got.posts], next_state, key="posts"))

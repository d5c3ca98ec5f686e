"""Flowbox content feeds, protocol-neutral: what the facade calls.

Two ways through a feed. :meth:`FeedsOperations.page` is one vendor page (``limit`` is the vendor's
``postsPerPage``, 1..100) and the vendor's own cursor to continue from, which the front door wraps in
its signed cursor and never shows as is. :meth:`FeedsOperations.all_posts` is every post, lazily, one
vendor page in memory at a time; it fetches the first page before it returns, so an unknown feed or
an unreachable vendor is still an exception the caller can answer with a proper status, before a
streamed answer has started.

End of feed: the vendor always sends a cursor (that of the page's last post), so a page shorter than
asked, a missing cursor or the cursor we sent are the end; a full last page cannot be told apart from
a middle one, so its cursor leads to one empty page (docs/api-events-feeds.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

# Post is re-exported: the front door names it without a connector import.
from gateway.connectors.flowbox import FlowboxConnector, Post

__all__ = ["MAX_POSTS_PER_PAGE", "FeedSlice", "FeedsOperations", "Post"]

#: The vendor's largest page (the doc gives none; the sandbox's limit, docs/vendors.md).
MAX_POSTS_PER_PAGE = 100


@dataclass(frozen=True)
class FeedSlice:
    posts: list[Post]
    cursor: Any  # the vendor's cursor for the next page, untouched; None at the end of the feed


class FeedsOperations:
    def __init__(self, connector: FlowboxConnector):
        self.connector = connector

    def page(self, flow_key: str, limit: int, cursor: Any = None) -> FeedSlice:
        """Up to ``limit`` posts, newest first, from where the vendor's ``cursor`` points (None: the top)."""
        got = self.connector.get_feed(flow_key, posts_per_page=limit, cursor=cursor)
        more = len(got.posts) >= limit and got.cursor is not None and got.cursor != cursor
        return FeedSlice(got.posts, got.cursor if more else None)

    def all_posts(self, flow_key: str) -> Iterator[Post]:
        """Every post of the feed, newest first, through the connector's lazy ``iter_posts``.

        The first page is fetched now (its errors raise here); the rest on demand, one page at a time.
        """
        posts = self.connector.iter_posts(flow_key, posts_per_page=MAX_POSTS_PER_PAGE)
        first = next(posts, None)

        def rest() -> Iterator[Post]:
            if first is None:
                return
            yield first
            yield from posts

        return rest()

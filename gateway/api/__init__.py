"""The unified facade: one REST API over all five vendors, under ``/api/`` (docs/api.md).

One auth (consumer keys with scopes, :mod:`.auth`), one error shape (problem+json, :mod:`.problems`),
one list shape (:mod:`.paging`), one job model. Each resource module parses the request, calls the
protocol-neutral operations (``gateway/operations``) and renders; none imports a connector.

``install(app, services)`` registers the blueprint and its hooks: every ``/api/`` request but the
index is authenticated and counted against the consumer's rate limit; ``X-RateLimit-*`` headers go
on every answer, errors included.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, Flask, Response, current_app, g, request

from gateway.errors import RateLimited
from gateway.rest.limits import RestRateLimiter
from gateway.services import Services
from gateway.store.consumers import ConsumerRepository

__all__ = ["PREFIX", "ApiContext", "install", "is_api_path"]

PREFIX = "/api"


@dataclass
class ApiContext:
    consumers: ConsumerRepository
    limiter: RestRateLimiter


def is_api_path(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


def _context() -> ApiContext:
    return current_app.extensions["flowgate.api"]


def _before() -> None:
    from gateway.api.auth import authenticate

    if request.endpoint == "api.index.index":
        return
    ctx = _context()
    who = authenticate(ctx.consumers)
    g.api_caller = who
    window = ctx.limiter.hit(who.identity, who.rate_limit, count=request.method != "OPTIONS")
    g.api_window = window
    if window is not None and not window.allowed:
        raise RateLimited("This consumer's rate limit is spent.", retry_after=max(1, window.reset))


def _rate_headers(resp: Response) -> Response:
    window = g.get("api_window")
    if window is not None:
        resp.headers.update(window.headers())
    return resp


def install(app: Flask, services: Services) -> ApiContext:
    from gateway.api import events, feeds, index, outbox, qr, qr_jobs, records

    ctx = ApiContext(consumers=services.consumers,
                     limiter=RestRateLimiter(services.settings.rest_rate_limit_storage))
    app.extensions["flowgate.api"] = ctx
    bp = Blueprint("api", __name__, url_prefix=PREFIX)
    bp.before_request(_before)
    bp.after_request(_rate_headers)
    for module in (index, qr, qr_jobs, records, events, feeds, outbox):
        bp.register_blueprint(module.bp)
    app.register_blueprint(bp)
    return ctx

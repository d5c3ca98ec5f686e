"""The REST front door: the Flowize REST surface under ``/v1/`` (docs/rest.md).

``install(app, services)`` registers, on the gateway's Flask app:

* the hooks every ``/v1/...`` request goes through, in this order: the global IP allowlist
  (403/437), who the caller is (``auth``), the per-consumer rate limit (``limits``); and the
  ``X-RateLimit-*`` headers on every ``/v1/`` response, errors included;
* the blueprints (``flowize``, ``flowize_data``, ``flowize_environments``), which parse, call the
  shared operations and render (``negotiation``);
* the error table (``errors``), which the app renders for every path outside /api/.

``/v1/soap`` is a separate WSGI app mounted in front (DispatcherMiddleware), so no rule here can
shadow it.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, Response, current_app, g, request

from gateway.errors import RateLimited
from gateway.rest import flowize, flowize_data, flowize_environments
from gateway.rest.auth import ip_forbidden, resolve_caller
from gateway.rest.limits import RestRateLimiter
from gateway.services import Services
from gateway.store.consumers import ConsumerRepository, ip_allowed, parse_allowlist

__all__ = ["PREFIX", "RestContext", "install"]

PREFIX = "/v1"
MAX_BODY_BYTES = 10 * 1024 * 1024  # REST bodies are records and keystore values, not uploads of note


@dataclass
class RestContext:
    consumers: ConsumerRepository
    limiter: RestRateLimiter
    ip_allowlist: tuple[str, ...]


def _ours(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


def _before() -> None:
    if not _ours(request.path):
        return
    ctx: RestContext = current_app.extensions["flowgate.rest"]
    settings = current_app.extensions["flowgate"].settings
    if not ip_allowed(request.remote_addr or "", ctx.ip_allowlist):
        raise ip_forbidden()
    caller = resolve_caller(settings.rest_rate_limit)
    g.rest_caller = caller
    window = ctx.limiter.hit(caller.identity, caller.rate_limit, count=request.method != "OPTIONS")
    g.rest_window = window
    if window is not None and not window.allowed:
        raise RateLimited("Too many requests.", retry_after=max(1, window.reset))


def _rate_headers(resp: Response) -> Response:
    window = g.get("rest_window")
    if window is not None:
        resp.headers.update(window.headers())
    return resp


def install(app: Flask, services: Services) -> RestContext:
    settings = services.settings
    ctx = RestContext(consumers=services.consumers,
                      limiter=RestRateLimiter(settings.rest_rate_limit_storage),
                      ip_allowlist=parse_allowlist(settings.rest_ip_allowlist))
    app.extensions["flowgate.rest"] = ctx
    if app.config.get("MAX_CONTENT_LENGTH") is None:
        app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.before_request(_before)
    app.after_request(_rate_headers)
    for bp in (flowize.bp, flowize_data.bp, flowize_environments.bp):
        app.register_blueprint(bp)
    return ctx

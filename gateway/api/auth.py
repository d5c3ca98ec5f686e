"""Who is calling the facade, and what they may reach.

One credential, two spellings: ``X-Apikey: <consumer key>`` or ``Authorization: Bearer <consumer
key>``. Keys come from ``flowgate consumer add`` (stored as a sha256) and carry scopes: ``records``,
``qr``, ``events``, ``feeds``, ``admin``. In embedded mode ``GATEWAY_API_DEMO_KEY`` (``demo-api-key``)
is a consumer with every scope, so ``make run`` works out of the box; outside embedded mode it
does not exist. The vendors' credentials are held by the gateway and never reach the consumer.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from flask import current_app, g, request

from gateway.errors import AuthError, Forbidden
from gateway.flowize_wire import bearer_token
from gateway.observe import note
from gateway.store.consumers import SCOPES, Consumer, ConsumerRepository, ip_allowed

__all__ = ["ApiCaller", "authenticate", "caller", "require_scope"]

MISSING = "Send your Flowgate consumer key as X-Apikey or as Authorization: Bearer."
WRONG = "The consumer key is not valid."


@dataclass(frozen=True)
class ApiCaller:
    name: str
    scopes: frozenset[str]
    consumer: Consumer | None    # None: the embedded demo key
    rate_limit: str

    @property
    def identity(self) -> str:
        """Who this is for rate limits and job ownership (names are labels; ids never change)."""
        return f"api:{self.consumer.id}" if self.consumer is not None else "api:demo"


def _presented_key() -> str | None:
    token = bearer_token(request.headers)
    if token is not None:
        return token
    return request.headers.get("X-Apikey")


def authenticate(consumers: ConsumerRepository) -> ApiCaller:
    """The caller of this request, or AuthError (401) / Forbidden (403 for the IP allowlist)."""
    settings = current_app.extensions["flowgate"].settings
    key = _presented_key()
    if not key:
        raise AuthError(MISSING)
    demo = settings.api_demo_key
    if settings.embedded and demo and hmac.compare_digest(key.encode(), demo.encode()):
        note(consumer="demo")
        return ApiCaller("demo", frozenset(SCOPES), None, settings.api_rate_limit)
    consumer = consumers.by_key(key)
    if consumer is None:
        raise AuthError(WRONG)
    note(consumer=consumer.name)
    if not ip_allowed(request.remote_addr or "", consumer.ip_allowlist):
        raise Forbidden("Requests from this address are not allowed for this consumer.")
    return ApiCaller(consumer.name, frozenset(consumer.scopes), consumer, consumer.rate_limit or settings.api_rate_limit)


def caller() -> ApiCaller:
    found = g.get("api_caller")
    if found is None:  # pragma: no cover - the blueprint's hook always runs first
        raise AuthError(MISSING)
    return found


def require_scope(scope: str) -> ApiCaller:
    """The caller, if it holds ``scope`` (``admin`` holds every scope); else Forbidden (403)."""
    who = caller()
    if scope not in who.scopes and "admin" not in who.scopes:
        raise Forbidden(f"This consumer key lacks the {scope!r} scope.")
    return who

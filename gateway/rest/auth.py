"""Who is calling the REST front door, and with which Flowize credentials we call upstream.

The three documented request styles (flowize-api.txt "Authentication", "API Key authorization",
"URL authorization") plus the ``client_id``/``client_secret`` headers of the delete examples
(docs/flowize-decisions.md A5) are read the way the vendor reads them, first match wins:
``Authorization: Bearer`` (or ``Authentication:``, A4), ``X-Apikey`` + ``X-App``,
``api_key`` & ``app_key`` URL parameters, ``client_id`` + ``client_secret`` headers.

Two modes (docs/rest.md, "Credentials"):

* **pass-through** (default): what the consumer presented goes upstream in the same style; the
  vendor decides. The demo credentials work against the gateway as against the sandbox.
* **gateway-held** (``GATEWAY_REST_AUTH=gateway``, implied by ``GATEWAY_FLOWIZE_AUTH`` other than
  passthrough): the consumer presents its own Flowgate key, in any of the styles; it is looked up
  by its sha256 in the store, and the consumer's upstream credentials (or the settings' ones) are
  used. The consumer never sees them.

The decision is the one credential policy's (:class:`gateway.operations.credentials.CredentialPolicy`,
shared with the SOAP door); this module reads the request and keeps the caller for the rate limit.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from flask import current_app, g, request

from gateway.credentials import FlowizeCredentials
from gateway.errors import AuthError, InvalidRequest
from gateway.flowize_wire import bearer_token
from gateway.operations.credentials import (
    MISSING,
    WRONG,
    CredentialPolicy,
    Presented,
    ip_forbidden,
    pass_through,
)
from gateway.operations.flowize import FlowizeOperations, check_grant_type
from gateway.store.consumers import Consumer, ip_allowed

__all__ = [
    "MISSING",
    "Caller",
    "Presented",
    "gateway_mode",
    "gateway_token",
    "ip_forbidden",
    "presented",
    "resolve_caller",
    "upstream",
]

# In gateway-held mode a consumer key is long-lived (like Flowize's own API key); the OAuth calls
# hand it back as the token with this nominal lifetime (docs/rest.md, "OAuth in gateway-held mode").
GATEWAY_TOKEN_TTL = 365 * 24 * 3600


@dataclass(frozen=True)
class Caller:
    presented: Presented
    consumer: Consumer | None
    identity: str       # what rate limits count by
    rate_limit: str     # the limit that applies, `limits` syntax


def _bearer() -> str | None:
    return bearer_token(request.headers)


def presented() -> Presented:
    scopes = (request.headers.get("X-Scopes") or request.headers.get("scopes") or request.args.get("scopes")
              or "")
    token = _bearer()
    if token is not None:
        return Presented("bearer", token, scopes=scopes)
    if request.headers.get("X-Apikey") is not None:
        return Presented("apikey", request.headers.get("X-Apikey", ""), request.headers.get("X-App", ""),
                         scopes=scopes)
    if request.args.get("api_key") is not None:
        return Presented("url", request.args.get("api_key", ""), request.args.get("app_key", ""), scopes=scopes)
    if request.headers.get("client_id") is not None:
        return Presented("client", request.headers.get("client_secret", ""),
                         client_id=request.headers.get("client_id", ""), scopes=scopes)
    return Presented("none")


def _policy() -> CredentialPolicy:
    return current_app.extensions["flowgate"].credentials


def gateway_mode() -> bool:
    return _policy().gateway


def resolve_caller(default_limit: str) -> Caller:
    """Read the credentials; in gateway-held mode also find the consumer (None if the key is wrong)."""
    shown = presented()
    consumer = _policy().consumer(shown)
    if consumer is not None:
        return Caller(shown, consumer, f"consumer:{consumer.id}", consumer.rate_limit or default_limit)
    # Pass-through: count per credential presented. Gateway-held without a known key: per address,
    # so guessing keys with a new one each time does not get a fresh window each time.
    if shown.style != "none" and not gateway_mode():
        return Caller(shown, None, f"cred:{shown.digest()}", default_limit)
    return Caller(shown, None, f"ip:{request.remote_addr or ''}", default_limit)


def _caller() -> Caller:
    caller = g.get("rest_caller")
    if caller is None:  # the hook did not run (a test calling a view directly): resolve now
        caller = resolve_caller(current_app.extensions["flowgate"].settings.rest_rate_limit)
        g.rest_caller = caller
    return caller


def upstream(*, required: bool = True) -> tuple[FlowizeOperations, FlowizeCredentials | None]:
    """The operations to call and the upstream credentials to hand them, for this request: the one
    credential policy's decision, taken here once (the shared operations hold no credentials).

    Raises AuthError (401) when credentials are required and missing or wrong, Forbidden (403/437)
    when the consumer's IP allowlist does not hold the caller. ``required=False`` (webhooks, OPTIONS)
    gives None rather than an error when there is nothing to send."""
    ops: FlowizeOperations = current_app.extensions["flowgate"].flowize
    caller = _caller()
    if not gateway_mode():
        creds = pass_through(caller.presented)
        if creds is None and required:
            raise AuthError(MISSING)
        return ops, creds
    if not required and caller.consumer is None:
        return ops, None
    return ops, _policy().admit(caller.consumer, caller.presented, request.remote_addr or "")


def gateway_token(*, refresh: bool) -> dict[str, Any]:
    """checkauthentication / refreshtoken in gateway-held mode: ``client_id`` is the consumer's
    name, ``client_secret`` its key; the key itself is the bearer token (docs/rest.md)."""
    headers = request.headers
    client_id, secret = headers.get("client_id"), headers.get("client_secret")
    if not client_id or not secret:
        raise InvalidRequest("client_id and client_secret headers are required.")
    check_grant_type(headers.get("grant_type"))
    consumer = _caller().consumer
    if consumer is None or consumer.name != client_id:
        raise AuthError(WRONG)
    if refresh and headers.get("refresh_token") != secret:
        raise AuthError("The refresh token is not valid.")
    if not ip_allowed(request.remote_addr or "", consumer.ip_allowlist):
        raise ip_forbidden()
    expires = int(time.time()) + GATEWAY_TOKEN_TTL
    if refresh:
        return {"resource": {"access_token": secret, "expires_at": expires}, "message": "The token has been generated"}
    return {"resource": {"access_token": secret, "token_type": "bearer", "refresh_token": secret,
                         "expires_in": expires, "scopes": None}, "message": "The credentials are valid"}

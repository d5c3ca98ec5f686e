"""Flowize authentication: OAuth2 client credentials, the three request styles, IPs and scopes.

flowize-api.txt, "Authentication", "API Key authorization", "URL authorization", "OAuth 2.0":

* ``Authorization: Bearer <access_token>`` (the PHP example says ``Authentication:``; both work);
* ``X-Apikey`` + ``X-App`` headers;
* ``api_key`` & ``app_key`` URL parameters;
* ``client_id`` + ``client_secret`` headers, which the delete examples send instead of a token.

Unknown or expired tokens give 403 with internal code 436, an app whose IP allowlist does not hold
the caller gives 403 with 437, wrong keys give 401.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass

from flask import Blueprint, request

from gateway.flowize_wire import bearer_token
from gateway.sandbox.context import sandbox
from gateway.sandbox.flowize.wire import FlowizeError, request_ip, respond

bp = Blueprint("flowize_auth", __name__)

__all__ = ["Caller", "authenticate", "bp", "credential_key"]


@dataclass(frozen=True)
class Caller:
    customer_id: int
    app_key: str | None
    style: str  # bearer | headers | url | client


def _bearer() -> str | None:
    return bearer_token(request.headers)


def credential_key() -> str:
    """What rate limits count by: the credential presented, else the caller's address."""
    return (_bearer() or request.headers.get("X-Apikey") or request.args.get("api_key")
            or request.headers.get("client_id") or request_ip())


def _check_ip(app_row) -> None:
    allowed = json.loads(app_row["ip_allowlist"] or "[]")
    if allowed and request_ip() not in allowed:
        raise FlowizeError(403, "Ip not valid", code=437)


def _check_scopes(scopes: tuple[str, ...]) -> None:
    given = request.headers.get("X-Scopes") or request.headers.get("scopes") or request.args.get("scopes")
    if not given or not scopes:
        return
    asked = {s.strip() for s in given.replace(";", ",").replace(" ", ",").split(",") if s.strip()}
    if not asked & set(scopes):
        raise FlowizeError(401, f"The scopes do not grant this method (allowed: {', '.join(scopes)}).")


def authenticate(scopes: tuple[str, ...] = (), *, require_app: bool = True) -> Caller:
    """Identify the caller by whichever documented style it used; raise FlowizeError if none fits."""
    db = sandbox().db
    token = _bearer()
    if token is not None:
        row = db.one("SELECT * FROM fz_tokens WHERE access_token = ?", (token,))
        if row is None or row["expires_at"] <= time.time():
            raise FlowizeError(403, "Access token not valid", code=436)
        app = db.one("SELECT * FROM fz_apps WHERE app_key = ?", (row["app_key"],))
        _check_ip(app)
        _check_scopes(scopes)
        return Caller(row["customer_id"], row["app_key"], "bearer")

    if request.headers.get("X-Apikey") is not None:
        api_key, app_key, style = request.headers.get("X-Apikey"), request.headers.get("X-App"), "headers"
    elif request.args.get("api_key") is not None:
        api_key, app_key, style = request.args.get("api_key"), request.args.get("app_key"), "url"
    elif request.headers.get("client_id") is not None:
        return _client_credentials_caller(scopes)
    else:
        raise FlowizeError(401, "Missing credentials: send a Bearer token, X-Apikey and X-App, or api_key and app_key.")

    customer = db.one("SELECT * FROM fz_customers WHERE api_key = ?", (api_key,))
    if customer is None:
        raise FlowizeError(401, "The credentials are not correct.")
    if not app_key:
        if require_app:
            raise FlowizeError(401, "The application key (X-App or app_key) is missing.")
        _check_scopes(scopes)
        return Caller(customer["id"], None, style)
    app = db.one("SELECT * FROM fz_apps WHERE app_key = ? AND customer_id = ?", (app_key, customer["id"]))
    if app is None:
        raise FlowizeError(401, "The credentials are not correct.")
    _check_ip(app)
    _check_scopes(scopes)
    return Caller(customer["id"], app_key, style)


def _client_credentials_caller(scopes: tuple[str, ...]) -> Caller:
    app = _app_for_client()
    _check_ip(app)
    _check_scopes(scopes)
    return Caller(app["customer_id"], app["app_key"], "client")


def _app_for_client():
    client_id = request.headers.get("client_id")
    client_secret = request.headers.get("client_secret")
    if not client_id or not client_secret:
        raise FlowizeError(400, "client_id and client_secret headers are required.")
    app = sandbox().db.one("SELECT * FROM fz_apps WHERE client_id = ?", (client_id,))
    if app is None or not secrets.compare_digest(app["client_secret"] or "", client_secret):
        raise FlowizeError(401, "The credentials are not correct.")
    return app


def _require_grant() -> None:
    grant = request.headers.get("grant_type")
    if not grant:
        raise FlowizeError(400, "grant_type header is required.")
    if grant != "client_credentials":
        raise FlowizeError(400, "Flowize only allows the client_credentials grant type.")


@bp.route("/v1/checkauthentication", methods=["GET", "POST"])
def check_authentication():
    """GET /v1/checkauthentication: client_id, client_secret, grant_type as headers (underscores!)."""
    app = _app_for_client()
    _require_grant()
    _check_ip(app)
    db = sandbox().db
    access, refresh = secrets.token_hex(32), secrets.token_hex(32)
    expires_at = int(time.time()) + sandbox().token_ttl
    db.execute("INSERT INTO fz_tokens (access_token, refresh_token, app_key, customer_id, expires_at) "
               "VALUES (?, ?, ?, ?, ?)", (access, refresh, app["app_key"], app["customer_id"], expires_at))
    # ``expires_in`` holds the absolute unix expiry, as the doc's table says (decisions: "expires_in").
    return respond({"resource": {"access_token": access, "token_type": "bearer", "refresh_token": refresh,
                                 "expires_in": expires_at, "scopes": None},
                    "message": "The credentials are valid"})


@bp.route("/v1/refreshtoken", methods=["GET", "POST"])
def refresh_token():
    """GET /v1/refreshtoken: refresh_token + client credentials headers -> a new access token."""
    app = _app_for_client()
    _require_grant()
    refresh = request.headers.get("refresh_token")
    if not refresh:
        raise FlowizeError(400, "refresh_token header is required.")
    db = sandbox().db
    row = db.one("SELECT * FROM fz_tokens WHERE refresh_token = ? AND app_key = ?", (refresh, app["app_key"]))
    if row is None:
        raise FlowizeError(401, "The refresh token is not valid.")
    access = secrets.token_hex(32)
    expires_at = int(time.time()) + sandbox().token_ttl
    db.execute("INSERT INTO fz_tokens (access_token, refresh_token, app_key, customer_id, expires_at) "
               "VALUES (?, ?, ?, ?, ?)", (access, refresh, app["app_key"], app["customer_id"], expires_at))
    return respond({"resource": {"access_token": access, "expires_at": expires_at},
                    "message": "The token has been generated"})

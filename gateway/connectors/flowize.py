"""The Flowize connector: one method per row of the REST endpoint table of flowize-api.txt.

Every method takes the caller's :class:`FlowizeCredentials` first (pass-through mode hands the
consumer's own; gateway-held mode hands the ones from settings) and returns a
:class:`FlowizeResponse`; any vendor error is raised as the project's exception tree, here, once.

Values the doc sends as headers (``X-Flow``, ``X-Uuid``...) go as URL parameters instead when the
credentials are of the ``url`` style ("If we are using URL Communication we need to pass the
variables by GET").
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import requests

from gateway.connectors.common import path as vendor_path
from gateway.connectors.common import segment, vendor_error
from gateway.connectors.flowize_auth import (
    MemoryTokenCache,
    TokenCache,
    TokenManager,
    expiry_from,
)
from gateway.credentials import FlowizeCredentials
from gateway.errors import AuthError, GatewayError, InvalidRequest, UpstreamError
from gateway.http import HttpClient
from gateway.store.tokens import StoredToken

__all__ = ["FlowizeConnector", "FlowizeResponse"]

TOKEN_INVALID = 436


@dataclass
class FlowizeResponse:
    status: int
    body: Any
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def message(self) -> str:
        return self.body.get("message", "") if isinstance(self.body, dict) else ""

    @property
    def resource(self) -> Any:
        if isinstance(self.body, dict):
            return self.body.get("resource", self.body.get("data"))
        return self.body


class FlowizeConnector:
    def __init__(self, http: HttpClient, base_url: str, *, token_cache: TokenCache | None = None,
                 token_margin: float = 60.0):
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.tokens = TokenManager(token_cache or MemoryTokenCache(), self._fetch_token, self._refresh_token,
                                   base_url=self.base_url, margin=token_margin)

    # -- plumbing --------------------------------------------------------------------------------
    def _request(self, creds: FlowizeCredentials | None, method: str, path: str, *,
                 fields: Mapping[str, tuple[str, Any]] | None = None, headers: Mapping[str, str] | None = None,
                 params: Mapping[str, Any] | None = None, body: Any = None, raw: bytes | str | None = None,
                 content_type: str = "application/json", accept: str = "application/json",
                 retry: bool | None = None) -> FlowizeResponse:
        """``fields`` maps a header name to (URL parameter name, value); None values are left out."""
        out_headers = {"Content-Type": content_type, "Accept": accept, **(headers or {})}
        out_params = dict(params or {})
        in_url = creds is not None and creds.style == "url"
        fields = dict(fields or {})
        if creds is not None and creds.scopes and "X-Scopes" in fields:
            fields["X-Scopes"] = ("scopes", creds.scopes)  # the caller's scopes, enforced by the vendor
        for header, (param, value) in fields.items():
            if value is None:
                continue
            if in_url:
                out_params[param] = value
            else:
                out_headers[header] = _header_value(header, str(value))
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        token = self._apply_auth(creds, out_headers, out_params)
        _check_headers(out_headers)
        response = self.http.send(method, self.base_url + path, headers=out_headers, params=out_params or None,
                                  data=data, retry=retry, vendor="flowize")
        if token is not None and _token_refused(response):
            # The token expired early or was revoked: renew once, then resend.
            self.tokens.invalidate(creds, token)  # type: ignore[arg-type]
            self._apply_auth(creds, out_headers, out_params)
            response = self.http.send(method, self.base_url + path, headers=out_headers,
                                      params=out_params or None, data=data, retry=retry, vendor="flowize")
        return _parse(response)

    def _apply_auth(self, creds: FlowizeCredentials | None, headers: dict[str, str],
                    params: dict[str, Any]) -> str | None:
        if creds is None:
            return None
        if creds.style == "apikey":
            headers["X-Apikey"] = creds.api_key
            if creds.app_key:
                headers["X-App"] = creds.app_key
        elif creds.style == "url":
            params["api_key"] = creds.api_key
            if creds.app_key:
                params["app_key"] = creds.app_key
        elif creds.style == "bearer":
            headers["Authorization"] = f"Bearer {creds.access_token}"
        else:
            token = self.tokens.token(creds)
            headers["Authorization"] = f"Bearer {token}"
            return token
        return None

    # -- Authentication ---------------------------------------------------------------------------
    def check_authentication(self, client_id: str, client_secret: str) -> FlowizeResponse:
        """GET /v1/checkauthentication: client_id, client_secret, grant_type as underscore headers."""
        return self._request(None, "GET", "/v1/checkauthentication", headers={
            "client_id": client_id, "client_secret": client_secret, "grant_type": "client_credentials"})

    def refresh_token(self, client_id: str, client_secret: str, refresh_token: str) -> FlowizeResponse:
        """GET /v1/refreshtoken."""
        return self._request(None, "GET", "/v1/refreshtoken", headers={
            "client_id": client_id, "client_secret": client_secret, "refresh_token": refresh_token,
            "grant_type": "client_credentials"})

    def _fetch_token(self, creds: FlowizeCredentials) -> StoredToken:
        resource = _resource_dict(self.check_authentication(creds.client_id, creds.client_secret))
        return StoredToken(str(resource["access_token"]), resource.get("refresh_token"),
                           expiry_from(resource.get("expires_in")))

    def _refresh_token(self, creds: FlowizeCredentials, refresh: str) -> StoredToken:
        resource = _resource_dict(self.refresh_token(creds.client_id, creds.client_secret, refresh))
        return StoredToken(str(resource["access_token"]), resource.get("refresh_token") or refresh,
                           expiry_from(resource.get("expires_at", resource.get("expires_in"))))

    # -- Data Schema ------------------------------------------------------------------------------
    def insert_schema(self, creds: FlowizeCredentials, schema: str, data_record: str, url: str = "") -> FlowizeResponse:
        """POST /v1/schema (schema and data_record base64 encoded)."""
        return self._request(creds, "POST", "/v1/schema", fields=_scopes("schema"),
                             body={"schema": schema, "data_record": data_record, "url": url})

    def get_schema(self, creds: FlowizeCredentials) -> FlowizeResponse:
        return self._request(creds, "GET", "/v1/schema", fields=_scopes("schema.read"))

    def update_schema(self, creds: FlowizeCredentials, schema: str, data_record: str, url: str = "") -> FlowizeResponse:
        return self._request(creds, "PUT", "/v1/schema", fields=_scopes("schema"),
                             body={"schema": schema, "data_record": data_record, "url": url})

    def delete_schema(self, creds: FlowizeCredentials) -> FlowizeResponse:
        return self._request(creds, "DELETE", "/v1/schema", fields=_scopes("schema"))

    # -- Data Record ------------------------------------------------------------------------------
    def insert_record(self, creds: FlowizeCredentials, flow: str, data: Any, *, uuid: str | None = None,
                      execution_time: str | None = None, flow_id: str | None = None) -> FlowizeResponse:
        """POST /v1/record with X-Flow, X-Uuid, X-Executiontime; the payload is the record itself.

        With a uuid the POST may be retried: Flowize keeps one record per uuid and answers a second
        one 409, which the operations read as "made by an earlier attempt" (docs/outbox.md)."""
        return self._request(creds, "POST", "/v1/record", body=data, retry=True if uuid else None, fields={
            **_scopes("record"), "X-Flow": ("flow_name", flow or None), "X-Flow-Id": ("flow_id", flow_id or None),
            "X-Uuid": ("uuid", uuid or None), "X-Executiontime": ("executiontime", execution_time or None)})

    def get_record(self, creds: FlowizeCredentials, uuid: str) -> FlowizeResponse:
        return self._request(creds, "GET", "/v1/record", fields={**_scopes("record.read"), "X-Uuid": ("uuid", uuid)})

    def update_record(self, creds: FlowizeCredentials, uuid: str, data: Any) -> FlowizeResponse:
        return self._request(creds, "PUT", "/v1/record", body=data,
                             fields={**_scopes("record"), "X-Uuid": ("uuid", uuid)})

    def delete_record(self, creds: FlowizeCredentials, uuid: str) -> FlowizeResponse:
        return self._request(creds, "DELETE", "/v1/record", fields={**_scopes("record"), "X-Uuid": ("uuid", uuid)})

    def search_records(self, creds: FlowizeCredentials, **filters: Any) -> FlowizeResponse:
        """GET /v1/record/search; ``filters`` use the URL parameter names (uuid, flow_name, limit, ...)."""
        params = {k: v for k, v in filters.items() if v is not None}
        return self._request(creds, "GET", "/v1/record/search", params=params)

    def change_status(self, creds: FlowizeCredentials, action: str, uuids: list[str]) -> FlowizeResponse:
        """PUT /v1/record/changestatus; not retried: execute-queue runs the flow again."""
        return self._request(creds, "PUT", "/v1/record/changestatus", headers={"X-Queue-Status": action},
                             body=list(uuids), retry=False)

    def move_to_flow(self, creds: FlowizeCredentials, target_flow: str, uuids: list[str]) -> FlowizeResponse:
        return self._request(creds, "PUT", "/v1/record/movetoflow", headers={"X-MoveToFlow-Flow": target_flow},
                             body=list(uuids), retry=False)

    # -- Webhooks and flows -----------------------------------------------------------------------
    def webhook(self, uri: str, payload: bytes | str, content_type: str = "application/json") -> FlowizeResponse:
        """POST /v1/webhook/{uri}: no credentials, the uri is the secret."""
        return self._request(None, "POST", "/v1/webhook/" + segment(uri, "The webhook uri"), raw=payload,
                             content_type=content_type)

    def get_flow_diagram(self, creds: FlowizeCredentials, flow: str | None = None,
                         flow_id: str | None = None) -> FlowizeResponse:
        return self._request(creds, "GET", "/v1/flowdiagram", fields={
            **_scopes("flowdiagram.read"), "X-Flow": ("flow_name", flow or None),
            "X-Flow-Id": ("flow_id", flow_id or None)})

    def change_flow_status(self, creds: FlowizeCredentials, flow_id: str, status: str) -> FlowizeResponse:
        return self._request(creds, "PUT", "/v1/changeflowstatus", retry=False, fields={
            **_scopes("flowdiagram"), "X-Flow-Id": ("flow_id", flow_id), "X-Status": ("status", status)})

    # -- Keystore ---------------------------------------------------------------------------------
    def keystore_get(self, creds: FlowizeCredentials, keystore_id: str, key: str,
                     accept: str = "application/json") -> FlowizeResponse:
        return self._request(creds, "GET", _path("keystore", keystore_id, key), accept=accept)

    def keystore_insert(self, creds: FlowizeCredentials, keystore_id: str, key: str, data: Any,
                        *, raw_text: bool = False) -> FlowizeResponse:
        """POST /v1/keystore/{id}/{key}: insert only (an existing key is 409). See :meth:`keystore_put`."""
        return self._keystore_write(creds, "POST", keystore_id, key, data, raw_text)

    def keystore_put(self, creds: FlowizeCredentials, keystore_id: str, key: str, data: Any,
                     *, raw_text: bool = False) -> FlowizeResponse:
        """PUT /v1/keystore/{id}/{key}. ``raw_text``: ``data`` is the text of a RAW keystore, sent as
        text/plain so the vendor stores it verbatim rather than as a JSON string."""
        return self._keystore_write(creds, "PUT", keystore_id, key, data, raw_text)

    def _keystore_write(self, creds: FlowizeCredentials, method: str, keystore_id: str, key: str, data: Any,
                        raw_text: bool) -> FlowizeResponse:
        path = _path("keystore", keystore_id, key)
        if raw_text:
            return self._request(creds, method, path, raw=str(data).encode("utf-8"),
                                 content_type="text/plain; charset=utf-8")
        return self._request(creds, method, path, body=data)

    def keystore_delete(self, creds: FlowizeCredentials, keystore_id: str, key: str) -> FlowizeResponse:
        return self._request(creds, "DELETE", _path("keystore", keystore_id, key))

    def keystore_search(self, creds: FlowizeCredentials, keystore_id: str, query: Mapping[str, Any]) -> FlowizeResponse:
        # A read, though POST: safe to retry.
        return self._request(creds, "POST", _path("keystore", keystore_id), body=dict(query), retry=True)

    # -- Tables -----------------------------------------------------------------------------------
    def table_get(self, creds: FlowizeCredentials, table: str, row_id: int | str) -> FlowizeResponse:
        return self._request(creds, "GET", _path("tables", table, row_id))

    def table_insert(self, creds: FlowizeCredentials, table: str, row: Mapping[str, Any],
                     row_id: int | str | None = None) -> FlowizeResponse:
        """POST /v1/tables/{table_name}/ (a flat row), or the "alternative way": ``columns`` on
        /v1/tables/{table_name}/{id}, where the id becomes the row's id."""
        return self._request(creds, "POST", _table_path(table, row_id), body=dict(row))

    def table_update(self, creds: FlowizeCredentials, table: str, row_id: int | str | None,
                     update: Mapping[str, Any]) -> FlowizeResponse:
        """PUT /v1/tables/{table_name}/{id}; without an id, PUT /v1/tables/{table_name}/ and the body's
        ``where`` picks the rows."""
        return self._request(creds, "PUT", _table_path(table, row_id), body=dict(update))

    def table_delete(self, creds: FlowizeCredentials, table: str, row_id: int | str) -> FlowizeResponse:
        return self._request(creds, "DELETE", _path("tables", table, row_id))

    def table_search(self, creds: FlowizeCredentials, table: str, query: Mapping[str, Any]) -> FlowizeResponse:
        return self._request(creds, "POST", _path("tables", table, "search"), body=dict(query), retry=True)

    # -- Environments and options -------------------------------------------------------------------
    def environments(self, creds: FlowizeCredentials) -> FlowizeResponse:
        return self._request(creds, "GET", "/v1/environment")

    def environment(self, creds: FlowizeCredentials, env_id: int | str, action: str = "") -> FlowizeResponse:
        """GET /v1/environment/:id, or one of its read-only sub-resources: status, projects, urls."""
        return self._request(creds, "GET", _path("environment", env_id, *([action] if action else [])))

    def environment_create(self, creds: FlowizeCredentials, spec: Mapping[str, Any]) -> FlowizeResponse:
        return self._request(creds, "POST", "/v1/environment", body=dict(spec))

    def environment_update(self, creds: FlowizeCredentials, env_id: int | str, fields: Mapping[str, Any]) -> FlowizeResponse:
        return self._request(creds, "POST", _path("environment", env_id), body=dict(fields))

    def environment_action(self, creds: FlowizeCredentials, env_id: int | str, action: str,
                           body: Any = None) -> FlowizeResponse:
        """POST /v1/environment/:id/{upgrade,update-version,optimize}."""
        return self._request(creds, "POST", _path("environment", env_id, action), body=body)

    def environment_urls(self, creds: FlowizeCredentials, env_id: int | str, mappings: Any,
                         *, delete: bool = False) -> FlowizeResponse:
        """POST (add or update) or DELETE /v1/environment/:id/urls, with an array of url mappings."""
        return self._request(creds, "DELETE" if delete else "POST", _path("environment", env_id, "urls"),
                             body=mappings)

    def environment_delete(self, creds: FlowizeCredentials, env_id: int | str) -> FlowizeResponse:
        return self._request(creds, "DELETE", _path("environment", env_id))

    def environment_project(self, creds: FlowizeCredentials, env_id: int | str, project_id: int | str,
                            body: Mapping[str, Any] | None = None, *, delete: bool = False) -> FlowizeResponse:
        path = _path("environment", env_id, "project", project_id)
        return self._request(creds, "DELETE" if delete else "POST", path, body=None if delete else dict(body or {}))

    def options(self, creds: FlowizeCredentials | None = None) -> FlowizeResponse:
        return self._request(creds, "OPTIONS", "/v1/options")


_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


def _header_value(name: str, value: str) -> str:
    """Values the doc sends as headers must be sendable as one: no control characters, ISO-8859-1."""
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        raise InvalidRequest(f"{name} cannot be sent to Flowize: it has characters outside ISO-8859-1.") from None
    if _CONTROL_CHARACTERS.search(value):
        raise InvalidRequest(f"{name} cannot be sent to Flowize: it has control characters.")
    return value


def _check_headers(headers: Mapping[str, str]) -> None:
    """Every header we send, credentials included (a SOAP Apikey is any XML text), passes
    :func:`_header_value`: an unsendable value is InvalidRequest here, never a UnicodeEncodeError
    from deep inside http.client."""
    for name, value in headers.items():
        _header_value(name, value)


def _scopes(scope: str) -> dict[str, tuple[str, Any]]:
    return {"X-Scopes": ("scopes", scope)}


def _path(*parts: Any) -> str:
    return vendor_path("v1", *parts)


def _table_path(table: str, row_id: int | str | None) -> str:
    # Without an id the documented path ends in a slash (POST/PUT /v1/tables/{table_name}/): the vendor
    # answers the bare form with a redirect, not with the write.
    return _path("tables", table, row_id) if row_id is not None else _path("tables", table) + "/"


def _token_refused(response: requests.Response) -> bool:
    if response.status_code == 401:
        return True
    if response.status_code == 403:
        body = _json(response)
        return isinstance(body, dict) and isinstance(body.get("error"), dict) and \
            body["error"].get("code") == TOKEN_INVALID
    return False


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _parse(response: requests.Response) -> FlowizeResponse:
    ctype = response.headers.get("Content-Type", "")
    if response.status_code == 304 or not response.content:
        body: Any = None
    elif "json" in ctype:
        body = _json(response)
        if body is None:
            raise UpstreamError(f"Flowize answered {response.status_code} with malformed JSON.")
    else:
        body = response.text
    if response.status_code >= 400:
        raise _error(response.status_code, body, response.headers)
    return FlowizeResponse(response.status_code, body, response.headers)


def _error(status: int, body: Any, headers: Mapping[str, str]) -> GatewayError:
    """Flowize error body: ``{"resource": [], "error": {"code": 436, "message": "..."}}``."""
    code, message = status, None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        code = body["error"].get("code", status)
        message = body["error"].get("message")
    try:
        code = int(code)
    except (TypeError, ValueError):
        code = status
    return vendor_error("Flowize", status, message, headers, code=code)


def _resource_dict(response: FlowizeResponse) -> dict[str, Any]:
    resource = response.resource
    if not isinstance(resource, dict) or "access_token" not in resource:
        raise AuthError("Flowize did not return an access token.")
    return resource


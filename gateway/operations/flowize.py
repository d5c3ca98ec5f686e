"""Flowize actions, protocol-neutral: what the SOAP and REST front doors both call.

Each method takes plain Python values and the upstream credentials, and returns an :class:`Outcome`
or raises the project's exception tree. Which presented credentials become the upstream ones is the
one credential policy's decision (:mod:`gateway.operations.credentials`), which each front door asks
once per request; the operations the front doors share hold no credentials of their own. ``held``
is for callers without a policy (the facade's records, gateway/operations/records.py): it then
overrides whatever is handed in.

Writes (insertRecord, updateRecord, webhook) go through the store-and-forward outbox when it is on
for them (``outbox``, gateway/operations/outbox.py; docs/outbox.md): a write the vendor could not
take is queued and answered 202.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from uuid import uuid4

from gateway.connectors.flowize import FlowizeConnector, FlowizeResponse
from gateway.credentials import FlowizeCredentials
from gateway.errors import AuthError, Conflict, GatewayError, InvalidRequest, UpstreamError
from gateway.operations.outcome import Outcome

if TYPE_CHECKING:
    from gateway.operations.outbox import Outbox

__all__ = [
    "ENVIRONMENT_ACTIONS",
    "FLOW_STATUSES",
    "GRANT_TYPE",
    "QUEUE_ACTIONS",
    "FlowizeOperations",
    "check_grant_type",
    "created_from",
]

#: How a failed insert tells the caller what happened to the write (docs/outbox.md, "With the outbox off").
NOT_WRITTEN = "Nothing was written."
MAY_BE_WRITTEN = "The write may have been made, or may still be:"
GRANT_TYPE = "client_credentials"  # "Flowize only allows client credentials type"
ENVIRONMENT_ACTIONS = ("upgrade", "update-version", "optimize")
QUEUE_ACTIONS = ("pause-queue", "resume-queue", "execute-queue", "delete-from-queue", "resume-and-continue")
FLOW_STATUSES = ("public", "paused", "running", "inactive")


def created_from(found: FlowizeResponse | None, flow: str | None, uuid: str, data: Any = None) -> Outcome:
    """A 201 for a record whose insert's answer was lost: the insert answer's shape, from what
    GET /v1/record tells (it has no ``data_record_id``), or from what was sent when the read-back
    itself failed (``found`` None: the vendor's 409 for our own uuid already proved the write)."""
    resource = found.resource if found is not None and isinstance(found.resource, dict) else {}
    info = resource["info"] if isinstance(resource.get("info"), dict) else {}
    made = {"flow_id": info.get("flow_id"), **({"flow_name": flow} if flow else {}), "uuid": uuid,
            "data_record": resource.get("data_record", data)}
    message = "Data Record is created successfully"
    return Outcome(201, message, made, {"resource": made, "message": message})


def _required(**values: Any) -> None:
    # An empty list of record UUIDs is as missing as an empty string: the vendor would answer 400.
    missing = [name for name, value in values.items()
               if value is None or value == "" or (isinstance(value, (list, tuple)) and not value)]
    if missing:
        raise InvalidRequest(f"Missing required field(s): {', '.join(missing)}.")


class FlowizeOperations:
    def __init__(self, connector: FlowizeConnector, held: FlowizeCredentials | None = None,
                 outbox: Outbox | None = None):
        self.connector = connector
        self.held = held  # credentials that override the ones handed in; None: use those (see above)
        self.outbox = outbox  # store-and-forward of writes (docs/outbox.md); None: every write is live only

    def credentials(self, presented: FlowizeCredentials | None) -> FlowizeCredentials:
        if self.held is not None:
            return self.held
        if presented is None:
            raise AuthError("Missing credentials: send an access token, or the Apikey and Appkey.")
        return presented

    # -- authentication --------------------------------------------------------------------------
    def check_authentication(self, client_id: str, client_secret: str,
                             grant_type: str | None = GRANT_TYPE) -> Outcome:
        _required(client_id=client_id, client_secret=client_secret)
        check_grant_type(grant_type)
        return Outcome.of(self.connector.check_authentication(client_id, client_secret))

    def refresh_token(self, client_id: str, client_secret: str, refresh_token: str,
                      grant_type: str | None = GRANT_TYPE) -> Outcome:
        _required(client_id=client_id, client_secret=client_secret, refresh_token=refresh_token)
        check_grant_type(grant_type)
        return Outcome.of(self.connector.refresh_token(client_id, client_secret, refresh_token))

    # -- schema ----------------------------------------------------------------------------------
    def insert_schema(self, creds: FlowizeCredentials | None, schema: str, data_record: str, url: str = "") -> Outcome:
        _required(schema=schema, data_record=data_record)
        return Outcome.of(self.connector.insert_schema(self.credentials(creds), schema, data_record, url or ""))

    def get_schema(self, creds: FlowizeCredentials | None) -> Outcome:
        return Outcome.of(self.connector.get_schema(self.credentials(creds)))

    def update_schema(self, creds: FlowizeCredentials | None, schema: str, data_record: str, url: str = "") -> Outcome:
        _required(schema=schema, data_record=data_record)
        return Outcome.of(self.connector.update_schema(self.credentials(creds), schema, data_record, url or ""))

    def delete_schema(self, creds: FlowizeCredentials | None) -> Outcome:
        return Outcome.of(self.connector.delete_schema(self.credentials(creds)))

    # -- records ---------------------------------------------------------------------------------
    def insert_record(self, creds: FlowizeCredentials | None, data: Any, *, flow: str | None = None,
                      flow_id: str | None = None, uuid: str | None = None,
                      execution_time: str | None = None) -> Outcome:
        """Flowize: POST /v1/record (X-Flow / X-Flow-Id, X-Uuid, X-Executiontime).

        The record's uuid is chosen before the first attempt: the caller's, else a uuid4 of ours sent
        as X-Uuid. Every attempt — a retry, the outbox's delivery — carries the same one, and the vendor
        keeps one record per uuid, so a write whose answer was lost is never made twice. The answer's
        resource carries the uuid (docs/outbox.md, "Idempotency keys")."""
        if not flow and not flow_id:
            raise InvalidRequest("Missing required field(s): Flow (or FlowId).")
        _required(data=data)
        upstream = self.credentials(creds)
        generated = not uuid
        record_uuid = uuid or str(uuid4())

        def live() -> Outcome:
            return self._insert(upstream, data, flow, flow_id, record_uuid, execution_time, generated=generated)

        try:
            if self.outbox is None:
                return live()
            return self.outbox.insert(upstream, {"uuid": record_uuid, "generated_uuid": generated, "flow": flow,
                                                 "flow_id": flow_id, "data": data, "execution_time": execution_time},
                                      live)
        except UpstreamError as exc:
            return self._failed_insert(exc, upstream, record_uuid, flow, generated)

    def _failed_insert(self, exc: UpstreamError, creds: FlowizeCredentials, record_uuid: str, flow: str | None,
                       generated: bool) -> Outcome:
        """The insert failed (and was not queued): answer what is true. No attempt sent -> not
        written. Else look the uuid up: found -> it was written (answered as made, when the uuid is
        ours); not found -> it may still be: an attempt that timed out may yet be carried out by the
        vendor, even when a later one was answered with a 5xx. The caller is given the uuid to read
        it back or to resend it safely."""
        written: bool | None = False if exc.never_sent else None
        if written is None:
            try:
                found = self.connector.get_record(creds, record_uuid)
            except GatewayError:
                written = None
            else:
                if generated:
                    return created_from(found, flow, record_uuid)
                written = True
        if written is False:
            note = f"{NOT_WRITTEN} (Uuid {record_uuid})"
        elif written:
            note = f"A record with Uuid {record_uuid} exists at Flowize: read it back before sending again."
        else:
            note = (f"{MAY_BE_WRITTEN} the record's Uuid is {record_uuid}: read it back, or send the insert "
                    "again with this Uuid, to have it exactly once.")
        exc.message = f"{exc.message} {note}"
        exc.args = (exc.message,)
        raise exc

    def _insert(self, creds: FlowizeCredentials, data: Any, flow: str | None, flow_id: str | None, uuid: str,
                execution_time: str | None, *, generated: bool) -> Outcome:
        try:
            return Outcome.of(self.connector.insert_record(creds, flow or "", data, uuid=uuid,
                                                           execution_time=execution_time, flow_id=flow_id))
        except Conflict:
            if not generated:
                raise  # the caller's own Uuid is taken: theirs to resolve (docs/outbox.md)
            # Nobody else knows a uuid we have just made: an earlier attempt of this very call was
            # written and its answer lost. The write happened once; answer it as made.
            try:
                found: FlowizeResponse | None = self.connector.get_record(creds, uuid)
            except GatewayError:
                found = None  # the read-back failed, not the write: the 409 is proof enough
            return created_from(found, flow, uuid, data)

    def get_record(self, creds: FlowizeCredentials | None, uuid: str) -> Outcome:
        _required(uuid=uuid)
        return Outcome.of(self.connector.get_record(self.credentials(creds), uuid))

    def update_record(self, creds: FlowizeCredentials | None, uuid: str, data: Any) -> Outcome:
        """Flowize: PUT /v1/record (X-Uuid). Idempotent: the same data sent twice is one update."""
        _required(uuid=uuid, data=data)
        upstream = self.credentials(creds)

        def live() -> Outcome:
            return Outcome.of(self.connector.update_record(upstream, uuid, data))

        return live() if self.outbox is None else self.outbox.update(upstream, uuid, data, live)

    def delete_record(self, creds: FlowizeCredentials | None, uuid: str) -> Outcome:
        _required(uuid=uuid)
        return Outcome.of(self.connector.delete_record(self.credentials(creds), uuid))

    def search_records(self, creds: FlowizeCredentials | None, **filters: Any) -> Outcome:
        return Outcome.of(self.connector.search_records(self.credentials(creds), **filters))

    def change_queue_status(self, creds: FlowizeCredentials | None, action: str, uuids: list[str]) -> Outcome:
        if action not in QUEUE_ACTIONS:
            raise InvalidRequest(f"Queue status must be one of {', '.join(QUEUE_ACTIONS)}.")
        _required(uuids=uuids)
        return Outcome.of(self.connector.change_status(self.credentials(creds), action, uuids))

    def move_to_flow(self, creds: FlowizeCredentials | None, target_flow: str, uuids: list[str]) -> Outcome:
        _required(target_flow=target_flow, uuids=uuids)
        return Outcome.of(self.connector.move_to_flow(self.credentials(creds), target_flow, uuids))

    # -- webhooks and flows ------------------------------------------------------------------------
    def webhook(self, uri: str, payload: bytes | str, content_type: str = "application/json") -> Outcome:
        """Flowize: POST /v1/webhook/{uri}; no credentials, the uri is the secret."""
        _required(uri=uri, payload=payload)

        def live() -> Outcome:
            return Outcome.of(self.connector.webhook(uri, payload, content_type))

        if self.outbox is None:
            return live()
        body = payload if isinstance(payload, bytes) else payload.encode("utf-8")
        return self.outbox.webhook(uri, body, content_type, live)

    def get_flow_diagram(self, creds: FlowizeCredentials | None, flow: str | None = None,
                         flow_id: str | None = None) -> Outcome:
        if not flow and not flow_id:
            raise InvalidRequest("Missing required field(s): Flow (or FlowId).")
        return Outcome.of(self.connector.get_flow_diagram(self.credentials(creds), flow, flow_id))

    def change_flow_status(self, creds: FlowizeCredentials | None, flow_id: str, status: str) -> Outcome:
        _required(flow_id=flow_id, status=status)
        if status not in FLOW_STATUSES:
            raise InvalidRequest(f"Flow status must be one of {', '.join(FLOW_STATUSES)}.")
        return Outcome.of(self.connector.change_flow_status(self.credentials(creds), flow_id, status))

    # -- keystore and tables -------------------------------------------------------------------------
    def keystore_get(self, creds: FlowizeCredentials | None, keystore_id: str, key: str) -> Outcome:
        _required(keystore_id=keystore_id, key=key)
        return Outcome.of(self.connector.keystore_get(self.credentials(creds), keystore_id, key))

    def keystore_put(self, creds: FlowizeCredentials | None, keystore_id: str, key: str, data: Any,
                     *, only_new: bool = False, raw_text: bool = False) -> Outcome:
        """POST (``only_new``) or PUT /v1/keystore/{id}/{key}. ``raw_text``: ``data`` is the text of a
        RAW keystore, sent as text/plain so the vendor stores it verbatim, not as a JSON string."""
        _required(keystore_id=keystore_id, key=key)
        call = self.connector.keystore_insert if only_new else self.connector.keystore_put
        return Outcome.of(call(self.credentials(creds), keystore_id, key, data, raw_text=raw_text))

    def keystore_delete(self, creds: FlowizeCredentials | None, keystore_id: str, key: str) -> Outcome:
        _required(keystore_id=keystore_id, key=key)
        return Outcome.of(self.connector.keystore_delete(self.credentials(creds), keystore_id, key))

    def keystore_search(self, creds: FlowizeCredentials | None, keystore_id: str, query: Mapping[str, Any]) -> Outcome:
        _required(keystore_id=keystore_id)
        _object(query, "The search body must be a JSON object with select and where.")
        return Outcome.of(self.connector.keystore_search(self.credentials(creds), keystore_id, query))

    def table_search(self, creds: FlowizeCredentials | None, table: str, query: Mapping[str, Any]) -> Outcome:
        _required(table=table)
        _object(query, "The search body must be a JSON object.")
        return Outcome.of(self.connector.table_search(self.credentials(creds), table, query))

    def table_get(self, creds: FlowizeCredentials | None, table: str, row_id: int | str) -> Outcome:
        """Flowize "Tables": GET /v1/tables/{table_name}/{id}."""
        _required(table=table, row_id=row_id)
        return Outcome.of(self.connector.table_get(self.credentials(creds), table, row_id))

    def table_insert(self, creds: FlowizeCredentials | None, table: str, row: Mapping[str, Any],
                     row_id: int | str | None = None) -> Outcome:
        """POST /v1/tables/{table_name}/ (a flat row), or the "alternative way" with ``columns`` on
        /v1/tables/{table_name}/{id}, where the id becomes the row's id."""
        _required(table=table)
        _object(row, "The request body must be a JSON object.")
        return Outcome.of(self.connector.table_insert(self.credentials(creds), table, row, row_id))

    def table_update(self, creds: FlowizeCredentials | None, table: str, row_id: int | str | None,
                     update: Mapping[str, Any]) -> Outcome:
        """PUT /v1/tables/{table_name}/{id}; without an id the body's ``where`` picks the rows."""
        _required(table=table)
        _object(update, "The request body must be a JSON object.")
        return Outcome.of(self.connector.table_update(self.credentials(creds), table, row_id, update))

    def table_delete(self, creds: FlowizeCredentials | None, table: str, row_id: int | str) -> Outcome:
        _required(table=table, row_id=row_id)
        return Outcome.of(self.connector.table_delete(self.credentials(creds), table, row_id))

    # -- environments and options ------------------------------------------------------------------
    def environments(self, creds: FlowizeCredentials | None) -> Outcome:
        """Flowize "Environments": GET /v1/environment (the Organization API key)."""
        return Outcome.of(self.connector.environments(self.credentials(creds)))

    def environment(self, creds: FlowizeCredentials | None, env_id: int | str, part: str = "") -> Outcome:
        """GET /v1/environment/:id, or its read-only ``status``, ``projects`` or ``urls``."""
        if part not in ("", "status", "projects", "urls"):
            raise InvalidRequest(f"Unknown environment resource {part!r}.")
        return Outcome.of(self.connector.environment(self.credentials(creds), env_id, part))

    def environment_create(self, creds: FlowizeCredentials | None, spec: Mapping[str, Any]) -> Outcome:
        _object(spec, "The request body must be a JSON object.")
        return Outcome.of(self.connector.environment_create(self.credentials(creds), spec))

    def environment_update(self, creds: FlowizeCredentials | None, env_id: int | str,
                           fields: Mapping[str, Any]) -> Outcome:
        """POST /v1/environment/:id. The doc uploads multipart files; the vendor also takes a JSON
        object whose file fields hold the files' text, which is what front doors hand us."""
        _object(fields, "The request body must be a JSON object.")
        return Outcome.of(self.connector.environment_update(self.credentials(creds), env_id, fields))

    def environment_delete(self, creds: FlowizeCredentials | None, env_id: int | str) -> Outcome:
        return Outcome.of(self.connector.environment_delete(self.credentials(creds), env_id))

    def environment_action(self, creds: FlowizeCredentials | None, env_id: int | str, action: str,
                           body: Mapping[str, Any] | None = None) -> Outcome:
        """POST /v1/environment/:id/{upgrade,update-version,optimize}."""
        if action not in ENVIRONMENT_ACTIONS:
            raise InvalidRequest(f"Environment action must be one of {', '.join(ENVIRONMENT_ACTIONS)}.")
        if body is not None:
            _object(body, "The request body must be a JSON object.")
        return Outcome.of(self.connector.environment_action(self.credentials(creds), env_id, action,
                                                            dict(body) if body is not None else None))

    def environment_project(self, creds: FlowizeCredentials | None, env_id: int | str, project_id: int | str,
                            body: Mapping[str, Any] | None = None, *, delete: bool = False) -> Outcome:
        """POST (add/update) or DELETE /v1/environment/:id/project/:project_id."""
        if body is not None:
            _object(body, "The request body must be a JSON object.")
        return Outcome.of(self.connector.environment_project(self.credentials(creds), env_id, project_id, body,
                                                             delete=delete))

    def environment_urls(self, creds: FlowizeCredentials | None, env_id: int | str, mappings: Any,
                         *, delete: bool = False) -> Outcome:
        """POST (add/update) or DELETE /v1/environment/:id/urls with an array of url mappings."""
        if not isinstance(mappings, (list, dict)):
            raise InvalidRequest("The request body must be a non-empty JSON array of url mappings.")
        return Outcome.of(self.connector.environment_urls(self.credentials(creds), env_id, mappings, delete=delete))

    def options(self, creds: FlowizeCredentials | None = None) -> Outcome:
        """OPTIONS /v1/options: the list of methods; needs no credentials."""
        held_or_presented = self.held or creds
        return Outcome.of(self.connector.options(held_or_presented))


def check_grant_type(grant_type: str | None) -> None:
    """flowize-api.txt "Refresh Token": "Flowize only allows client credentials type"."""
    if not grant_type:
        raise InvalidRequest("grant_type header is required.")
    if grant_type != GRANT_TYPE:
        raise InvalidRequest("Flowize only allows the client_credentials grant type.")


def _object(value: Any, message: str) -> None:
    if not isinstance(value, Mapping):
        raise InvalidRequest(message)

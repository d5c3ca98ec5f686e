"""Flowize actions, protocol-neutral: what the SOAP and REST front doors both call.

Each method takes plain Python values and the credentials the caller presented, and returns an
:class:`Outcome` or raises the project's exception tree. Which credentials go upstream is decided
here, once: in pass-through mode the caller's own; in gateway-held mode the ones from settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from gateway.connectors.flowize import FlowizeConnector, FlowizeResponse
from gateway.connectors.flowize_auth import FlowizeCredentials
from gateway.errors import AuthError, InvalidRequest

__all__ = ["Outcome", "FlowizeOperations", "QUEUE_ACTIONS", "FLOW_STATUSES"]

QUEUE_ACTIONS = ("pause-queue", "resume-queue", "execute-queue", "delete-from-queue", "resume-and-continue")
FLOW_STATUSES = ("public", "paused", "running", "inactive")


@dataclass(frozen=True)
class Outcome:
    """What the vendor answered: HTTP status, message, the resource and the whole body."""

    status: int
    message: str
    resource: Any
    body: Any

    @classmethod
    def of(cls, response: FlowizeResponse) -> "Outcome":
        return cls(response.status, response.message, response.resource, response.body)


def _required(**values: Any) -> None:
    # An empty list of record UUIDs is as missing as an empty string: the vendor would answer 400.
    missing = [name for name, value in values.items()
               if value is None or value == "" or (isinstance(value, (list, tuple)) and not value)]
    if missing:
        raise InvalidRequest(f"Missing required field(s): {', '.join(missing)}.")


class FlowizeOperations:
    def __init__(self, connector: FlowizeConnector, held: FlowizeCredentials | None = None):
        self.connector = connector
        self.held = held  # gateway-held credentials; None means pass-through

    def credentials(self, presented: FlowizeCredentials | None) -> FlowizeCredentials:
        if self.held is not None:
            return self.held
        if presented is None:
            raise AuthError("Missing credentials: send an access token, or the Apikey and Appkey.")
        return presented

    # -- authentication --------------------------------------------------------------------------
    def check_authentication(self, client_id: str, client_secret: str) -> Outcome:
        _required(client_id=client_id, client_secret=client_secret)
        return Outcome.of(self.connector.check_authentication(client_id, client_secret))

    def refresh_token(self, client_id: str, client_secret: str, refresh_token: str) -> Outcome:
        _required(client_id=client_id, client_secret=client_secret, refresh_token=refresh_token)
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
        if not flow and not flow_id:
            raise InvalidRequest("Missing required field(s): Flow (or FlowId).")
        _required(data=data)
        return Outcome.of(self.connector.insert_record(self.credentials(creds), flow or "", data, uuid=uuid,
                                                       execution_time=execution_time, flow_id=flow_id))

    def get_record(self, creds: FlowizeCredentials | None, uuid: str) -> Outcome:
        _required(uuid=uuid)
        return Outcome.of(self.connector.get_record(self.credentials(creds), uuid))

    def update_record(self, creds: FlowizeCredentials | None, uuid: str, data: Any) -> Outcome:
        _required(uuid=uuid, data=data)
        return Outcome.of(self.connector.update_record(self.credentials(creds), uuid, data))

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
        _required(uri=uri, payload=payload)
        return Outcome.of(self.connector.webhook(uri, payload, content_type))

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
                     *, only_new: bool = False) -> Outcome:
        _required(keystore_id=keystore_id, key=key)
        call = self.connector.keystore_insert if only_new else self.connector.keystore_put
        return Outcome.of(call(self.credentials(creds), keystore_id, key, data))

    def keystore_delete(self, creds: FlowizeCredentials | None, keystore_id: str, key: str) -> Outcome:
        _required(keystore_id=keystore_id, key=key)
        return Outcome.of(self.connector.keystore_delete(self.credentials(creds), keystore_id, key))

    def keystore_search(self, creds: FlowizeCredentials | None, keystore_id: str, query: Mapping[str, Any]) -> Outcome:
        _required(keystore_id=keystore_id)
        return Outcome.of(self.connector.keystore_search(self.credentials(creds), keystore_id, query))

    def table_search(self, creds: FlowizeCredentials | None, table: str, query: Mapping[str, Any]) -> Outcome:
        _required(table=table)
        return Outcome.of(self.connector.table_search(self.credentials(creds), table, query))

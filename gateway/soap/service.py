"""The Flowize SOAP service: eleven operations, each a thin translation onto the shared operations.

Parsing and rendering only: credentials and values are read from the envelope, the protocol-neutral
:class:`~gateway.operations.flowize.FlowizeOperations` decide, and the vendor's answer is written
into the ``Response`` fields (``Id, Code, RequestIP, Resource, Message, Error``). What goes into
``Resource`` per operation follows the doc's examples (docs/soap-decisions.md, "Resource").
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from spyne import Fault, ServiceBase, rpc

from gateway.credentials import FlowizeCredentials
from gateway.errors import InvalidRequest
from gateway.operations.credentials import CredentialPolicy, Presented, pass_through
from gateway.operations.flowize import FlowizeOperations
from gateway.operations.outcome import Outcome
from gateway.safejson import loads as safe_loads
from gateway.soap.faults import SoapFault, fault_for
from gateway.soap.models import REQUEST_TYPES, Response, UnqualifiedResponse

__all__ = ["WEBHOOK_SAVED", "FlowizeService", "SoapCall", "SpyneFault"]

log = logging.getLogger("gateway.soap")

# The doc's webhook "Success Response": a Fault with code 201 and this text.
WEBHOOK_SAVED = "Webhook response has been saved successfully"


@dataclass(frozen=True)
class SoapCall:
    """What the front door knows about the request; it reaches the methods as ``ctx.udc``, Spyne's
    user-defined context (gateway/soap/protocol.py)."""

    operations: FlowizeOperations
    request_ip: str
    request_id: str
    access_token: str | None
    webhook_success_as_fault: bool = True
    credentials: CredentialPolicy | None = None  # None: pass-through only (no consumer keys)


class SpyneFault(Fault):
    """Carries our :class:`SoapFault` through Spyne to the protocol, which writes the doc's shape."""

    def __init__(self, soap_fault: SoapFault):
        super().__init__(faultcode=soap_fault.faultcode, faultstring=soap_fault.faultstring)
        self.soap_fault = soap_fault


def _call(ctx: Any) -> SoapCall:
    return ctx.udc


def _presented(call: SoapCall, auth: Any) -> Presented:
    """What the envelope presented: a token in the SOAP Header wins, else the AuthenticationObject's keys."""
    if call.access_token:
        return Presented("bearer", call.access_token)
    if auth is not None and (auth.Apikey or auth.Appkey):
        return Presented("apikey", auth.Apikey or "", auth.Appkey or "")
    return Presented("none")


def _credentials(call: SoapCall, auth: Any) -> FlowizeCredentials | None:
    """The upstream credentials for what the envelope presented, decided by the one credential
    policy: in gateway-held mode the Apikey or AccessToken is a Flowgate consumer key, and a wrong,
    revoked or missing one is the credentials fault (docs/soap-decisions.md, S5)."""
    presented = _presented(call, auth)
    if call.credentials is None:
        return pass_through(presented)
    return call.credentials.resolve(presented, call.request_ip)


def _decode_json(text: str | None, field: str) -> Any:
    """``Data`` "has to be in base64 encoding"; plain JSON text is accepted too (docs: "Data")."""
    if text is None or not text.strip():
        raise InvalidRequest(f"{field} is required (base64 encoded JSON).")
    raw = text.strip()
    try:
        decoded = base64.b64decode(raw, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        decoded = raw
    # The one safe JSON loader: depth cap, no NaN/Infinity (a Client fault, never a Server one).
    return safe_loads(decoded, invalid=f"{field} must be base64 encoded JSON.")


def _b64(value: Any) -> str:
    return base64.b64encode(json.dumps(value, separators=(",", ":")).encode()).decode()


def _text(value: Any) -> str:
    if value is None or value == "":
        return ""
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


# ``Id`` by ``Code``: the doc shows "created" for 201 and "ok" otherwise; a write queued in the outbox
# (202) is "accepted", not yet made (docs/soap-decisions.md S7, docs/outbox.md).
_IDS = {201: "created", 202: "accepted"}


def _result(call: SoapCall, outcome: Outcome, resource: str, message: str | None = None) -> Response:
    return Response(Id=_IDS.get(outcome.status, "ok"), Code=str(outcome.status), RequestIP=call.request_ip,
                    Resource=resource, Message=outcome.message if message is None else message, Error="null")


def _guard(method: Callable[..., Response]) -> Callable[..., Response]:
    """Every exception leaves as a fault from the one table; unexpected ones are logged."""

    @functools.wraps(method)
    def wrapper(ctx: Any, input_: Any) -> Response:
        call = _call(ctx)
        try:
            return method(ctx, call, input_)
        except SpyneFault:
            raise
        except Exception as exc:
            if not hasattr(exc, "status"):
                log.exception("SOAP %s failed (request id %s)", method.__name__, call.request_id)
            raise SpyneFault(fault_for(exc, call.request_id)) from None

    return wrapper


def _op(name: str) -> Callable[[Callable[..., Response]], Any]:
    return lambda f: rpc(REQUEST_TYPES[name].customize(sub_ns=""), _in_variable_names={"input_": "input"},
                         _returns=UnqualifiedResponse, _out_variable_name=f"{name}Result",
                         _body_style="wrapped", _operation_name=name)(_guard(f))


def _input(value: Any) -> Any:
    if value is None:
        raise InvalidRequest("The <input> element is required.")
    return value


class FlowizeService(ServiceBase):
    @_op("insertSchema")
    def insertSchema(ctx, call, input_):
        schema = input_ and input_.SchemaObject
        outcome = call.operations.insert_schema(_credentials(call, _input(input_).AuthenticationObject),
                                                schema and schema.Schema, schema and schema.DataRecord,
                                                (schema and schema.Url) or "")
        return _result(call, outcome, "")

    @_op("getSchema")
    def getSchema(ctx, call, input_):
        outcome = call.operations.get_schema(_credentials(call, _input(input_).AuthenticationObject))
        return _result(call, outcome, _text(outcome.resource))

    @_op("updateSchema")
    def updateSchema(ctx, call, input_):
        schema = input_ and input_.SchemaObject
        outcome = call.operations.update_schema(_credentials(call, _input(input_).AuthenticationObject),
                                                schema and schema.Schema, schema and schema.DataRecord,
                                                (schema and schema.Url) or "")
        return _result(call, outcome, _text(_decode_json(schema.Schema, "Schema")))

    @_op("deleteSchema")
    def deleteSchema(ctx, call, input_):
        outcome = call.operations.delete_schema(_credentials(call, _input(input_).AuthenticationObject))
        return _result(call, outcome, "")

    @_op("insertRecord")
    def insertRecord(ctx, call, input_):
        record = _input(input_).DataRecordObject
        flow = input_.FlowDiagramObject
        data = _decode_json(record and record.Data, "DataRecordObject/Data")
        outcome = call.operations.insert_record(
            _credentials(call, input_.AuthenticationObject), data, flow=flow and flow.Flow,
            flow_id=flow and flow.FlowId, uuid=record.Uuid or None, execution_time=record.ExecutionTime or None)
        resource = outcome.resource if isinstance(outcome.resource, dict) else {}
        message = outcome.message
        if not record.Uuid and resource.get("uuid") and str(resource["uuid"]) not in message:
            # The documented Response has no field for a uuid the gateway made (decision Q8): the
            # Message names it, so the client can read the record back or resend the insert with it.
            message = f"{message} (Uuid {resource['uuid']})"
        return _result(call, outcome, _b64(resource.get("data_record", data)), message)

    @_op("getRecord")
    def getRecord(ctx, call, input_):
        record = _input(input_).DataRecordObject
        outcome = call.operations.get_record(_credentials(call, input_.AuthenticationObject),
                                             record and record.Uuid)
        resource = outcome.resource if isinstance(outcome.resource, dict) else {}
        return _result(call, outcome, _text(resource.get("data_record")))

    @_op("updateRecord")
    def updateRecord(ctx, call, input_):
        record = _input(input_).DataRecordObject
        data = _decode_json(record and record.Data, "DataRecordObject/Data")
        outcome = call.operations.update_record(_credentials(call, input_.AuthenticationObject),
                                                record.Uuid, data)
        return _result(call, outcome, _b64(data))

    @_op("deleteRecord")
    def deleteRecord(ctx, call, input_):
        record = _input(input_).DataRecordObject
        outcome = call.operations.delete_record(_credentials(call, input_.AuthenticationObject),
                                                record and record.Uuid)
        return _result(call, outcome, "")

    @_op("webhook")
    def webhook(ctx, call, input_):
        payload = _input(input_).Payload or ""
        try:
            json.loads(payload)
            content_type = "application/json"
        except ValueError:
            content_type = "text/plain"
        outcome = call.operations.webhook(input_.Uri, payload, content_type)
        if call.webhook_success_as_fault and outcome.status != 202:
            # The vendor reports a stored webhook as a Fault with code 201 (docs/soap-decisions.md).
            raise SpyneFault(SoapFault("201", WEBHOOK_SAVED, call.request_id, 500, 201))
        # Queued in the outbox (202): not saved yet, so not the "saved" fault but a plain Response.
        return _result(call, outcome, _text(outcome.resource))

    @_op("getFlowDiagram")
    def getFlowDiagram(ctx, call, input_):
        flow = _input(input_).FlowDiagramObject
        outcome = call.operations.get_flow_diagram(_credentials(call, input_.AuthenticationObject),
                                                   flow and flow.Flow, flow and flow.FlowId)
        return _result(call, outcome, _text(outcome.resource))

    @_op("changeFlowStatus")
    def changeFlowStatus(ctx, call, input_):
        flow = _input(input_).FlowDiagramObject
        outcome = call.operations.change_flow_status(_credentials(call, input_.AuthenticationObject),
                                                     flow and flow.FlowId, flow and flow.Status)
        return _result(call, outcome, _text(outcome.resource))

"""Spyne types mirroring wsdl/flowize.wsdl, names and nesting exactly as the doc's example envelopes.

Every member is declared with ``sub_ns=""``: Spyne 2.14 writes a complex type's children in the
type's namespace by default, and stub-generating clients (JAX-WS, gSOAP, .NET) reading a schema with
``elementFormDefault="unqualified"`` would then see empty fields.
"""

from __future__ import annotations

from spyne import ComplexModel, Unicode

__all__ = ["REQUEST_TYPES", "Response"]

TNS = "Flowize"
_Str = Unicode(sub_ns="", min_occurs=0, nillable=True)


def _complex(name: str, fields: list[tuple[str, object]]) -> type[ComplexModel]:
    cls = type(name, (ComplexModel,), {"__namespace__": TNS, "_type_info": fields})
    return cls


def _unqualified(cls: type[ComplexModel]) -> type[ComplexModel]:
    return cls.customize(sub_ns="", min_occurs=0)


AuthenticationObject = _complex("AuthenticationObject", [("Apikey", _Str), ("Appkey", _Str), ("Version", _Str)])
SchemaObject = _complex("SchemaObject", [("Url", _Str), ("Schema", _Str), ("DataRecord", _Str)])
DataRecordObject = _complex("DataRecordObject", [("Uuid", _Str), ("ExecutionTime", _Str), ("Data", _Str)])
FlowDiagramObject = _complex("FlowDiagramObject", [("Flow", _Str), ("FlowId", _Str), ("Status", _Str)])


class Response(ComplexModel):
    """The result of every operation (the WSDL's ``tns:Response``)."""

    __namespace__ = TNS
    _type_info = [  # noqa: RUF012 - Spyne reads the declaration as a class attribute
        ("Id", _Str), ("Code", _Str), ("RequestIP", _Str), ("Resource", _Str), ("Message", _Str), ("Error", _Str)]



_AUTH = ("AuthenticationObject", _unqualified(AuthenticationObject))
_SCHEMA = ("SchemaObject", _unqualified(SchemaObject))
_RECORD = ("DataRecordObject", _unqualified(DataRecordObject))
_FLOW = ("FlowDiagramObject", _unqualified(FlowDiagramObject))

# operation -> its request type (the type of <input>), as named in the WSDL.
REQUEST_TYPES: dict[str, type[ComplexModel]] = {
    "insertSchema": _complex("InsertSchemaRequest", [_AUTH, _SCHEMA]),
    "getSchema": _complex("GetSchemaRequest", [_AUTH]),
    "updateSchema": _complex("UpdateSchemaRequest", [_AUTH, _SCHEMA]),
    "deleteSchema": _complex("DeleteSchemaRequest", [_AUTH]),
    "insertRecord": _complex("InsertRecordRequest", [_AUTH, _RECORD, _FLOW]),
    "getRecord": _complex("GetRecordRequest", [_AUTH, _RECORD]),
    "updateRecord": _complex("UpdateRecordRequest", [_AUTH, _RECORD, _FLOW]),
    "deleteRecord": _complex("DeleteRecordRequest", [_AUTH, _RECORD]),
    "webhook": _complex("WebhookRequest", [("Uri", _Str), ("Payload", _Str)]),
    "getFlowDiagram": _complex("GetFlowDiagramRequest", [_AUTH, _FLOW]),
    "changeFlowStatus": _complex("ChangeFlowDiagramStatusRequest", [_AUTH, _FLOW]),
}

UnqualifiedResponse = Response.customize(sub_ns="")

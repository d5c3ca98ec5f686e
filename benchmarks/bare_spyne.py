"""The bare Spyne anchor: Flowize's getRecord as a plain Spyne WSGI service, answered from memory.

What a SOAP front door costs when it is only Spyne: its ``WsgiApplication`` reads, parses,
dispatches and serializes; no gateway code, no vendor call. Same operation, same message shape as
``wsdl/flowize.wsdl`` (``getRecord`` wrapping ``input`` with unqualified children, a ``Response``
back), served by gunicorn with the gateway's own settings (``gateway.server.gunicorn_options``), so a
benchmark can put the gateway's SOAP door beside it in one run (``benchmarks/soap_door.py``).

    python -m benchmarks.bare_spyne --port 8099 [--workers 1] [--worker-class gevent] [--threads 8]

It imports nothing from the gateway but the gunicorn settings and runner: the anchor is Spyne's
cost, not ours.
"""

from __future__ import annotations

import sys
from typing import Any

TNS = "Flowize"
RECORDS = {"demo-record": '{"name":"Ada","city":"London"}'}


def create_app() -> Any:
    """The WSGI app: one Spyne ``Application``, SOAP 1.1 in and out, the getRecord operation."""
    from spyne import Application, ComplexModel, ServiceBase, Unicode, rpc
    from spyne import const as spyne_const
    from spyne.protocol.soap import Soap11
    from spyne.server.wsgi import WsgiApplication

    # The gateway's door never runs the gc.collect() Spyne's WSGI server runs once a second after a
    # request (gateway/soap/protocol.py, _close); the anchor turns it off too, so the comparison is of
    # request handling, not of a collector setting (a bare service would be a little slower).
    spyne_const.MIN_GC_INTERVAL = float("inf")
    text = Unicode(sub_ns="", min_occurs=0, nillable=True)

    def complex_type(name: str, fields: list[tuple[str, Any]]) -> Any:
        return type(name, (ComplexModel,), {"__namespace__": TNS, "_type_info": fields})

    auth = complex_type("AuthenticationObject", [("Apikey", text), ("Appkey", text), ("Version", text)])
    record = complex_type("DataRecordObject", [("Uuid", text), ("ExecutionTime", text), ("Data", text)])
    request = complex_type("GetRecordRequest", [("AuthenticationObject", auth.customize(sub_ns="", min_occurs=0)),
                                                ("DataRecordObject", record.customize(sub_ns="", min_occurs=0))])
    response = complex_type("Response", [("Id", text), ("Code", text), ("RequestIP", text), ("Resource", text),
                                         ("Message", text), ("Error", text)])

    class BareFlowize(ServiceBase):
        @rpc(request.customize(sub_ns=""), _in_variable_names={"input_": "input"},
             _returns=response.customize(sub_ns=""), _out_variable_name="getRecordResult",
             _body_style="wrapped", _operation_name="getRecord")
        def getRecord(ctx, input_):  # Spyne: named as in the WSDL, ctx first and no self
            uuid = input_ and input_.DataRecordObject and input_.DataRecordObject.Uuid
            data = RECORDS.get(uuid or "")
            return response(Id="ok", Code="200" if data else "404", RequestIP=ctx.transport.req_env.get("REMOTE_ADDR"),
                            Resource=data or "", Message="OK" if data else "Not found", Error="null")

    application = Application([BareFlowize], tns=TNS, name="FlowizeService",
                              in_protocol=Soap11(), out_protocol=Soap11())
    return WsgiApplication(application)


def main(argv: list[str] | None = None) -> int:
    from benchmarks.common import serve_anchor

    return serve_anchor("python -m benchmarks.bare_spyne", create_app, argv)


if __name__ == "__main__":
    sys.exit(main())

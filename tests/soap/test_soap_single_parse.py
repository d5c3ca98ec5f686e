"""One parse per envelope: Spyne deserializes the very tree the front door parsed, and answers as before.

The door is served on loopback over the sandbox, and Spyne's own event hooks (``before_deserialize``
on the protocol) show what Spyne was handed: no bytes, the door's tree. The quick parse is held to
:func:`gateway.safexml.parse`, the authority on hostile XML, input by input; the planned reading of the
request types to Spyne's own.
"""

from __future__ import annotations

import logging

import pytest
import requests
from lxml import etree
from spyne import const as spyne_const
from support import SOAP11, SOAP12, SoapReply, b64json, gateway_with

from gateway import safexml
from gateway.config import Settings
from gateway.connectors.flowize import FlowizeConnector
from gateway.http import HttpClient
from gateway.operations.flowize import FlowizeOperations
from gateway.server import serve_in_thread
from gateway.soap import create_soap_app
from gateway.soap.envelope import OPERATIONS, EnvelopeError, parse_envelope

AUTH = "<AuthenticationObject><Apikey>demo-api-key</Apikey><Appkey>demo-app</Appkey></AuthenticationObject>"
ENV = {"1.1": SOAP11, "1.2": SOAP12}


def envelope(body: str, version: str = "1.1", header: str = "") -> str:
    return (f'<s:Envelope xmlns:s="{ENV[version]}" xmlns:f="Flowize" '
            f'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">{header}<s:Body>{body}</s:Body></s:Envelope>')


def get_record(inner: str) -> str:
    return f"<f:getRecord><input>{inner}</input></f:getRecord>"


@pytest.fixture
def door(sandbox_url):
    """The SOAP door alone (with the request-id middleware every app has), over the sandbox, on a
    loopback HTTP server."""
    from gateway.observe import Observe

    settings = Settings(http_retries=0)
    client = HttpClient(settings)
    soap = create_soap_app(FlowizeOperations(FlowizeConnector(client, sandbox_url)), settings)
    server = serve_in_thread(Observe(soap))
    server.soap = soap
    yield server
    server.shutdown()
    client.close()


def post(server, data: str | bytes, version: str = "1.1") -> SoapReply:
    content_type = "text/xml; charset=utf-8" if version == "1.1" else "application/soap+xml; charset=utf-8"
    body = data.encode() if isinstance(data, str) else data
    return SoapReply(requests.post(server.url + "/", data=body, headers={"Content-Type": content_type}, timeout=10))


@pytest.fixture
def handed(door):
    """What Spyne's protocols were handed, per request: (in_string, in_document, in_body_doc)."""
    seen: list[tuple] = []

    def note(ctx):
        seen.append((ctx.in_string, ctx.in_document, ctx.in_body_doc))

    protocols = [door.soap.spyne[v].app.in_protocol for v in ("1.1", "1.2")]
    for protocol in protocols:
        protocol.event_manager.add_listener("before_deserialize", note)
    yield seen
    for protocol in protocols:
        protocol.event_manager.del_listener("before_deserialize", note)


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_spyne_deserializes_the_doors_tree_and_is_never_given_bytes(door, handed, version):
    header = '<s:Header><f:Marker xmlns:f="urn:test">the client sent this</f:Marker></s:Header>'
    inner = AUTH + "<DataRecordObject><Uuid>demo-record</Uuid></DataRecordObject>"
    reply = post(door, envelope(get_record(inner), version, header), version)
    assert reply.status == 200
    assert reply.result()["Code"] == "200"
    assert len(handed) == 1
    in_string, document, body = handed[0]
    assert in_string is None  # Spyne had no bytes to parse
    assert document.tag == f"{{{ENV[version]}}}Envelope"
    assert body.getroottree().getroot() is document  # the operation element is in that very tree
    # ...and it is the client's tree, Header included, not a rebuilt copy of the Body.
    assert document.findtext(f"{{{ENV[version]}}}Header/{{urn:test}}Marker") == "the client sent this"
    assert body.tag == "{Flowize}getRecord"


def test_the_vendors_example_shape_is_read_from_the_same_tree(door, handed):
    # xsi:type on every element, encodingStyle, comments, qualified children in another order.
    body = ('<f:getRecord s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><!-- a comment -->'
            '<input xsi:type="f:GetRecordRequest"><f:DataRecordObject xsi:type="f:DataRecordObject">'
            '<f:Uuid xsi:type="xsd:string" xmlns:xsd="http://www.w3.org/2001/XMLSchema">demo-record</f:Uuid>'
            '</f:DataRecordObject><AuthenticationObject xsi:type="f:AuthenticationObject">'
            '<Appkey xsi:type="xsd:string" xmlns:xsd="http://www.w3.org/2001/XMLSchema">demo-app</Appkey>'
            '<Apikey>demo-api-key</Apikey></AuthenticationObject></input></f:getRecord>')
    reply = post(door, envelope(body))
    assert reply.result()["Code"] == "200"
    assert handed[0][0] is None


def test_attributes_change_nothing_that_is_read(door):
    # xsi:nil on <input> and an attribute named like a field: the elements' text is what counts.
    body = ('<f:getRecord><input xsi:nil="true">' + AUTH
            + '<DataRecordObject Uuid="ignored"><Uuid>demo-record</Uuid></DataRecordObject></input></f:getRecord>')
    assert post(door, envelope(body)).result()["Code"] == "200"


def test_a_text_field_holding_elements_reads_as_empty(door):
    reply = post(door, envelope(get_record(AUTH + "<DataRecordObject><Uuid>demo<b>x</b>-record</Uuid>"
                                           "</DataRecordObject>")))
    assert reply.status == 500
    assert reply.fault()["faultstring"] == "Missing required field(s): uuid."


def test_a_local_fault_is_answered_in_the_documented_shape_with_its_request_id(door):
    no_credentials = get_record("<DataRecordObject><Uuid>demo-record</Uuid></DataRecordObject>")
    response = requests.post(door.url + "/", data=envelope(no_credentials).encode(), timeout=10,
                             headers={"Content-Type": "text/xml", "X-Request-Id": "req-42"})
    assert response.status_code == 500
    assert response.headers["X-Request-Id"] == "req-42"
    fault = SoapReply(response).fault()
    assert fault == {"faultcode": "404", "faultstring": "The credentials are not correct.", "faultactor": "req-42",
                     "detail.code": "404", "detail.message": "The credentials are not correct."}


def test_a_write_is_read_and_answered_by_spyne_too(door):
    body = ("<f:insertRecord><input>" + AUTH + f"<DataRecordObject><Uuid>single-parse-1</Uuid>"
            f"<Data>{b64json({'a': 1})}</Data></DataRecordObject><FlowDiagramObject><Flow>demo-flow</Flow>"
            "</FlowDiagramObject></input></f:insertRecord>")
    result = post(door, envelope(body, "1.2"), "1.2").result()
    assert (result["Id"], result["Code"]) == ("created", "201")


def test_building_and_using_the_door_changes_no_process_wide_spyne_state(door, caplog):
    before = (logging.getLogger("spyne.application").level, logging.getLogger("spyne.application.server").level,
              spyne_const.MIN_GC_INTERVAL)
    create_soap_app(door.soap.operations, door.soap.settings)
    caplog.clear()  # Spyne warns when an application's name is registered again: not about requests
    with caplog.at_level(logging.DEBUG, logger="spyne"):
        assert post(door, envelope(get_record(""))).status == 500  # a fault raised by the method
    after = (logging.getLogger("spyne.application").level, logging.getLogger("spyne.application.server").level,
             spyne_const.MIN_GC_INTERVAL)
    assert after == before
    # The fault is an answer: Spyne does not log it with a traceback.
    assert not [r for r in caplog.records if r.name.startswith("spyne") and r.levelno >= logging.WARNING]


def test_the_wsdl_is_rendered_once_per_address(door):
    first = requests.get(door.url + "/?wsdl", timeout=5)
    second = requests.get(door.url + "/?WSDL", timeout=5)
    other = requests.get(door.url + "/?wsdl", headers={"Host": "soap.example.org"}, timeout=5)
    assert first.status_code == second.status_code == other.status_code == 200
    assert first.content == second.content
    assert b'location="http://soap.example.org"' in other.content
    assert door.soap.wsdl.cache_info().hits >= 1


def test_every_operation_takes_the_planned_reading(door):
    """No request type falls back to Spyne's general reader (which reads attributes, and is slower)."""
    for version, server in door.soap.spyne.items():
        protocol = server.app.in_protocol
        operations = server.app.interface.service_method_map
        assert {name.split("}")[1] for name in operations} == set(OPERATIONS)
        for name, (descriptor,) in operations.items():
            todo = [descriptor.in_message]
            while todo:
                cls = todo.pop()
                plan = protocol._plan_for(cls)
                assert plan is not None, f"SOAP {version} {name}: {cls.__name__}"
                todo += [member for member, complex_ in plan.members.values() if complex_]


def _fill(cls, depth: int = 0) -> str:
    """Every field of ``cls`` as the client may send it: some qualified, in reverse order, with an
    unknown element, an empty field and a field sent twice (the last one counts)."""
    parts = ["<Unknown>skipped</Unknown>"]
    for i, (name, member) in enumerate(reversed(list(cls.get_flat_type_info(cls).items()))):
        tag = f"f:{name}" if i % 2 else name
        if hasattr(member, "get_flat_type_info"):
            parts.append(f"<{tag}>{_fill(member, depth + 1)}</{tag}>")
        elif i == 0:
            parts.append(f"<{tag}/>")
        else:
            parts.append(f"<{tag}>first</{tag}><{tag}> {name} &amp; more </{tag}>")
    return "".join(parts)


def _as_data(value):
    if hasattr(value, "get_flat_type_info"):
        return {k: _as_data(getattr(value, k)) for k in value.get_flat_type_info(type(value))}
    return value


def test_the_planned_reading_gives_what_spynes_own_reader_gives(door):
    """Spyne's general reader and the planned one, on the same trees, for every operation."""
    from spyne.protocol.soap import Soap11

    spynes = Soap11()
    spynes.set_app(door.soap.spyne["1.1"].app)
    ours = door.soap.spyne["1.1"].app.in_protocol
    for name, (descriptor,) in door.soap.spyne["1.1"].app.interface.service_method_map.items():
        data = envelope(f"<f:op>{_fill(descriptor.in_message)}</f:op>").encode()
        body = parse_envelope(data.replace(b"f:op", name.replace("{Flowize}", "f:").encode())).body
        expected = _as_data(spynes.complex_from_element(None, descriptor.in_message, body))
        assert _as_data(ours.complex_from_element(None, descriptor.in_message, body)) == expected, name
        assert expected["input"] is not None


# -- the quick parse answers exactly as safexml does ----------------------------------------------
def _env(inner: str) -> bytes:
    return envelope(f"<f:getSchema>{inner}</f:getSchema>").encode()


QUICK_OR_NOT = {
    "plain": _env("<input/>"),
    "depth at the cap": _env("<a>" * 7 + "</a>" * 7),          # Envelope, Body, getSchema + 7 = 10
    "depth over the cap": _env("<a>" * 8 + "</a>" * 8),
    "elements at the cap": _env("<a/>" * 47),                  # 3 + 47 = 50
    "elements over the cap": _env("<a/>" * 48),
    "many < in CDATA": _env("<a><![CDATA[" + "<" * 80 + "]]></a>"),
    "billion laughs": b'<!DOCTYPE l [<!ENTITY a "a"><!ENTITY b "&a;&a;">]>' + _env("<a>&b;</a>"),
    "external entity": b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>' + _env("<a>&e;</a>"),
    "undefined entity": _env("<a>&nope;</a>"),
    "UTF-7 hiding elements": (b'<?xml version="1.0" encoding="UTF-7"?><s:Envelope xmlns:s="' + SOAP11.encode()
                              + b'"><s:Body><f:getSchema xmlns:f="Flowize">' + b"+ADw-a/+AD4-" * 60
                              + b"</f:getSchema></s:Body></s:Envelope>"),
    "UTF-16 over the cap": envelope("<f:getSchema>" + "<a/>" * 48 + "</f:getSchema>").encode("utf-16"),
    "ISO-8859-1 declared": ('<?xml version="1.0" encoding="ISO-8859-1"?>'
                            + envelope("<f:getSchema><a>caf\xe9</a></f:getSchema>")).encode("latin-1"),
    "trailing garbage": _env("<a/>") + b"<b/>",
    "not XML": b"hello",
    "empty": b"",
}


@pytest.mark.parametrize("name", QUICK_OR_NOT)
def test_the_quick_parse_gives_safexmls_answer(name):
    data = QUICK_OR_NOT[name]
    try:
        expected = ("tree", etree.tostring(safexml.parse(data, max_depth=10, max_elements=50)))
    except safexml.UnsafeXml as exc:
        expected = ("refused", str(exc))
    try:
        got = ("tree", etree.tostring(parse_envelope(data, max_depth=10, max_elements=50).envelope))
    except EnvelopeError as exc:
        got = ("refused", str(exc))
    assert got == expected


def test_a_utf7_envelope_cannot_hide_elements_from_the_cap(tmp_path, sandbox_url):
    # "+ADw-" is "<" in UTF-7: a byte count of "<" would see 4 elements where the parser sees 63.
    server = gateway_with(tmp_path, sandbox_url, soap_max_elements=50)
    try:
        response = requests.post(server.url + "/v1/soap", data=QUICK_OR_NOT["UTF-7 hiding elements"], timeout=10,
                                 headers={"Content-Type": "text/xml"})
        fault = SoapReply(response).fault()
        assert fault["faultcode"] == "SOAP-ENV:Client"
        assert "more than 50 elements" in fault["faultstring"]
    finally:
        server.shutdown()

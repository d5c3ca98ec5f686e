"""Spyne, started from the tree the front door parsed: our protocol, application and server classes.

Spyne's own WSGI server would read the body and parse it again (``etree.XMLID``, then a walk for
``href`` references, then XPath for Header and Body). The front door has parsed and checked the
envelope already (gateway/soap/envelope.py), so each request enters Spyne's pipeline with that tree,
and every stage after the parse is Spyne's own:

* :class:`TreeServer` is a Spyne server (``ServerBase``) whose requests come as a
  :class:`~gateway.soap.envelope.ParsedEnvelope` instead of bytes. It runs Spyne's stages as its WSGI
  server does after reading a body — ``generate_contexts``, ``get_in_object``, ``get_out_object``,
  ``get_out_string`` — and gives back the HTTP status, extra headers and body bytes.
* :class:`FlowizeSoap11` / :class:`FlowizeSoap12` are Spyne's SOAP protocols with the reading end
  replaced: ``create_in_document`` takes the parsed Envelope from the transport context (nothing is
  read or parsed), ``decompose_incoming_envelope`` the operation element the door found. Spyne then
  deserializes ``<input>`` into the service's types, calls the method and serializes the answer.
  Faults are written in the doc's shape (:func:`gateway.soap.faults.fault_element`); SOAP 1.2 says
  its HTTP status through Spyne's ``fault_to_http_response_code``.
* :class:`FlowizeApplication` is Spyne's ``Application`` except for one thing: a fault a method raises
  is an answer (a wrong key, an unknown record), so it is not logged with a traceback as Spyne logs
  every ``Fault``; unexpected errors are logged once, by the service's guard (gateway/soap/service.py).

What the methods need from the door (operations, client IP, request id, token) travels in
``ctx.udc``, Spyne's user-defined context, as a :class:`~gateway.soap.service.SoapCall`. Nothing here
changes Spyne's process-wide state: no logger levels, no ``spyne.const`` (see :func:`_close` for the
collector Spyne would run).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from lxml import etree
from spyne import BODY_STYLE_WRAPPED, Application, MethodContext
from spyne.const.http import HTTP_200, HTTP_400, HTTP_500
from spyne.context import TransportContext
from spyne.evmgr import EventManager
from spyne.model.complex import Array, ComplexModelBase, Iterable
from spyne.model.fault import Fault
from spyne.model.primitive import Unicode
from spyne.protocol.soap import Soap11, Soap12
from spyne.protocol.xml import XmlDocument
from spyne.server import ServerBase

from gateway.soap.envelope import TNS, ParsedEnvelope
from gateway.soap.faults import SoapFault, client_fault, fault_element, fault_for
from gateway.soap.service import FlowizeService, SoapCall, SpyneFault

__all__ = ["FlowizeApplication", "FlowizeSoap11", "FlowizeSoap12", "TreeServer", "as_soap_fault"]

log = logging.getLogger("gateway.soap")
_UNPLANNED: Any = object()
_WITH_ATTRIBUTES = etree.XPath("descendant-or-self::*[@*]")


def as_soap_fault(inst: Any, request_id: str) -> SoapFault:
    """The fault the client sees for ``inst``: ours as raised, Spyne's own in our shape."""
    if isinstance(inst, SpyneFault):
        return inst.soap_fault
    # Spyne's own faults (a value it could not deserialize...): the client's fault, in our shape.
    code = str(getattr(inst, "faultcode", "Client"))
    if code.startswith("Server"):
        return SoapFault("Server", "Internal gateway error.", request_id, 500, 500)
    return client_fault(str(getattr(inst, "faultstring", "") or "The request could not be read."), request_id)


def _request_id(ctx: Any) -> str:
    return ctx.udc.request_id if isinstance(ctx.udc, SoapCall) else ""


class DoorTransport(TransportContext):
    """Spyne's transport context for one request of the front door: the envelope it parsed."""

    def __init__(self, parent: Any, transport: Any, kind: Any = None):
        super().__init__(parent, transport, kind)
        self.envelope: ParsedEnvelope | None = None


class _Events(EventManager):
    """Spyne's event manager, minus the empty ordered set it builds for an event nothing listens to."""

    def fire_event(self, event_name: str, ctx: Any, *args: Any, **kwargs: Any) -> None:
        for handler in self.handlers.get(event_name, ()):
            handler(ctx, *args, **kwargs)


class DoorContext(MethodContext):
    """Spyne's method context for the door: our transport context, and two costs of Spyne's left out."""

    TransportContext = DoorTransport
    # Spyne's __setattr__ refuses new attributes once a context is built ("use the udc member"), in a
    # Python call for each of the ~50 attributes a context is given; only Spyne and this module set
    # them here, so the plain one does.
    __setattr__ = object.__setattr__

    def fire_event(self, event: str, *args: Any, **kwargs: Any) -> None:
        """Spyne's, minus its work when nothing listens (see :class:`_Events`): the application's and
        the method's managers are asked first."""
        descriptor = self.descriptor
        if event in self.app.event_manager.handlers or (
                descriptor is not None and any(event in m.handlers for m in descriptor.event_managers)):
            super().fire_event(event, *args, **kwargs)


@dataclass(frozen=True)
class _Plan:
    """How to fill one of our ComplexModel types from an element (see ``complex_from_element``)."""

    make: Any                                   # the class Spyne would instantiate
    empty: dict[str, None]                      # every member None, as ComplexModel.__init__ leaves them
    members: dict[str, tuple[Any, bool]]        # element name -> (member type, is it complex?)


def _plan(cls: Any) -> _Plan | None:
    """A plan for ``cls`` if it is as simple as our types are, else None (Spyne's own way is used):
    members that are text or complex types, each at most once, no defaults, attributes or aliases."""
    make = cls.__orig__ or cls
    if cls.Attributes._xml_tag_body_as is not None or make.__init__ is not ComplexModelBase.__init__:
        return None
    flat = cls.get_flat_type_info(cls)
    # Spyne consults the aliases only for names it does not know; ours say "{}input" for "input".
    if any(not alias.startswith("{}") or flat.get(name) is not member
           for alias, (member, name) in cls._type_info_alt.items()):
        return None
    members: dict[str, tuple[Any, bool]] = {}
    for name, member in flat.items():
        attrs = member.Attributes
        complex_ = issubclass(member, ComplexModelBase) and not issubclass(member, (Array, Iterable, Fault))
        if (not (complex_ or issubclass(member, Unicode)) or attrs.max_occurs != 1 or attrs.read_only
                or attrs.default is not None or getattr(attrs, "default_factory", None) is not None
                or isinstance(getattr(make, name, None), property)):
            return None
        members[name] = (member, complex_)
    return _Plan(make, dict.fromkeys(members), members)


class _FromTree:
    """The reading end of a Spyne SOAP protocol, given the front door's tree instead of bytes."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.event_manager = _Events(self)  # four events a request, seldom listened to
        self._plans: dict[Any, _Plan | None] = {}

    def create_in_document(self, ctx: Any, charset: str | None = None) -> None:
        envelope = getattr(ctx.transport, "envelope", None)
        if envelope is None:  # a programming error: this protocol never parses bytes itself
            raise Fault("Server", "No parsed envelope was handed to the protocol.")
        ctx.in_document = envelope.envelope

    def decompose_incoming_envelope(self, ctx: Any, message: Any = XmlDocument.REQUEST) -> None:
        # The door checked the Envelope (one Body, one known operation) and read the token from the
        # Header; no Spyne header class is declared, so the Header is no business of Spyne's.
        ctx.in_header_doc = None
        ctx.in_body_doc = ctx.transport.envelope.body
        ctx.method_request_string = ctx.in_body_doc.tag
        self.validate_body(ctx, message)  # type: ignore[attr-defined]  # Spyne's XmlDocument

    def generate_method_contexts(self, ctx: Any) -> list[Any]:
        # Spyne copies the context for each method bound to the operation (auxiliary methods run
        # on copies); ours have one each, so the fresh context is the method's own.
        handles = self.get_call_handles(ctx)  # type: ignore[attr-defined]  # Spyne's ProtocolBase
        if len(handles) != 1:
            return super().generate_method_contexts(ctx)  # type: ignore[misc, no-any-return]
        ctx.descriptor = handles[0]
        return [ctx]

    def _plan_for(self, cls: Any) -> _Plan | None:
        plan = self._plans.get(cls, _UNPLANNED)
        if plan is _UNPLANNED:
            plan = self._plans[cls] = _plan(cls)
        return plan  # type: ignore[no-any-return]

    def complex_from_element(self, ctx: Any, cls: Any, elt: Any) -> Any:
        """Spyne's ``complex_from_element`` for types as simple as ours, from a plan made once per type.

        Spyne's own is general (arrays, aliases, defaults, validation, attributes) and looks each of
        those up for every element of every request. This one makes a new instance with every member
        None, then reads each child element named like a member (local name, any order, unknown ones
        skipped) as text or, recursively, as a complex type. It reads no attributes: ``xsi:type``,
        ``xsi:nil``, ``encodingStyle`` or an attribute named like a field change nothing, as when the
        door copied envelopes without them (the vendor's examples put ``xsi:type`` everywhere)."""
        plan = self._plan_for(cls)
        if plan is None:  # Spyne's own reading, of the same attribute-free tree
            for el in _WITH_ATTRIBUTES(elt):
                el.attrib.clear()
            return super().complex_from_element(ctx, cls, elt)  # type: ignore[misc]
        inst = plan.make.__new__(plan.make)
        values = inst.__dict__
        values.update(plan.empty)
        for child in elt.iterchildren(etree.Element):
            name = child.tag.rpartition("}")[2]
            member = plan.members.get(name)
            if member is not None:
                kind, complex_ = member
                values[name] = (self.complex_from_element(ctx, kind, child) if complex_
                                else self.unicode_from_element(ctx, kind, child))
        return inst

    def unicode_from_element(self, ctx: Any, cls: Any, element: Any) -> Any:
        if len(element):
            # A text field that holds elements reads as empty, as when the door copied envelopes and
            # gave such an element no text of its own (``<Uuid>a<b/>c</Uuid>`` is not "a").
            element.text = None
        return super().unicode_from_element(ctx, cls, element)  # type: ignore[misc]


class _Faults:
    """The writing end for faults: the doc's shape (gateway/soap/faults.py) in a bare Envelope."""

    soap_version = "1.1"

    def fault_to_parent(self, ctx: Any, cls: Any, inst: Any, parent: Any, ns: Any, *args: Any, **kw: Any) -> None:
        parent.append(fault_element(as_soap_fault(inst, _request_id(ctx)), self.soap_version, parent))

    def serialize(self, ctx: Any, message: Any) -> Any:
        if ctx.out_error is None:
            return super().serialize(ctx, message)  # type: ignore[misc]  # Spyne's Soap11.serialize
        # Spyne's would declare its 15 known namespaces on Envelope and Body, then clean up all but
        # the one used: the same document, made directly.
        events, env = self.event_manager, self.ns_soap_env  # type: ignore[attr-defined]
        events.fire_event("before_serialize", ctx)
        ctx.out_document = etree.Element(f"{{{env}}}Envelope", nsmap={self.soap_env: env})  # type: ignore[attr-defined]
        ctx.out_body_doc = etree.SubElement(ctx.out_document, f"{{{env}}}Body")
        self.fault_to_parent(ctx, type(ctx.out_error), ctx.out_error, ctx.out_body_doc, None)
        etree.cleanup_namespaces(ctx.out_document)
        events.fire_event("after_serialize", ctx)
        return None


class FlowizeSoap11(_FromTree, _Faults, Soap11):
    soap_version = "1.1"


class FlowizeSoap12(_FromTree, _Faults, Soap12):
    soap_version = "1.2"

    def fault_to_http_response_code(self, fault: Any) -> str:
        # The SOAP 1.2 HTTP binding answers Sender faults with 400 (Receiver faults keep 500).
        return HTTP_400 if as_soap_fault(fault, "").sender_side else HTTP_500


class FlowizeApplication(Application):
    def process_request(self, ctx: Any) -> None:
        """Spyne's ``Application.process_request`` for our methods (wrapped, one ``Response``), without
        Spyne's traceback log of each fault they raise on purpose (the events are Spyne's)."""
        try:
            ctx.fire_event("method_call")
            ctx.out_object = [self.call_wrapper(ctx)]
            ctx.protocol = ctx.outprot_ctx
            ctx.fire_event("method_return_object")
        except SpyneFault as fault:
            ctx.out_error = fault
            ctx.fire_event("method_exception_object")
        except Exception as exc:  # the guard turns every error into a SpyneFault; this is its safety net
            log.exception("SOAP %s failed (request id %s)", ctx.method_name, _request_id(ctx))
            ctx.out_error = SpyneFault(fault_for(exc, _request_id(ctx)))
            ctx.fire_event("method_exception_object")


def _close(ctx: Any) -> None:
    """``MethodContext.close()`` without its ``gc.collect()``: Spyne runs a full collection at most once
    a second to close uploaded files early; we take no uploads, and each collection stalled every
    request in flight (~60 ms, the SOAP p99 in make bench). So ``spyne.const.MIN_GC_INTERVAL`` can stay."""
    ctx.call_end = time.time()
    ctx.app.event_manager.fire_event("method_context_closed", ctx)
    ctx.is_closed = True


class TreeServer(ServerBase):
    """A Spyne server for the Flowize service in one SOAP version, fed parsed envelopes."""

    transport = "http://schemas.xmlsoap.org/soap/http"

    def __init__(self, version: str):
        protocol = FlowizeSoap12 if version == "1.2" else FlowizeSoap11
        super().__init__(FlowizeApplication([FlowizeService], tns=TNS, name="FlowizeService",
                                            in_protocol=protocol(), out_protocol=protocol()))
        self.version = version
        for name, descriptors in self.app.interface.service_method_map.items():
            if any(d.body_style is not BODY_STYLE_WRAPPED or len(d.out_message._type_info) != 1
                   for d in descriptors):  # what FlowizeApplication.process_request relies on
                raise TypeError(f"{name}: the door's methods are wrapped and return one Response")

    def handle(self, envelope: ParsedEnvelope, call: SoapCall) -> tuple[str, list[tuple[str, str]], bytes]:
        """(HTTP status, extra headers, body) for one envelope, through Spyne's stages."""
        ctx = DoorContext(self, MethodContext.SERVER)
        ctx.transport.envelope = envelope
        ctx.udc = call
        p_ctx = self.generate_contexts(ctx)[0]  # one method per operation: no auxiliary contexts
        p_ctx.active = True
        if p_ctx.in_error is None:
            self.get_in_object(p_ctx)
        if p_ctx.in_error is None:
            self.get_out_object(p_ctx)
        try:
            self.get_out_string(p_ctx)
        except Exception as exc:  # as Spyne's WSGI server: a response that cannot be written is a Server fault
            log.exception("SOAP %s: the answer could not be written (request id %s)", p_ctx.method_name,
                          call.request_id)
            p_ctx.out_error = SpyneFault(fault_for(exc, call.request_id))
            p_ctx.out_document = p_ctx.out_string = None
            self.get_out_string(p_ctx)
        body = b"".join(p_ctx.out_string)
        _close(p_ctx)
        error = p_ctx.out_error
        if error is None:
            return HTTP_200, [], body
        headers = []
        fault = as_soap_fault(error, call.request_id)
        if fault.retry_after is not None:
            # Sent as an HTTP Retry-After header too (docs/soap-decisions.md, F6).
            headers.append(("Retry-After", str(fault.retry_after)))
        return p_ctx.out_protocol.fault_to_http_response_code(error), headers, body

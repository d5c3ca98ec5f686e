"""deploy/soapui/flowize-soapui-project.xml: a SoapUI 5 project that matches wsdl/flowize.wsdl and passes.

Read with lxml: well-formed, one request / test case / mock response per WSDL operation, the bindings and
operations named as in the WSDL, the endpoint exactly http://127.0.0.1:8080/v1/soap, every envelope in it
valid against the WSDL's own schema. Then the test suite is replayed against the real gateway the way
SoapUI's testrunner would (same envelopes, same SOAPAction, same assertions, suite order), twice, to
show it passes and leaves the demo data as it found it.
"""

from __future__ import annotations

import copy
import re
from functools import cache
from pathlib import Path

import requests
from lxml import etree

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ROOT / "deploy" / "soapui" / "flowize-soapui-project.xml"
WSDL_FILE = ROOT / "wsdl" / "flowize.wsdl"
ENDPOINT = "http://127.0.0.1:8080/v1/soap"
WSDL_URL = ENDPOINT + "?wsdl"

CON = "http://eviware.com/soapui/config"
WSDL = "http://schemas.xmlsoap.org/wsdl/"
WSDL_SOAP11 = "http://schemas.xmlsoap.org/wsdl/soap/"
WSDL_SOAP12 = "http://schemas.xmlsoap.org/wsdl/soap12/"
XSD = "http://www.w3.org/2001/XMLSchema"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
SOAP11_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_ENV = "http://www.w3.org/2003/05/soap-envelope"
TNS = "Flowize"
NS = {"con": CON, "w": WSDL, "s11": WSDL_SOAP11, "s12": WSDL_SOAP12}

# SoapUI's assertion ids are swapped relative to their labels (NotSoapFaultAssertion.ID is
# "SOAP Fault Assertion", SoapFaultAssertion.ID is "Not SOAP Fault Assertion"); these are the ids.
NOT_SOAP_FAULT = "SOAP Fault Assertion"
IS_SOAP_FAULT = "Not SOAP Fault Assertion"
# The vendor reports a stored webhook as a Fault with code 201: that fault is its success.
FAULT_IS_SUCCESS = {"webhook"}


# -- reading the two files -------------------------------------------------------------------------
@cache
def project() -> etree._ElementTree:
    return etree.parse(str(PROJECT), etree.XMLParser(resolve_entities=False, no_network=True))


@cache
def wsdl() -> etree._ElementTree:
    return etree.parse(str(WSDL_FILE))


def wsdl_operations() -> list[str]:
    return wsdl().xpath("/w:definitions/w:portType/w:operation/@name", namespaces=NS)


def wsdl_bindings() -> dict[str, str]:
    """binding name -> "1_1" / "1_2", the way SoapUI writes soapVersion."""
    out = {}
    for binding in wsdl().xpath("/w:definitions/w:binding", namespaces=NS):
        out[binding.get("name")] = "1_2" if binding.find(f"{{{WSDL_SOAP12}}}binding") is not None else "1_1"
    return out


def wsdl_actions(binding: str) -> dict[str, str]:
    ops = wsdl().xpath(f"/w:definitions/w:binding[@name='{binding}']/w:operation", namespaces=NS)
    return {op.get("name"): op.xpath("s11:operation/@soapAction | s12:operation/@soapAction", namespaces=NS)[0]
            for op in ops}


def interfaces() -> dict[str, etree._Element]:
    return {i.get("name"): i for i in project().xpath("/con:soapui-project/con:interface", namespaces=NS)}


def suite_cases() -> list[etree._Element]:
    return project().xpath("/con:soapui-project/con:testSuite/con:testCase", namespaces=NS)


def mock_service() -> etree._Element:
    services = project().xpath("/con:soapui-project/con:mockService", namespaces=NS)
    assert len(services) == 1, "one MockService"
    return services[0]


def _text(el: etree._Element, path: str) -> str:
    found = el.find(path, {"con": CON})
    assert found is not None, f"{el.get('name')}: no {path}"
    return found.text or ""


@cache
def wsdl_schema() -> etree.XMLSchema:
    """The WSDL's Flowize schema, plus the fault detail's documented ``item`` (unqualified, so in a
    no-namespace schema of its own; the WSDL describes it in a comment and declares no wsdl:fault,
    docs/soap-decisions.md F4), as one XMLSchema."""
    schema = wsdl().find(f"{{{WSDL}}}types/{{{XSD}}}schema[@targetNamespace='{TNS}']")
    flowize = etree.Element(schema.tag, dict(schema.attrib), nsmap=schema.nsmap)  # keeps tns/xsd for QNames
    etree.SubElement(flowize, f"{{{XSD}}}import", schemaLocation="flowize-fault-item.xsd")
    flowize.extend(copy.deepcopy(child) for child in schema)
    fault_item = (f'<xsd:schema xmlns:xsd="{XSD}" elementFormDefault="unqualified"><xsd:element name="item">'
                  '<xsd:complexType><xsd:sequence><xsd:element name="key" type="xsd:string"/>'
                  '<xsd:element name="value" type="xsd:string"/></xsd:sequence></xsd:complexType>'
                  '</xsd:element></xsd:schema>')

    class Resolver(etree.Resolver):
        def resolve(self, url, pubid, context):
            if url.endswith("flowize-fault-item.xsd"):
                return self.resolve_string(fault_item, context)
            return None

    parser = etree.XMLParser(no_network=True)
    parser.resolvers.add(Resolver())
    return etree.XMLSchema(etree.fromstring(etree.tostring(flowize), parser, base_url="file:///flowize.xsd"))


def _body_payload(envelope: str | bytes, env_ns: str) -> etree._Element:
    root = etree.fromstring(envelope.encode() if isinstance(envelope, str) else envelope)
    assert root.tag == f"{{{env_ns}}}Envelope", root.tag
    body = root.find(f"{{{env_ns}}}Body")
    assert body is not None and len(body), "no Body payload"
    return body[0]


def _assert_valid(payload: etree._Element, what: str) -> None:
    schema = wsdl_schema()
    assert schema.validate(payload), f"{what} does not match the WSDL schema: {schema.error_log}"


def _fault_items(fault: etree._Element) -> dict[str, str]:
    detail = fault.find("detail")
    return {item.findtext("key"): item.findtext("value") for item in detail.findall("item")}


# -- the project's shape -----------------------------------------------------------------------------
def test_project_is_a_soapui5_project():
    root = project().getroot()
    assert root.tag == f"{{{CON}}}soapui-project"
    assert root.get("soapui-version", "").startswith("5.")
    assert root.get("name")
    # each element id is unique (SoapUI keys model items by id)
    ids = project().xpath("//con:*/@id", namespaces=NS)
    assert len(ids) == len(set(ids))


def test_interfaces_are_the_wsdl_bindings_with_its_operations_and_actions():
    bindings = wsdl_bindings()
    assert bindings == {"FlowizeSoap11Binding": "1_1", "FlowizeSoap12Binding": "1_2"}
    found = interfaces()
    assert set(found) == set(bindings)
    for name, iface in found.items():
        assert iface.get(f"{{{XSI}}}type") == "con:WsdlInterface"
        assert iface.get("type") == "wsdl"
        assert iface.get("bindingName") == f"{{{TNS}}}{name}"
        assert iface.get("soapVersion") == bindings[name]
        assert iface.get("definition") == WSDL_URL
        ops = iface.findall("con:operation", {"con": CON})
        assert [op.get("name") for op in ops] == wsdl_operations()
        actions = wsdl_actions(name)
        for op in ops:
            assert op.get("bindingOperationName") == op.get("name")
            assert op.get("action") == actions[op.get("name")]
            assert op.get("type") == "Request-Response"


def test_cached_definition_is_the_checked_in_wsdl():
    """SoapUI works offline from the cache: it must be wsdl/flowize.wsdl, not an older copy."""
    # Compared as text: C14N refuses the WSDL's relative namespace URI "Flowize".
    expected = re.sub(r"^<\?xml[^>]*\?>\s*", "", WSDL_FILE.read_text(encoding="utf-8")).strip()
    for name, iface in interfaces().items():
        cache = iface.find("con:definitionCache", {"con": CON})
        assert cache.get("rootPart") == WSDL_URL, name
        parts = cache.findall("con:part", {"con": CON})
        assert len(parts) == 1, name
        assert _text(parts[0], "con:url") == WSDL_URL
        assert _text(parts[0], "con:type") == WSDL
        cached = re.sub(r"^<\?xml[^>]*\?>\s*", "", _text(parts[0], "con:content")).strip()
        assert cached == expected, (
            f"{name}: the cached WSDL differs from wsdl/flowize.wsdl; refresh it (deploy/soapui/README.md)")


def test_every_endpoint_is_the_gateway():
    endpoints = project().xpath("//con:endpoint/text()", namespaces=NS)
    assert len(endpoints) >= len(interfaces()) * (1 + len(wsdl_operations()))
    assert set(endpoints) == {ENDPOINT}
    for iface in interfaces().values():
        assert iface.xpath("con:endpoints/con:endpoint/text()", namespaces=NS) == [ENDPOINT]


def test_every_operation_has_a_request_valid_against_the_wsdl():
    for name, iface in interfaces().items():
        env_ns = SOAP12_ENV if iface.get("soapVersion") == "1_2" else SOAP11_ENV
        for op in iface.findall("con:operation", {"con": CON}):
            calls = op.findall("con:call", {"con": CON})
            assert calls, f"{name}.{op.get('name')}: no request"
            for call in calls:
                payload = _body_payload(_text(call, "con:request"), env_ns)
                assert payload.tag == f"{{{TNS}}}{op.get('name')}", (name, op.get("name"))
                _assert_valid(payload, f"{name}.{op.get('name')} request")
                assert "?" not in "".join(payload.itertext()), f"{name}.{op.get('name')}: unfilled '?' value"


def test_every_operation_has_a_test_case_with_its_assertions():
    cases = suite_cases()
    by_operation: dict[str, list[etree._Element]] = {}
    for case in cases:
        steps = case.findall("con:testStep", {"con": CON})
        assert steps, case.get("name")
        operations = {_text(step, "con:config/con:operation") for step in steps}
        assert len(operations) == 1, f"{case.get('name')}: one operation per test case"
        by_operation.setdefault(operations.pop(), []).append(case)
    assert sorted(by_operation) == sorted(wsdl_operations())
    assert all(len(found) == 1 for found in by_operation.values()), "one test case per operation"

    for case in cases:
        for step in case.findall("con:testStep", {"con": CON}):
            assert step.get("type") == "request"
            config = step.find("con:config", {"con": CON})
            assert config.get(f"{{{XSI}}}type") == "con:RequestStep"
            assert _text(config, "con:interface") in interfaces()
            operation = _text(config, "con:operation")
            request = config.find("con:request", {"con": CON})
            assert _text(request, "con:endpoint") == ENDPOINT
            payload = _body_payload(_text(request, "con:request"), SOAP11_ENV)
            assert payload.tag == f"{{{TNS}}}{operation}"
            _assert_valid(payload, f"test step {step.get('name')}")

            kinds = [a.get("type") for a in request.findall("con:assertion", {"con": CON})]
            assert "SOAP Response" in kinds, step.get("name")
            if operation in FAULT_IS_SUCCESS:
                assert IS_SOAP_FAULT in kinds and NOT_SOAP_FAULT not in kinds, step.get("name")
            else:
                assert NOT_SOAP_FAULT in kinds and IS_SOAP_FAULT not in kinds, step.get("name")
            xpaths = [a for a in request.findall("con:assertion", {"con": CON}) if a.get("type") == "XPath Match"]
            assert xpaths, f"{step.get('name')}: no XPath Match"
            path = xpaths[0].findtext("con:configuration/path", namespaces={"con": CON})
            code = xpaths[0].findtext("con:configuration/content", namespaces={"con": CON})
            assert re.fullmatch(r"20[01]", code), (step.get("name"), code)
            if operation in FAULT_IS_SUCCESS:
                assert path.rstrip().endswith("Fault/faultcode"), path
            else:
                assert path.rstrip().endswith(f":{operation}Response/{operation}Result/Code"), path


def test_mock_service_answers_every_operation_in_the_wsdl_shape():
    mock = mock_service()
    assert mock.get("port") and mock.get("path", "").startswith("/")
    ops = mock.findall("con:mockOperation", {"con": CON})
    assert sorted(op.get("name") for op in ops) == sorted(wsdl_operations())
    for op in ops:
        name = op.get("name")
        assert op.get("interface") in interfaces() and op.get("operation") == name
        responses = op.findall("con:response", {"con": CON})
        assert responses, f"mock {name}: no response"
        assert _text(op, "con:defaultResponse") in [r.get("name") for r in responses]
        for response in responses:
            payload = _body_payload(_text(response, "con:responseContent"), SOAP11_ENV)
            if name in FAULT_IS_SUCCESS:
                assert payload.tag == f"{{{SOAP11_ENV}}}Fault"
                assert payload.findtext("faultcode") == "201"
                assert _fault_items(payload) == {"code": "201", "message": payload.findtext("faultstring")}
                assert response.get("httpResponseStatus") == "500"
                for item in payload.find("detail"):
                    _assert_valid(item, f"mock {name} fault item")
            else:
                assert payload.tag == f"{{{TNS}}}{name}Response"
                _assert_valid(payload, f"mock {name} response")
                assert payload.findtext(f"{name}Result/Code") in ("200", "201")
                assert response.get("httpResponseStatus") == "200"


# -- the suite, replayed against the gateway ----------------------------------------------------------
def _namespaced_xpath(expression: str) -> tuple[str, dict[str, str]]:
    """SoapUI's "declare namespace p='uri';" prologue, then an XPath."""
    namespaces = dict(re.findall(r"declare namespace (\w+)\s*=\s*'([^']*)'\s*;", expression))
    return re.sub(r"declare namespace \w+\s*=\s*'[^']*'\s*;", "", expression).strip(), namespaces


def _run_step(step: etree._Element, gateway_url: str) -> list[str]:
    """Send one test step as SoapUI does and evaluate its assertions; returns the failures."""
    config = step.find("con:config", {"con": CON})
    iface = interfaces()[_text(config, "con:interface")]
    operation = _text(config, "con:operation")
    request = config.find("con:request", {"con": CON})
    action = iface.xpath(f"con:operation[@name='{operation}']/@action", namespaces=NS)[0]
    url = _text(request, "con:endpoint").replace("http://127.0.0.1:8080", gateway_url)
    response = requests.post(url, data=_text(request, "con:request").encode("utf-8"), timeout=15,
                             headers={"Content-Type": "text/xml;charset=UTF-8", "SOAPAction": f'"{action}"'})
    failures = []
    try:
        doc = etree.fromstring(response.content)
    except etree.XMLSyntaxError as exc:
        return [f"response is not XML ({exc}): {response.text[:300]}"]
    body = doc.find(f"{{{SOAP11_ENV}}}Body")
    fault = body.find(f"{{{SOAP11_ENV}}}Fault") if body is not None else None
    for assertion in request.findall("con:assertion", {"con": CON}):
        kind = assertion.get("type")
        if kind == "SOAP Response" and (doc.tag != f"{{{SOAP11_ENV}}}Envelope" or body is None):
            failures.append("SOAP Response: not a SOAP 1.1 envelope with a Body")
        elif kind == NOT_SOAP_FAULT and fault is not None:
            failures.append(f"Not SOAP Fault: got fault {fault.findtext('faultcode')} {fault.findtext('faultstring')}")
        elif kind == IS_SOAP_FAULT and fault is None:
            failures.append("SOAP Fault: the response is not a fault")
        elif kind == "XPath Match":
            config_el = assertion.find("con:configuration", {"con": CON})
            path, namespaces = _namespaced_xpath(config_el.findtext("path"))
            found = doc.xpath(path, namespaces=namespaces)
            value = (found[0].text if isinstance(found[0], etree._Element) else str(found[0])) if found else None
            if value != config_el.findtext("content"):
                failures.append(f"XPath Match {path!r}: {value!r} != {config_el.findtext('content')!r}")
    # What SoapUI's "Schema Compliance" would add: the gateway's answer matches its own WSDL.
    if fault is not None:
        detail = fault.find("detail")
        targets = list(detail) if detail is not None else []
    else:
        targets = list(body[:1]) if body is not None else []
    for target in targets:
        if not wsdl_schema().validate(target):
            failures.append(f"response does not match the WSDL schema: {wsdl_schema().error_log}")
    return failures


def test_suite_passes_against_the_gateway_and_can_run_again(gateway_url):
    for run in (1, 2):
        results = {}
        for case in suite_cases():
            for step in case.findall("con:testStep", {"con": CON}):
                results[f"{case.get('name')} / {step.get('name')}"] = _run_step(step, gateway_url)
        failed = {name: errors for name, errors in results.items() if errors}
        assert not failed, f"run {run}: {failed}"

"""The published WSDL is the checked-in contract; only soap:address follows the server."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from lxml import etree
from support import gateway_with

ROOT = Path(__file__).resolve().parents[2]
WSDL_FILE = ROOT / "wsdl" / "flowize.wsdl"
PACKAGED_WSDL = ROOT / "gateway" / "soap" / "flowize.wsdl"
SOAP11_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_ENV = "http://www.w3.org/2003/05/soap-envelope"
WSDL = "http://schemas.xmlsoap.org/wsdl/"
NS = {"wsdl": WSDL, "xsd": "http://www.w3.org/2001/XMLSchema",
      "soap": "http://schemas.xmlsoap.org/wsdl/soap/", "soap12": "http://schemas.xmlsoap.org/wsdl/soap12/"}
OPERATIONS = {"insertSchema", "getSchema", "updateSchema", "deleteSchema", "insertRecord", "getRecord",
              "updateRecord", "deleteRecord", "webhook", "getFlowDiagram", "changeFlowStatus"}


def _without_addresses(data: bytes) -> tuple[bytes, list[str]]:
    root = etree.fromstring(data)
    locations = []
    for address in root.xpath("//soap:address | //soap12:address", namespaces=NS):
        locations.append(address.get("location"))
        address.set("location", "")
    return etree.tostring(root), locations


@pytest.mark.parametrize("query", ["wsdl", "WSDL", "wsdl="])
def test_served_wsdl_equals_the_file_apart_from_soap_address(gateway_url, query):
    resp = requests.get(f"{gateway_url}/v1/soap?{query}", timeout=5)
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/xml")
    served, locations = _without_addresses(resp.content)
    expected, _ = _without_addresses(WSDL_FILE.read_bytes())
    assert served == expected
    assert locations == [f"{gateway_url}/v1/soap"] * 2


def test_public_url_setting_fixes_the_address(tmp_path, sandbox_url):
    server = gateway_with(tmp_path, sandbox_url, public_url="https://soap.example.com")
    try:
        _, locations = _without_addresses(requests.get(server.url + "/v1/soap?wsdl", timeout=5).content)
        assert locations == ["https://soap.example.com/v1/soap"] * 2
    finally:
        server.shutdown()


def test_forwarded_headers_are_honoured_only_behind_a_trusted_proxy(tmp_path, sandbox_url, gateway_url):
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "api.example.org"}
    _, untrusted = _without_addresses(requests.get(gateway_url + "/v1/soap?wsdl", headers=forwarded, timeout=5).content)
    assert untrusted == [f"{gateway_url}/v1/soap"] * 2
    server = gateway_with(tmp_path, sandbox_url, trust_proxy=True)
    try:
        _, trusted = _without_addresses(requests.get(server.url + "/v1/soap?wsdl", headers=forwarded, timeout=5).content)
        assert trusted == ["https://api.example.org/v1/soap"] * 2
    finally:
        server.shutdown()


def test_wsdl_declares_the_contract_of_the_issue():
    root = etree.parse(str(WSDL_FILE)).getroot()
    assert root.get("targetNamespace") == "Flowize"
    schema = root.find("wsdl:types/xsd:schema[@targetNamespace='Flowize']", NS)
    assert schema.get("elementFormDefault") == "unqualified"
    port_ops = root.findall("wsdl:portType/wsdl:operation", NS)
    assert {op.get("name") for op in port_ops} == OPERATIONS
    bindings = {b.get("name"): b for b in root.findall("wsdl:binding", NS)}
    assert bindings["FlowizeSoap11Binding"].find("soap:binding", NS).get("style") == "document"
    assert bindings["FlowizeSoap12Binding"].find("soap12:binding", NS) is not None
    response = schema.find("xsd:complexType[@name='Response']/xsd:sequence", NS)
    assert [e.get("name") for e in response] == ["Id", "Code", "RequestIP", "Resource", "Message", "Error"]


def test_every_schema_has_a_namespace_and_nothing_is_imported():
    """WS-I BP R2105: an embedded schema has a targetNamespace. Perl SOAP::WSDL cannot use a no-namespace
    schema at all, nor an <xsd:import> without a location (docs/soap-decisions.md, "Interop")."""
    root = etree.parse(str(WSDL_FILE)).getroot()
    schemas = root.findall("wsdl:types/xsd:schema", NS)
    assert [s.get("targetNamespace") for s in schemas] == ["Flowize"]
    assert root.findall(".//xsd:import", NS) == [] and root.findall(".//xsd:include", NS) == []
    for part in root.findall("wsdl:message/wsdl:part", NS):  # every part names a Flowize element
        assert part.get("element", "").startswith("tns:"), etree.tostring(part)


def test_faults_are_documented_not_declared():
    """A fault part must name a global element, always namespace-qualified, while the vendor's detail
    items are unqualified: the WSDL declares no wsdl:fault, and the wire stays the documented one (F4)."""
    root = etree.parse(str(WSDL_FILE)).getroot()
    assert root.findall(".//wsdl:fault", NS) == []
    assert root.findall(".//soap:fault", NS) == [] and root.findall(".//soap12:fault", NS) == []
    assert root.find("wsdl:message[@name='FlowizeFault']", NS) is None


def test_the_soap11_port_comes_first():
    """zeep, suds and other stacks that take a service's first port speak SOAP 1.1 by default."""
    root = etree.parse(str(WSDL_FILE)).getroot()
    ports = root.findall("wsdl:service/wsdl:port", NS)
    assert [p.get("name") for p in ports] == ["FlowizeSoap11", "FlowizeSoap12"]
    assert ports[0].find("soap:address", NS) is not None


def test_packaged_copy_is_the_checked_in_wsdl():
    """gateway/soap/flowize.wsdl is what an installed package serves when wsdl/ is not beside it: a
    symlink in the repository, a copy in a built package. Neither may drift from the contract."""
    assert PACKAGED_WSDL.read_bytes() == WSDL_FILE.read_bytes()


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_fault_detail_is_the_documented_unqualified_items(gateway_url, version):
    """The shape the WSDL's comment and flowize-api.txt describe: <detail><item><key/><value/></item>…,
    no namespace below the Fault, "code" first."""
    env = SOAP12_ENV if version == "1.2" else SOAP11_ENV
    envelope = (f'<s:Envelope xmlns:s="{env}" xmlns:f="Flowize"><s:Body><f:getRecord><input>'
                "<AuthenticationObject><Apikey>wrong-api-key</Apikey><Appkey>demo-app</Appkey>"
                "</AuthenticationObject><DataRecordObject><Uuid>x</Uuid></DataRecordObject>"
                "</input></f:getRecord></s:Body></s:Envelope>")
    content_type = "application/soap+xml" if version == "1.2" else "text/xml"
    resp = requests.post(f"{gateway_url}/v1/soap", data=envelope.encode(), timeout=10,
                         headers={"Content-Type": f"{content_type}; charset=utf-8"})
    fault = etree.fromstring(resp.content).find(f"{{{env}}}Body/{{{env}}}Fault")
    detail = fault.find(f"{{{env}}}Detail" if version == "1.2" else "detail")
    assert [child.tag for child in detail] == ["item", "item"]
    assert [[c.tag for c in item] for item in detail] == [["key", "value"], ["key", "value"]]
    assert {item.findtext("key"): item.findtext("value") for item in detail} == \
        {"code": "404", "message": "The credentials are not correct."}

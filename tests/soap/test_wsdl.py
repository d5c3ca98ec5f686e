"""The published WSDL is the checked-in contract; only soap:address follows the server."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from lxml import etree
from support import gateway_with

WSDL_FILE = Path(__file__).resolve().parents[2] / "wsdl" / "flowize.wsdl"
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
    for op in port_ops:  # a fault on every operation, with a typed detail
        assert op.find("wsdl:fault", NS) is not None, op.get("name")
    fault_part = root.find("wsdl:message[@name='FlowizeFault']/wsdl:part", NS)
    assert fault_part.get("element") == "item"
    bindings = {b.get("name"): b for b in root.findall("wsdl:binding", NS)}
    assert bindings["FlowizeSoap11Binding"].find("soap:binding", NS).get("style") == "document"
    assert bindings["FlowizeSoap12Binding"].find("soap12:binding", NS) is not None
    response = schema.find("xsd:complexType[@name='Response']/xsd:sequence", NS)
    assert [e.get("name") for e in response] == ["Id", "Code", "RequestIP", "Resource", "Message", "Error"]

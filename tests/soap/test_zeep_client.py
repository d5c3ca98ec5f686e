"""All eleven operations from zeep with the published WSDL, through the gateway to the sandbox and back."""

from __future__ import annotations

import base64
import json

import pytest
import zeep
from zeep.exceptions import Fault

AUTH = {"Apikey": "demo-api-key", "Appkey": "demo-app", "Version": "1"}
SCHEMA = {"Url": "www.example.nl", "Schema": base64.b64encode(b'{"type": "object"}').decode(),
          "DataRecord": base64.b64encode(b'{"client": []}').decode()}


def b64(value) -> str:
    return base64.b64encode(json.dumps(value).encode()).decode()


@pytest.fixture(params=["FlowizeSoap11", "FlowizeSoap12"])
def soap(request, gateway_url):
    client = zeep.Client(gateway_url + "/v1/soap?wsdl")
    return client.bind("FlowizeService", request.param)


def fault_items(fault: Fault) -> dict[str, str]:
    return {item.findtext("key"): item.findtext("value") for item in fault.detail.iter("item")}


def test_schema_operations(soap):
    created = soap.insertSchema(input={"AuthenticationObject": AUTH, "SchemaObject": SCHEMA})
    assert (created.Id, created.Code, created.Error) == ("created", "201", "null")
    got = soap.getSchema(input={"AuthenticationObject": AUTH})
    assert got.Code == "200" and json.loads(got.Resource)["schema"] == SCHEMA["Schema"]
    updated = soap.updateSchema(input={"AuthenticationObject": AUTH, "SchemaObject": {
        **SCHEMA, "Schema": base64.b64encode(b'{"type": "array"}').decode()}})
    assert updated.Code == "201" and json.loads(updated.Resource) == {"type": "array"}
    deleted = soap.deleteSchema(input={"AuthenticationObject": AUTH})
    assert deleted.Code == "200" and deleted.Message == "Schema has been removed successfully"
    with pytest.raises(Fault) as info:
        soap.getSchema(input={"AuthenticationObject": AUTH})
    assert info.value.code == "404" or info.value.code.endswith("Sender")


def test_record_operations(soap):
    data = {"client": [{"name": "Zeep", "age": 3}]}
    inserted = soap.insertRecord(input={"AuthenticationObject": AUTH,
                                        "DataRecordObject": {"Uuid": "zeep-1", "Data": b64(data)},
                                        "FlowDiagramObject": {"Flow": "demo-flow"}})
    assert (inserted.Id, inserted.Code, inserted.RequestIP) == ("created", "201", "127.0.0.1")
    assert json.loads(base64.b64decode(inserted.Resource)) == data
    got = soap.getRecord(input={"AuthenticationObject": AUTH, "DataRecordObject": {"Uuid": "zeep-1"}})
    assert got.Code == "200" and json.loads(got.Resource) == data
    new = {"client": [{"name": "Zeep", "age": 4}]}
    updated = soap.updateRecord(input={"AuthenticationObject": AUTH,
                                       "DataRecordObject": {"Uuid": "zeep-1", "Data": b64(new)}})
    assert updated.Code == "200"
    assert json.loads(soap.getRecord(input={"AuthenticationObject": AUTH,
                                            "DataRecordObject": {"Uuid": "zeep-1"}}).Resource) == new
    deleted = soap.deleteRecord(input={"AuthenticationObject": AUTH, "DataRecordObject": {"Uuid": "zeep-1"}})
    assert deleted.Message == "Data Record was removed successfully"


def test_flow_operations(soap):
    diagram = soap.getFlowDiagram(input={"AuthenticationObject": AUTH, "FlowDiagramObject": {"Flow": "demo-flow"}})
    assert diagram.Code == "200" and json.loads(diagram.Resource)["flow_name"] == "demo-flow"
    changed = soap.changeFlowStatus(input={"AuthenticationObject": AUTH,
                                           "FlowDiagramObject": {"FlowId": "1", "Status": "paused"}})
    assert changed.Message == "Flow diagram has been stopped successfully"


def test_webhook_success_is_the_documented_fault_201(soap):
    with pytest.raises(Fault) as info:
        soap.webhook(input={"Uri": "demo-webhook", "Payload": '{"order": 42}'})
    assert info.value.message == "Webhook response has been saved successfully"
    assert fault_items(info.value)["code"] == "201"


def test_wrong_apikey_gives_fault_with_vendor_code(gateway_url):
    client = zeep.Client(gateway_url + "/v1/soap?wsdl")
    with pytest.raises(Fault) as info:
        client.service.getRecord(input={"AuthenticationObject": {**AUTH, "Apikey": "wrong"},
                                        "DataRecordObject": {"Uuid": "demo-record"}})
    assert info.value.code == "404"
    assert info.value.message == "The credentials are not correct."
    assert info.value.actor
    assert fault_items(info.value) == {"code": "404", "message": "The credentials are not correct."}


def test_vendor_errors_map_to_faults(gateway_url):
    service = zeep.Client(gateway_url + "/v1/soap?wsdl").service
    cases = [
        (lambda: service.insertRecord(input={"AuthenticationObject": AUTH,
                                             "DataRecordObject": {"Uuid": "demo-record", "Data": b64({})},
                                             "FlowDiagramObject": {"Flow": "demo-flow"}}), "409"),
        (lambda: service.insertRecord(input={"AuthenticationObject": AUTH, "DataRecordObject": {"Data": b64({})},
                                             "FlowDiagramObject": {"Flow": "no-such-flow"}}), "404"),
        (lambda: service.changeFlowStatus(input={"AuthenticationObject": AUTH,
                                                 "FlowDiagramObject": {"FlowId": "3", "Status": "paused"}}), "402"),
        (lambda: service.getRecord(input={"AuthenticationObject": {**AUTH, "Appkey": "demo-app-restricted"},
                                          "DataRecordObject": {"Uuid": "demo-record"}}), "437"),
        (lambda: service.getRecord(input={"AuthenticationObject": AUTH, "DataRecordObject": {}}), "400"),
    ]
    for call, code in cases:
        with pytest.raises(Fault) as info:
            call()
        assert info.value.code == code, info.value.message


def test_upstream_outage_is_a_fault_not_a_500_page(gateway_url, sandbox_url, http):
    http.post(sandbox_url + "/_sandbox/faults", json={"path": "/v1/record", "status": 503}).raise_for_status()
    service = zeep.Client(gateway_url + "/v1/soap?wsdl").service
    with pytest.raises(Fault) as info:
        service.getRecord(input={"AuthenticationObject": AUTH, "DataRecordObject": {"Uuid": "demo-record"}})
    assert info.value.code in ("502", "503")
    http.post(sandbox_url + "/_sandbox/faults", json={"path": "/v1/record", "drop": True}).raise_for_status()
    with pytest.raises(Fault) as info:
        service.getRecord(input={"AuthenticationObject": AUTH, "DataRecordObject": {"Uuid": "demo-record"}})
    assert info.value.code in ("502", "503")

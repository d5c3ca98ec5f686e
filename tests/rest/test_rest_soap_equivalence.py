"""A REST call and the equivalent SOAP call give the same result: both go through the same operations.

Pairwise: write through one front door, read through the other, and compare the fields; the same
failure gives the same code through both.
"""

from __future__ import annotations

import base64
import json

from support import DEMO_HEADERS, b64json

AUTH = "<AuthenticationObject><Apikey>demo-api-key</Apikey><Appkey>demo-app</Appkey></AuthenticationObject>"


def envelope(operation: str, inner: str) -> str:
    return ('<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:mym="Flowize">'
            f"<soapenv:Body><mym:{operation}><input>{AUTH}{inner}</input></mym:{operation}></soapenv:Body>"
            "</soapenv:Envelope>")


def soap_get_record(post_soap, uuid: str):
    return post_soap(envelope("getRecord", f"<DataRecordObject><Uuid>{uuid}</Uuid></DataRecordObject>"))


def test_insert_via_rest_read_via_soap(http, gateway_url, post_soap):
    data = {"client": [{"name": "Rest Writer", "age": 51}]}
    created = http.post(gateway_url + "/v1/record", json=data, timeout=10,
                        headers={**DEMO_HEADERS, "X-Flow": "demo-flow", "X-Uuid": "pair-1"})
    assert created.status_code == 201
    result = soap_get_record(post_soap, "pair-1").result()
    rest = http.get(gateway_url + "/v1/record/pair-1", headers=DEMO_HEADERS, timeout=10).json()
    assert json.loads(result["Resource"]) == rest["resource"]["data_record"] == data
    assert result["Message"] == rest["message"] and result["Code"] == "200"


def test_insert_via_soap_read_via_rest(http, gateway_url, post_soap):
    data = {"client": [{"name": "Soap Writer", "age": 60}]}
    inserted = post_soap(envelope("insertRecord",
                                  f"<DataRecordObject><Uuid>pair-2</Uuid><Data>{b64json(data)}</Data></DataRecordObject>"
                                  "<FlowDiagramObject><Flow>demo-flow</Flow></FlowDiagramObject>")).result()
    assert inserted["Code"] == "201"
    rest = http.get(gateway_url + "/v1/record", headers={**DEMO_HEADERS, "X-Uuid": "pair-2"}, timeout=10).json()
    assert rest["resource"]["data_record"] == data
    assert json.loads(base64.b64decode(inserted["Resource"])) == data
    # and an update through REST is what SOAP reads next
    http.put(gateway_url + "/v1/record/pair-2", json={"v": 2}, headers=DEMO_HEADERS, timeout=10).raise_for_status()
    assert json.loads(soap_get_record(post_soap, "pair-2").result()["Resource"]) == {"v": 2}


def test_schema_and_flowdiagram_agree(http, gateway_url, post_soap):
    schema = {"Schema": b64json({"type": "object"}), "DataRecord": b64json({"client": []})}
    soap_insert = post_soap(envelope("insertSchema", "<SchemaObject><Url>www.example.nl</Url>"
                                     f"<Schema>{schema['Schema']}</Schema><DataRecord>{schema['DataRecord']}</DataRecord>"
                                     "</SchemaObject>")).result()
    assert soap_insert["Code"] == "201"
    rest = http.get(gateway_url + "/v1/schema", headers=DEMO_HEADERS, timeout=10).json()
    soap = post_soap(envelope("getSchema", "")).result()
    assert json.loads(soap["Resource"]) == rest["resource"] and soap["Message"] == rest["message"]
    assert rest["resource"]["schema"] == schema["Schema"]
    diagram_rest = http.get(gateway_url + "/v1/flowdiagram", headers={**DEMO_HEADERS, "X-Flow": "demo-flow"},
                            timeout=10).json()
    diagram_soap = post_soap(envelope("getFlowDiagram", "<FlowDiagramObject><Flow>demo-flow</Flow>"
                                      "</FlowDiagramObject>")).result()
    assert json.loads(diagram_soap["Resource"]) == diagram_rest["resource"]


def test_flow_status_change_via_rest_seen_via_soap(http, gateway_url, post_soap):
    http.put(gateway_url + "/v1/changeflowstatus", headers={**DEMO_HEADERS, "X-Flow-Id": "1", "X-Status": "paused"},
             timeout=10).raise_for_status()
    soap = post_soap(envelope("getFlowDiagram", "<FlowDiagramObject><FlowId>1</FlowId></FlowDiagramObject>")).result()
    assert json.loads(soap["Resource"])["current_flow"]["status"] == "paused"
    # the same impossible change fails with the same code through both doors
    rest = http.put(gateway_url + "/v1/changeflowstatus", timeout=10,
                    headers={**DEMO_HEADERS, "X-Flow-Id": "1", "X-Status": "paused"})
    fault = post_soap(envelope("changeFlowStatus", "<FlowDiagramObject><FlowId>1</FlowId><Status>paused</Status>"
                               "</FlowDiagramObject>")).fault()
    assert rest.status_code == 402 and fault["detail.code"] == str(rest.json()["error"]["code"]) == "402"
    assert fault["faultstring"] == rest.json()["error"]["message"]


def test_same_error_same_code(http, gateway_url, post_soap):
    rest = http.get(gateway_url + "/v1/record/missing", headers=DEMO_HEADERS, timeout=10)
    fault = soap_get_record(post_soap, "missing").fault()
    assert rest.status_code == 404 and fault["detail.code"] == "404"
    assert fault["faultstring"] == rest.json()["error"]["message"]
    delete_rest = http.delete(gateway_url + "/v1/record/demo-record", headers=DEMO_HEADERS, timeout=10)
    assert delete_rest.status_code == 200
    gone = post_soap(envelope("deleteRecord", "<DataRecordObject><Uuid>demo-record</Uuid></DataRecordObject>")).fault()
    assert gone["detail.code"] == "404"

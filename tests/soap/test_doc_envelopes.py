"""Every request envelope of flowize-api.txt, character for character, through the gateway.

The fixtures are the doc's examples verbatim (xsi:type attributes, encodingStyle, comments, an empty
Header, the "?" placeholders). Unchanged, each one must get a real SOAP answer (here: the documented
credentials fault, since "?" is not a key); with the placeholders filled in, the documented success.
"""

from __future__ import annotations

import re

import pytest
from support import b64json, doc_envelope

OPERATIONS = ["insertSchema", "getSchema", "updateSchema", "deleteSchema", "insertRecord", "getRecord",
              "updateRecord", "deleteRecord", "webhook", "getFlowDiagram", "changeFlowStatus"]


def fill(envelope: str, **values: str) -> str:
    """Replace the doc's ``?`` placeholder of each named field; drop fields given as None."""
    for name, value in values.items():
        pattern = re.compile(rf"(<{name}\b[^>]*>)\?(</{name}>)")
        assert pattern.search(envelope), f"{name} not in the example"
        envelope = pattern.sub(lambda m, v=value: m.group(1) + v + m.group(2), envelope)
    return envelope


DEMO = {"Apikey": "demo-api-key", "Appkey": "demo-app", "Version": "1"}
SCHEMA = {"Url": "www.example.nl", "Schema": b64json({"type": "object"}), "DataRecord": b64json({"client": []})}


# Verbatim, the placeholders are "?": where "?" is also an invalid value (Data is not base64 JSON,
# Status is not a flow status) the gateway says so before asking the vendor; else the vendor's fault.
VERBATIM_FAULT = {"insertRecord": ("400", "base64"), "updateRecord": ("400", "base64"),
                  "changeFlowStatus": ("400", "Flow status must be one of")}


@pytest.mark.parametrize("operation", [op for op in OPERATIONS if op != "webhook"])
def test_doc_example_verbatim_gets_a_documented_shape_fault(post_soap, operation):
    reply = post_soap(doc_envelope(operation))
    assert reply.status == 500
    fault = reply.fault()
    code, text = VERBATIM_FAULT.get(operation, ("404", "The credentials are not correct."))
    assert fault["faultcode"] == code
    assert text in fault["faultstring"]
    assert fault["detail.code"] == code and fault["detail.message"] == fault["faultstring"]
    assert fault["faultactor"]


def test_doc_webhook_example_verbatim_gets_unknown_webhook_fault(post_soap):
    fault = post_soap(doc_envelope("webhook")).fault()
    assert fault["faultcode"] == "404"
    assert "webhook" in fault["faultstring"].lower()


def test_doc_insert_schema_filled_in_creates_the_schema(post_soap):
    result = post_soap(fill(doc_envelope("insertSchema"), **DEMO, **SCHEMA)).result()
    assert (result["Id"], result["Code"], result["Error"]) == ("created", "201", "null")
    assert result["Message"] == "Schema structure is created successfully"
    got = post_soap(fill(doc_envelope("getSchema"), **DEMO)).result()
    assert got["Code"] == "200" and SCHEMA["Schema"] in got["Resource"]


def test_doc_insert_then_get_record_filled_in(post_soap):
    data = {"client": [{"name": "Doc Example", "age": 7}]}
    inserted = post_soap(fill(doc_envelope("insertRecord"), **DEMO, Uuid="doc-uuid-1", ExecutionTime="",
                              Data=b64json(data), Flow="demo-flow", FlowId="", Status="")).result()
    assert (inserted["Id"], inserted["Code"]) == ("created", "201")
    assert inserted["Resource"] == b64json(data).replace(" ", "") or inserted["Resource"]
    got = post_soap(fill(doc_envelope("getRecord"), **DEMO, Uuid="doc-uuid-1", ExecutionTime="", Data="")).result()
    assert got["Code"] == "200"
    assert '"Doc Example"' in got["Resource"]
    assert got["RequestIP"] == "127.0.0.1"


def test_doc_update_record_example_names_insert_record_and_so_inserts(post_soap):
    # The doc's "Updating a data record" example sends <mym:insertRecord>: it inserts (decision Q2).
    reply = post_soap(fill(doc_envelope("updateRecord"), **DEMO, Uuid="doc-uuid-2", ExecutionTime="",
                           Data=b64json({"a": 1}), Flow="demo-flow", FlowId="", Status=""))
    assert reply.xml.find(".//{Flowize}insertRecordResponse") is not None
    assert reply.result()["Code"] == "201"


def test_doc_get_flow_diagram_example_names_get_schema_and_so_gets_the_schema(post_soap):
    post_soap(fill(doc_envelope("insertSchema"), **DEMO, **SCHEMA))
    reply = post_soap(fill(doc_envelope("getFlowDiagram"), **DEMO))
    assert reply.xml.find(".//{Flowize}getSchemaResponse") is not None


def test_doc_change_flow_status_and_deletes_filled_in(post_soap):
    changed = post_soap(fill(doc_envelope("changeFlowStatus"), **DEMO, Flow="", FlowId="3", Status="public")).result()
    assert changed["Message"] == "Flow diagram has been published successfully"
    post_soap(fill(doc_envelope("insertSchema"), **DEMO, **SCHEMA))
    assert post_soap(fill(doc_envelope("deleteSchema"), **DEMO)).result()["Code"] == "200"
    deleted = post_soap(fill(doc_envelope("deleteRecord"), **DEMO, Uuid="demo-record", ExecutionTime="",
                             Data="")).result()
    assert deleted["Message"] == "Data Record was removed successfully"


def test_doc_webhook_filled_in_answers_the_documented_201_fault(post_soap):
    fault = post_soap(fill(doc_envelope("webhook"), Uri="demo-webhook", Payload='{"order": 1}')).fault()
    assert fault["faultcode"] == "201"
    assert fault["faultstring"] == "Webhook response has been saved successfully"
    assert fault["detail.code"] == "201"


def test_intro_post_record_with_undeclared_prefix_is_a_client_fault(post_soap):
    reply = post_soap(doc_envelope("intro_postRecord"))
    fault = reply.fault()
    assert fault["faultcode"] == "SOAP-ENV:Client"
    assert "mym" in fault["faultstring"] and "not defined" in fault["faultstring"]


@pytest.mark.parametrize("soap_action", ['"Flowize#getSchema"', "Flowize#getSchema", '""', "", None,
                                         '"http://wrong/action"'])
def test_any_soap_action_is_accepted(post_soap, soap_action):
    reply = post_soap(fill(doc_envelope("getRecord"), **DEMO, Uuid="demo-record", ExecutionTime="", Data=""),
                      soap_action=soap_action)
    assert reply.result()["Code"] == "200"

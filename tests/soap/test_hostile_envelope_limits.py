"""The SOAP front door's limits, as a client sees them: the configured body cap is the one that
applies (not Spyne's own 2 MiB), an envelope holds one Body with one operation or gets a Client
fault, and a rate-limit fault says when to retry, in the HTTP header and in the fault's detail."""

from __future__ import annotations

import pytest
import requests
from support import SOAP11, SOAP12, add_fault, b64json

ENV = {"1.1": SOAP11, "1.2": SOAP12}
AUTH = "<AuthenticationObject><Apikey>demo-api-key</Apikey><Appkey>demo-app</Appkey></AuthenticationObject>"


def envelope(version: str, body: str) -> str:
    return f'<s:Envelope xmlns:s="{ENV[version]}" xmlns:f="Flowize"><s:Body>{body}</s:Body></s:Envelope>'


def get_record(uuid: str) -> str:
    return f"<f:getRecord><input>{AUTH}<DataRecordObject><Uuid>{uuid}</Uuid></DataRecordObject></input></f:getRecord>"


def delete_record(uuid: str) -> str:
    return (f"<f:deleteRecord><input>{AUTH}<DataRecordObject><Uuid>{uuid}</Uuid></DataRecordObject></input>"
            "</f:deleteRecord>")


def fault_of(reply, version: str) -> dict[str, str]:
    """faultcode (1.1) or Code/Value (1.2), the message, and the detail items, for either version."""
    if version == "1.1":
        return reply.fault()
    ns = f"{{{SOAP12}}}"
    fault = reply.xml.find(f".//{ns}Fault")
    assert fault is not None, reply.response.text
    items = {i.findtext("key"): i.findtext("value") for i in fault.find(f"{ns}Detail")}
    return {"faultcode": fault.findtext(f"{ns}Code/{ns}Value"), "faultstring": fault.findtext(f"{ns}Reason/{ns}Text"),
            **{f"detail.{k}": v for k, v in items.items()}}


def test_an_envelope_over_spynes_2_mib_but_under_the_setting_is_not_refused_for_size(post_soap):
    data = b64json({"blob": "x" * (3 * 1024 * 1024)})
    body = (f"<f:insertRecord><input>{AUTH}<DataRecordObject><Uuid>big-soap-1</Uuid><Data>{data}</Data>"
            "</DataRecordObject><FlowDiagramObject><Flow>demo-flow</Flow></FlowDiagramObject></input></f:insertRecord>")
    payload = envelope("1.1", body)
    assert 3 * 1024 * 1024 < len(payload) < 10 * 1024 * 1024
    reply = post_soap(payload)
    assert reply.xml.find(f".//{{{SOAP11}}}Fault") is None, reply.response.text[:500]
    assert reply.result()["Code"] == "201"


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_a_second_body_is_a_client_fault(post_soap, version):
    payload = (f'<s:Envelope xmlns:s="{ENV[version]}" xmlns:f="Flowize"><s:Body>{get_record("demo-record")}</s:Body>'
               f'<s:Body>{delete_record("demo-record")}</s:Body></s:Envelope>')
    reply = post_soap(payload, version=version)
    fault = fault_of(reply, version)
    assert fault["faultcode"] == ("SOAP-ENV:Client" if version == "1.1" else "soap:Sender")
    assert "2 Body elements" in fault["faultstring"]
    assert reply.status == (500 if version == "1.1" else 400)


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_a_second_operation_in_the_body_is_a_client_fault_and_neither_runs(post_soap, version, sandbox_url):
    reply = post_soap(envelope(version, get_record("demo-record") + delete_record("demo-record")), version=version)
    fault = fault_of(reply, version)
    assert fault["faultcode"] == ("SOAP-ENV:Client" if version == "1.1" else "soap:Sender")
    assert "2 elements (getRecord, deleteRecord)" in fault["faultstring"]
    assert "exactly one operation" in fault["faultstring"]
    still = requests.get(sandbox_url + "/v1/record", headers={"X-Apikey": "demo-api-key", "X-App": "demo-app",
                                                              "X-Uuid": "demo-record"}, timeout=10)
    assert still.status_code == 200  # the deleteRecord was not run either


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_a_rate_limit_fault_carries_retry_after_in_the_header_and_the_detail(post_soap, sandbox_url, version):
    # Longer than the gateway waits itself (GATEWAY_HTTP_MAX_RETRY_AFTER), so it goes back to the client.
    add_fault(sandbox_url, path="/v1/record", method="GET", status=429, retry_after=30)
    reply = post_soap(envelope(version, get_record("demo-record")), version=version)
    fault = fault_of(reply, version)
    assert fault["detail.code"] == "429"
    assert reply.response.headers["Retry-After"] == "30"
    assert fault["detail.retryAfter"] == "30"
    # The documented items keep their place: code, message, then the hint.
    assert [k for k in fault if k.startswith("detail.")] == ["detail.code", "detail.message", "detail.retryAfter"]
    # Other faults carry no hint.
    requests.delete(sandbox_url + "/_sandbox/faults", timeout=5).raise_for_status()
    other = post_soap(envelope(version, get_record("no-such-record")), version=version)
    assert fault_of(other, version)["detail.code"] == "404" and "detail.retryAfter" not in fault_of(other, version)
    assert "Retry-After" not in other.response.headers


@pytest.mark.parametrize("data", ['{"a": NaN}', '{"a": Infinity}', "[" * 5000 + "]" * 5000])
def test_record_data_that_is_not_finite_json_is_a_client_fault(post_soap, data):
    import base64

    encoded = base64.b64encode(data.encode()).decode()
    body = (f"<f:insertRecord><input>{AUTH}<FlowDiagramObject><Flow>demo-flow</Flow></FlowDiagramObject>"
            f"<DataRecordObject><Data>{encoded}</Data></DataRecordObject></input></f:insertRecord>")
    reply = post_soap(envelope("1.1", body))
    fault = reply.fault()
    assert fault["faultcode"] == "400", fault

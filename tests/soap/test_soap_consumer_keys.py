"""The SOAP door in gateway-held mode: a Flowgate consumer key, as the AuthenticationObject's Apikey or
as the AuthenticationHeader's AccessToken, stands for that consumer's upstream credentials — the
same credential policy as REST (gateway/operations/credentials.py). Vendor keys, unknown and revoked
consumer keys get the credentials fault."""

from __future__ import annotations

import base64
import json

import pytest
import zeep
from zeep.exceptions import Fault

ENV11 = ('<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:f="Flowize">'
         '{header}<s:Body>{body}</s:Body></s:Envelope>')
ENV12 = ('<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:f="Flowize">'
         '{header}<s:Body>{body}</s:Body></s:Envelope>')
OWN_UPSTREAM = {"upstream_style": "apikey", "upstream_api_key": "demo-api-key", "upstream_app_key": "demo-app"}
WRONG = {"faultcode": "404", "faultstring": "The credentials are not correct."}


def auth(apikey: str, appkey: str = "") -> str:
    return f"<AuthenticationObject><Apikey>{apikey}</Apikey><Appkey>{appkey}</Appkey></AuthenticationObject>"


def token_header(token: str) -> str:
    return (f'<s:Header><f:AuthenticationHeader><AccessToken>{token}</AccessToken>'
            f'</f:AuthenticationHeader></s:Header>')


def get_record(credentials: str, uuid: str = "demo-record") -> str:
    return (f"<f:getRecord><input>{credentials}<DataRecordObject><Uuid>{uuid}</Uuid></DataRecordObject>"
            f"</input></f:getRecord>")


@pytest.fixture
def held(gateway_factory):
    """A gateway with GATEWAY_REST_AUTH=gateway; ``held.add(**fields)`` makes a consumer, returns its key."""
    gw = gateway_factory(rest_auth="gateway")
    consumers = gw.server.app.extensions["flowgate"].consumers

    def add(name: str = "soap-co", **fields) -> str:
        return consumers.add(name, **{**OWN_UPSTREAM, **fields}).key

    gw.add = add
    gw.consumers = consumers
    return gw


def fault_of(reply) -> dict[str, str]:
    fault = reply.fault()
    return {"faultcode": fault["faultcode"], "faultstring": fault["faultstring"]}


def test_consumer_key_as_apikey_gets_the_consumers_upstream_credentials(post_soap, held):
    key = held.add()
    result = post_soap(ENV11.format(header="", body=get_record(auth(key))), url=held.url).result()
    assert result["Code"] == "200", result
    assert json.loads(result["Resource"])  # the sandbox's demo record, fetched with demo-api-key


def test_consumer_key_as_access_token_in_the_header(post_soap, held):
    key = held.add()
    result = post_soap(ENV11.format(header=token_header(key), body=get_record("")), url=held.url).result()
    assert result["Code"] == "200", result


def test_vendor_keys_unknown_and_revoked_consumer_keys_are_the_credentials_fault(post_soap, held):
    key = held.add("to-revoke")
    assert post_soap(ENV11.format(header="", body=get_record(auth(key))), url=held.url).result()["Code"] == "200"
    held.consumers.revoke("to-revoke")
    for body, header in ((get_record(auth(key)), ""),                          # revoked
                         (get_record(auth("fg_" + "x" * 43)), ""),              # unknown
                         (get_record(auth("demo-api-key", "demo-app")), ""),    # a vendor key
                         (get_record(""), token_header("fg_unknown")),          # unknown, as a token
                         (get_record(""), "")):                                 # nothing at all
        reply = post_soap(ENV11.format(header=header, body=body), url=held.url)
        assert reply.status == 500 and fault_of(reply) == WRONG, reply.response.text


def test_vendor_key_over_soap12_is_a_sender_fault(post_soap, held):
    held.add()
    reply = post_soap(ENV12.format(header="", body=get_record(auth("demo-api-key", "demo-app"))), version="1.2",
                      url=held.url)
    ns = "{http://www.w3.org/2003/05/soap-envelope}"
    assert reply.status == 400
    fault = reply.xml.find(f".//{ns}Fault")
    assert fault.find(f"{ns}Code/{ns}Value").text.endswith(":Sender")
    assert fault.findtext(f"{ns}Reason/{ns}Text") == "The credentials are not correct."


def test_consumer_ip_allowlist_gives_fault_437(post_soap, held):
    far = held.add("far-away", ip_allowlist="203.0.113.7")
    reply = post_soap(ENV11.format(header="", body=get_record(auth(far))), url=held.url)
    assert fault_of(reply) == {"faultcode": "437", "faultstring": "Ip not valid"}
    near = held.add("near", ip_allowlist="127.0.0.1")
    assert post_soap(ENV11.format(header="", body=get_record(auth(near))), url=held.url).result()["Code"] == "200"


def test_consumers_own_credentials_win_over_the_settings_ones(post_soap, gateway_factory):
    # Settings hold credentials the vendor refuses; a consumer with its own gets through, one
    # without falls back to the settings' (and so meets the vendor's refusal).
    gw = gateway_factory(flowize_auth="apikey", flowize_api_key="not-a-vendor-key", flowize_app_key="demo-app")
    consumers = gw.server.app.extensions["flowgate"].consumers
    own = consumers.add("own", **OWN_UPSTREAM).key
    borrowed = consumers.add("borrowed").key
    assert post_soap(ENV11.format(header="", body=get_record(auth(own))), url=gw.url).result()["Code"] == "200"
    assert fault_of(post_soap(ENV11.format(header="", body=get_record(auth(borrowed))), url=gw.url)) == WRONG
    # the vendor key the settings would have used does not let an anonymous caller in either
    anonymous = post_soap(ENV11.format(header="", body=get_record(auth("whatever", "demo-app"))), url=gw.url)
    assert fault_of(anonymous) == WRONG


def test_zeep_with_a_consumer_key_inserts_and_gets_a_record(held):
    key = held.add()
    soap = zeep.Client(held.url + "/v1/soap?wsdl").bind("FlowizeService", "FlowizeSoap11")
    credentials = {"Apikey": key, "Appkey": "", "Version": "1"}
    data = {"client": [{"name": "Consumer", "age": 1}]}
    inserted = soap.insertRecord(input={
        "AuthenticationObject": credentials,
        "DataRecordObject": {"Uuid": "consumer-1", "Data": base64.b64encode(json.dumps(data).encode()).decode()},
        "FlowDiagramObject": {"Flow": "demo-flow"}})
    assert inserted.Code == "201"
    got = soap.getRecord(input={"AuthenticationObject": credentials, "DataRecordObject": {"Uuid": "consumer-1"}})
    assert json.loads(got.Resource) == data
    with pytest.raises(Fault) as info:
        soap.getRecord(input={"AuthenticationObject": {**credentials, "Apikey": "demo-api-key"},
                              "DataRecordObject": {"Uuid": "consumer-1"}})
    assert info.value.code == "404" and info.value.message == "The credentials are not correct."


"""What legacy stacks send besides the doc's exact form: qualified children, any order, gaps, SOAP 1.2."""

from __future__ import annotations

from support import b64json, gateway_with

ENV11 = ('<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:f="Flowize">'
         '{header}<s:Body>{body}</s:Body></s:Envelope>')
ENV12 = ('<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:f="Flowize">'
         '<s:Body>{body}</s:Body></s:Envelope>')
AUTH = "<AuthenticationObject><Apikey>demo-api-key</Apikey><Appkey>demo-app</Appkey></AuthenticationObject>"


def get_record(uuid: str, auth: str = AUTH) -> str:
    return f"<f:getRecord><input>{auth}<DataRecordObject><Uuid>{uuid}</Uuid></DataRecordObject></input></f:getRecord>"


def test_qualified_children_are_accepted(post_soap):
    body = ("<f:getRecord><f:input><f:DataRecordObject><f:Uuid>demo-record</f:Uuid></f:DataRecordObject>"
            "<f:AuthenticationObject><f:Appkey>demo-app</f:Appkey><f:Apikey>demo-api-key</f:Apikey>"
            "</f:AuthenticationObject></f:input></f:getRecord>")
    assert post_soap(ENV11.format(header="", body=body)).result()["Code"] == "200"


def test_fields_in_any_order_and_missing_optional_fields(post_soap):
    data = b64json({"x": 1})
    body = (f"<f:insertRecord><input><FlowDiagramObject><Flow>demo-flow</Flow></FlowDiagramObject>"
            f"<DataRecordObject><Data>{data}</Data></DataRecordObject>"
            f"<AuthenticationObject><Appkey>demo-app</Appkey><Apikey>demo-api-key</Apikey></AuthenticationObject>"
            f"</input></f:insertRecord>")
    result = post_soap(ENV11.format(header="", body=body)).result()
    assert result["Code"] == "201"


def test_soap12_request_is_answered_in_soap12(post_soap):
    reply = post_soap(ENV12.format(body=get_record("demo-record")), version="1.2")
    assert reply.response.headers["Content-Type"].startswith("application/soap+xml")
    assert reply.xml.tag == "{http://www.w3.org/2003/05/soap-envelope}Envelope"
    assert reply.result()["Code"] == "200"


def test_soap12_fault_carries_sender_code_and_vendor_detail(post_soap):
    reply = post_soap(ENV12.format(body=get_record("no-such-record")), version="1.2")
    ns = "{http://www.w3.org/2003/05/soap-envelope}"
    assert reply.status == 400  # the SOAP 1.2 HTTP binding: Sender faults are 400
    fault = reply.xml.find(f".//{ns}Fault")
    value = fault.find(f"{ns}Code/{ns}Value")
    prefix, local = value.text.split(":")
    assert local == "Sender" and value.nsmap[prefix] == ns.strip("{}")  # a QName that resolves
    assert "doesn't exist" in fault.findtext(f"{ns}Reason/{ns}Text")
    items = {i.findtext("key"): i.findtext("value") for i in fault.find(f"{ns}Detail")}
    assert items["code"] == "404"


def test_access_token_in_soap_header_authenticates(post_soap, sandbox_url, http):
    token = http.get(sandbox_url + "/v1/checkauthentication", headers={
        "client_id": "demo-client-id", "client_secret": "demo-client-secret",
        "grant_type": "client_credentials"}).json()["resource"]["access_token"]
    for field in ("AccessToken", "SessionID"):
        header = (f'<s:Header><tns:AuthenticationHeader xmlns:tns="Flowize"><{field}>{token}</{field}>'
                  f'</tns:AuthenticationHeader></s:Header>')
        reply = post_soap(ENV11.format(header=header, body=get_record("demo-record", auth="")))
        assert reply.result()["Code"] == "200", field


def test_expired_or_bogus_header_token_gives_fault_436(post_soap):
    header = ('<s:Header><AuthenticationHeader xmlns="Flowize"><AccessToken xmlns="">bogus</AccessToken>'
              '</AuthenticationHeader></s:Header>')
    fault = post_soap(ENV11.format(header=header, body=get_record("demo-record", auth=""))).fault()
    assert fault["faultcode"] == "436"
    assert fault["faultstring"] == "Access token not valid"


def test_missing_credentials_is_the_credentials_fault(post_soap):
    fault = post_soap(ENV11.format(header="", body=get_record("demo-record", auth=""))).fault()
    assert fault["faultcode"] == "404"


def test_request_ip_is_the_client_address(post_soap):
    assert post_soap(ENV11.format(header="", body=get_record("demo-record"))).result()["RequestIP"] == "127.0.0.1"


def test_invalid_base64_data_is_a_400_fault(post_soap):
    body = ("<f:insertRecord><input>" + AUTH + "<DataRecordObject><Data>%%%not json%%%</Data></DataRecordObject>"
            "<FlowDiagramObject><Flow>demo-flow</Flow></FlowDiagramObject></input></f:insertRecord>")
    fault = post_soap(ENV11.format(header="", body=body)).fault()
    assert fault["faultcode"] == "400" and "base64" in fault["faultstring"]


def test_plain_json_data_is_accepted_too(post_soap):
    body = ("<f:insertRecord><input>" + AUTH + '<DataRecordObject><Data>{"plain": true}</Data></DataRecordObject>'
            "<FlowDiagramObject><Flow>demo-flow</Flow></FlowDiagramObject></input></f:insertRecord>")
    assert post_soap(ENV11.format(header="", body=body)).result()["Code"] == "201"


def test_request_ip_honours_x_forwarded_for_only_behind_a_trusted_proxy(tmp_path, sandbox_url, post_soap):
    envelope = ENV11.format(header="", body=get_record("demo-record"))
    spoofed = {"X-Forwarded-For": "198.51.100.23, 10.0.0.1"}
    assert post_soap(envelope, headers=spoofed).result()["RequestIP"] == "127.0.0.1"
    server = gateway_with(tmp_path, sandbox_url, trust_proxy=True)
    try:
        # One trusted hop: the address the proxy added (the rightmost), as REST sees it; the leftmost
        # entry is whatever the client claimed.
        assert post_soap(envelope, headers=spoofed, url=server.url).result()["RequestIP"] == "10.0.0.1"
    finally:
        server.shutdown()


def test_webhook_can_answer_a_plain_response_instead_of_the_vendors_201_fault(tmp_path, sandbox_url, post_soap):
    body = '<f:webhook><input><Uri>demo-webhook</Uri><Payload>{"order": 7}</Payload></input></f:webhook>'
    server = gateway_with(tmp_path, sandbox_url, soap_webhook_success_as_fault=False)
    try:
        reply = post_soap(ENV11.format(header="", body=body), url=server.url)
        assert reply.status == 200
        result = reply.result()
        assert (result["Id"], result["Code"], result["Message"]) == ("created", "201", "Data stored successfully")
    finally:
        server.shutdown()


def test_values_a_header_cannot_carry_get_a_400_fault_not_an_upstream_error(post_soap):
    fault = post_soap(ENV11.format(header="", body=get_record("r\u00e9cord-\u263a"))).fault()
    assert fault["faultcode"] == "400" and "ISO-8859-1" in fault["faultstring"]

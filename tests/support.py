"""Helpers shared by the test modules (import as ``from support import ...``)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import requests
from lxml import etree

from gateway.config import Settings
from gateway.server import serve_in_thread

FIXTURES = Path(__file__).parent / "soap" / "fixtures"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"


def b64json(value) -> str:
    return base64.b64encode(json.dumps(value).encode()).decode()


def doc_envelope(name: str) -> str:
    return (FIXTURES / f"doc_{name}.xml").read_text(encoding="utf-8")


class SoapReply:
    def __init__(self, response: requests.Response):
        self.response = response
        self.status = response.status_code
        self.xml = etree.fromstring(response.content)

    def result(self) -> dict[str, str]:
        """The <opResult> children as a dict (unqualified, as the WSDL says)."""
        body = self.xml.find(f"{{{SOAP11}}}Body")
        if body is None:
            body = self.xml.find(f"{{{SOAP12}}}Body")
        wrapper = body[0]
        assert etree.QName(wrapper).namespace == "Flowize", "operation response must be qualified"
        result = wrapper[0]
        assert etree.QName(result).namespace is None, "result element must be unqualified"
        out = {}
        for child in result:
            assert etree.QName(child).namespace is None, f"{child.tag} must be unqualified"
            out[child.tag] = child.text or ""
        return out

    def fault(self) -> dict[str, str]:
        fault = self.xml.find(f".//{{{SOAP11}}}Fault")
        assert fault is not None, etree.tostring(self.xml).decode()
        items = {i.findtext("key"): i.findtext("value") for i in fault.find("detail")}
        return {"faultcode": fault.findtext("faultcode"), "faultstring": fault.findtext("faultstring"),
                "faultactor": fault.findtext("faultactor"), **{f"detail.{k}": v for k, v in items.items()}}



DEMO_HEADERS = {"X-Apikey": "demo-api-key", "X-App": "demo-app"}
DEMO_PARAMS = {"api_key": "demo-api-key", "app_key": "demo-app"}
DEMO_OAUTH = {"client_id": "demo-client-id", "client_secret": "demo-client-secret", "grant_type": "client_credentials"}


def gateway_with(tmp_path, sandbox_url: str, **overrides):
    """A separate gateway server with its own settings; the caller shuts it down."""
    from gateway.app import create_app

    settings = Settings(data_dir=str(tmp_path), flowize_base_url=sandbox_url, **overrides)
    return serve_in_thread(create_app(settings))

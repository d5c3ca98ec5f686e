"""Helpers shared by the test modules (import as ``from support import ...``)."""

from __future__ import annotations

import base64
import json
import socket
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


def free_port() -> int:
    """A loopback port nothing listens on: the system picked it free just now (connections to it
    are refused until something binds it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def vendor_urls(sandbox_url: str) -> dict[str, str]:
    """Every vendor's base URL pointed at one sandbox (they share it, as in embedded mode)."""
    return {f"{vendor}_base_url": sandbox_url for vendor in ("flowize", "flowcode", "exaroutes", "flowevents", "flowbox")}


def gateway_with(tmp_path, sandbox_url: str, **overrides):
    """A separate gateway server with its own settings; the caller shuts it down."""
    from gateway.app import create_app

    # Tests inject faults on purpose; unless a test is about the circuit breaker, keep it closed.
    overrides.setdefault("breaker_fail_max", 100_000)
    settings = Settings(data_dir=str(tmp_path), **{**vendor_urls(sandbox_url), **overrides})
    return serve_in_thread(create_app(settings))


def migrated_store(request, tmp_path, engine: str):
    """A migrated Store on ``engine`` ("sqlite" or "postgres", the latter in a schema of its own).

    Returns (store, cleanup). PostgreSQL comes from the ``postgres_url`` fixture, which skips or
    fails (GATEWAY_REQUIRE_SERVICES) when the server is absent.
    """
    import uuid

    import sqlalchemy as sa

    from gateway.store import Store

    if engine == "sqlite":
        store = Store(f"sqlite:///{tmp_path / 'gw.db'}")
        store.migrate()
        return store, store.dispose
    url = request.getfixturevalue("postgres_url")
    schema = "t_" + uuid.uuid4().hex[:10]
    admin = sa.create_engine(url)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    store = Store(url)
    store.engine = sa.create_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    store._sessions.configure(bind=store.engine)
    store.migrate()

    def cleanup() -> None:
        store.dispose()
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()

    return store, cleanup


def fast_http_client(**overrides):
    """An HttpClient with short timeouts and one quick retry, for tests of failure handling."""
    from gateway.http import HttpClient

    values = {"http_retries": 1, "http_backoff": 0.01, "http_connect_timeout": 0.5, "http_read_timeout": 1.0,
              "http_max_retry_after": 2.0}
    values.update(overrides)
    return HttpClient(Settings(**values))


def add_fault(sandbox_url: str, **rule) -> int:
    """Switch on a sandbox fault rule (gateway/sandbox/faults.py); returns its id."""
    resp = requests.post(sandbox_url + "/_sandbox/faults", json=rule, timeout=5)
    resp.raise_for_status()
    return resp.json()["id"]


class Recorder:
    """A loopback HTTP server that stands in for a vendor and notes each request exactly as it came
    off the wire: (method, raw request target). Answers 200 ``{"resource": {}, "data": {}}``."""

    def __init__(self):
        self.seen: list[tuple[str, str]] = []
        self.server = serve_in_thread(self._app)
        self.url = self.server.url

    def _app(self, environ, start_response):
        self.seen.append((environ["REQUEST_METHOD"], environ.get("REQUEST_URI") or environ.get("RAW_URI", "")))
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b'{"resource": {}, "data": {}}']

    def shutdown(self) -> None:
        self.server.shutdown()

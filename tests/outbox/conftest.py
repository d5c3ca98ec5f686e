"""Fixtures for the store-and-forward outbox: a gateway with the outbox on, in front of the real
sandbox (whose fault injection plays the outage), and a real ``flowgate worker`` process sharing the
gateway's data folder (store, sealing key and task queue), started when a test wants delivery."""

from __future__ import annotations

import base64
import json
import time
import uuid as uuidlib
from typing import Any

import pytest
import requests
from jobs.conftest import Worker, sandbox_db
from support import DEMO_HEADERS, SoapReply

from gateway.store.outbox import OutboxRepository

# Small backoff and breaker times, so that a test's outage and recovery take seconds.
OUTBOX_SETTINGS: dict[str, Any] = {"outbox": "all", "outbox_backoff": 0.2, "outbox_backoff_max": 0.5,
                                   "breaker_reset_timeout": 0.5, "jobs_step_seconds": 1.0}
WORKER_ENV = {f"GATEWAY_{k.upper()}": str(v) for k, v in OUTBOX_SETTINGS.items()}
API = {"X-Apikey": "demo-api-key"}   # the embedded demo consumer: every scope, admin included


def services(server) -> Any:
    return server.server.app.extensions["flowgate"]


@pytest.fixture
def outbox_gateway(gateway_factory):
    """A gateway (its own data folder and store) with the outbox on for every write."""
    return gateway_factory(**OUTBOX_SETTINGS)


@pytest.fixture
def outbox_worker(outbox_gateway, sandbox_url, tmp_path):
    """A worker for ``outbox_gateway``, not started: ``start()`` when the test wants delivery."""
    worker = Worker(services(outbox_gateway).settings.data_dir, sandbox_url, tmp_path / "worker.log", **WORKER_ENV)
    yield worker
    worker.stop()


@pytest.fixture
def vendor_db(_sandbox_server):
    """The sandbox's own database: what really exists at the vendor."""
    return sandbox_db(_sandbox_server)


@pytest.fixture
def outbox_repo(outbox_gateway) -> OutboxRepository:
    return OutboxRepository(services(outbox_gateway).store)


def new_uuid(prefix: str = "ob") -> str:
    return f"{prefix}-{uuidlib.uuid4()}"


def records_with(db, uuid: str) -> list[dict]:
    return db.all("SELECT uuid, data FROM fz_records WHERE uuid = ?", (uuid,))


def record_count(db, uuid: str) -> int:
    return int(db.one("SELECT COUNT(*) AS n FROM fz_records WHERE uuid = ?", (uuid,))["n"])


def wait_until(check, timeout: float = 30.0, interval: float = 0.05, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(interval)


def outage(sandbox_url: str, path: str = "/v1/record*", method: str = "*", status: int = 503) -> int:
    resp = requests.post(sandbox_url + "/_sandbox/faults", json={"path": path, "method": method, "status": status},
                         timeout=5)
    resp.raise_for_status()
    return int(resp.json()["id"])


def recover(sandbox_url: str, rule: int) -> None:
    requests.delete(f"{sandbox_url}/_sandbox/faults/{rule}", timeout=5).raise_for_status()


def b64(value: Any) -> str:
    return base64.b64encode(json.dumps(value).encode()).decode()


def soap(url: str, operation: str, inner: str, *, auth: bool = True) -> SoapReply:
    head = ("<AuthenticationObject><Apikey>demo-api-key</Apikey><Appkey>demo-app</Appkey></AuthenticationObject>"
            if auth else "")
    envelope = ('<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:f="Flowize">'
                f"<soapenv:Body><f:{operation}><input>{head}{inner}</input></f:{operation}></soapenv:Body>"
                "</soapenv:Envelope>")
    resp = requests.post(url + "/v1/soap", data=envelope.encode(), timeout=30,
                         headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'})
    return SoapReply(resp)


def soap_insert(url: str, data: Any, uuid: str | None = None) -> SoapReply:
    own = f"<Uuid>{uuid}</Uuid>" if uuid else ""
    return soap(url, "insertRecord", f"<DataRecordObject>{own}<Data>{b64(data)}</Data></DataRecordObject>"
                                     "<FlowDiagramObject><Flow>demo-flow</Flow></FlowDiagramObject>")


def soap_update(url: str, uuid: str, data: Any) -> SoapReply:
    return soap(url, "updateRecord", f"<DataRecordObject><Uuid>{uuid}</Uuid><Data>{b64(data)}</Data></DataRecordObject>")


def rest_insert(url: str, data: Any, uuid: str | None = None) -> requests.Response:
    headers = {**DEMO_HEADERS, "X-Flow": "demo-flow", **({"X-Uuid": uuid} if uuid else {})}
    return requests.post(url + "/v1/record", json=data, headers=headers, timeout=30)


def rest_update(url: str, uuid: str, data: Any) -> requests.Response:
    return requests.put(f"{url}/v1/record/{uuid}", json=data, headers=DEMO_HEADERS, timeout=30)


def entry(url: str, entry_id: int) -> dict:
    resp = requests.get(f"{url}/api/outbox/{entry_id}", headers=API, timeout=10)
    assert resp.status_code == 200, resp.text
    return resp.json()

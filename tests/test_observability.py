"""Observability as an operator meets it: `flowgate serve`'s JSON log lines, one request id from the
client's call through the job or outbox delivery to the vendor calls, and /metrics' store figures."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
import time
import uuid

import pytest
import requests
from support import free_port

pytestmark = pytest.mark.slow

API = {"X-Apikey": "demo-api-key"}


class Served:
    """`flowgate serve` in embedded mode (gateway, sandbox, job worker), every line it writes kept."""

    def __init__(self, tmp_path):
        self.port, self.sandbox_port = free_port(), free_port()
        env = {**os.environ, "GATEWAY_PORT": str(self.port), "GATEWAY_SANDBOX_PORT": str(self.sandbox_port),
               "GATEWAY_DATA_DIR": str(tmp_path), "GATEWAY_WORKERS": "1", "PYTHONUNBUFFERED": "1",
               "GATEWAY_OUTBOX": "all", "GATEWAY_OUTBOX_BACKOFF": "0.2", "GATEWAY_OUTBOX_BACKOFF_MAX": "0.5",
               "GATEWAY_BREAKER_RESET_TIMEOUT": "0.5", "GATEWAY_JOBS_STEP_SECONDS": "1.0",
               "GATEWAY_EXAROUTES_POLL_SCHEDULE": "0.05,0.1,0.2", "GATEWAY_LOG_FORMAT": "json",
               "GATEWAY_HTTP_RETRIES": "0"}
        self.proc = subprocess.Popen([sys.executable, "-m", "gateway.cli", "serve"], env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        threading.Thread(target=lambda: self.lines.extend(iter(self.proc.stdout.readline, "")), daemon=True).start()
        self.url = f"http://127.0.0.1:{self.port}"
        self.sandbox = f"http://127.0.0.1:{self.sandbox_port}"
        deadline = time.monotonic() + 40
        while "Ctrl-C stops everything." not in "".join(self.lines):
            assert self.proc.poll() is None and time.monotonic() < deadline, "".join(self.lines)[-3000:]
            time.sleep(0.1)

    def records(self) -> list[dict]:
        """Every JSON line so far."""
        found = []
        for line in list(self.lines):
            if line.startswith("{"):
                found.append(json.loads(line))
        return found

    def records_of(self, request_id: str) -> list[dict]:
        return [r for r in self.records() if r.get("request_id") == request_id]

    def wait_for_record(self, request_id: str, timeout: float = 60.0, **fields) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            for record in self.records_of(request_id):
                if all(record.get(k) == v for k, v in fields.items()):
                    return record
            assert time.monotonic() < deadline, (fields, self.records_of(request_id))
            time.sleep(0.1)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    server = Served(tmp_path_factory.mktemp("observed"))
    yield server
    server.stop()


def test_every_line_after_the_banner_is_one_json_object_with_a_request_id(served):
    requests.get(served.url + "/v1/record/demo-record", headers={"X-Apikey": "demo-api-key", "X-App": "demo-app"},
                 timeout=10)
    text = "".join(served.lines)
    body = text.split("Ctrl-C stops everything.", 1)[1]
    for line in body.splitlines():
        if not line.strip():
            continue
        record = json.loads(line)   # a gunicorn text line, or a traceback, would fail here
        assert {"time", "level", "logger", "message", "request_id"} <= set(record)
    assert "[INFO]" not in text  # gunicorn's own lines too are JSON


def test_one_request_id_from_a_facade_job_to_its_vendor_calls(served):
    request_id = f"trace-job-{uuid.uuid4().hex[:12]}"
    rows = [{"uid": f"obs-{i}", "destination": {"type": "url", "url": f"https://example.com/{i}"}} for i in range(5)]
    resp = requests.post(served.url + "/api/qr/jobs", json={"vendor": "exaroutes", "rows": rows},
                         headers={**API, "X-Request-Id": request_id}, timeout=30)
    assert resp.status_code == 202, resp.text
    assert resp.headers["X-Request-Id"] == request_id
    job_id = resp.json()["id"]

    access = served.wait_for_record(request_id, event="request")
    assert access["logger"] == "gateway.access" and access["protocol"] == "api"
    assert access["operation"] == "POST /api/qr/jobs" and access["status"] == 202
    assert access["consumer"] == "demo" and access["duration_ms"] > 0
    # The worker, another process, writes the job's state changes and its vendor calls with the same id.
    served.wait_for_record(request_id, event="job", job_id=job_id, status="queued")
    served.wait_for_record(request_id, event="job", job_id=job_id, status="running")
    served.wait_for_record(request_id, event="job", job_id=job_id, status="succeeded")
    call = served.wait_for_record(request_id, event="vendor_call", vendor="exaroutes", method="POST")
    assert call["logger"] == "gateway.http" and call["status"] == 200


def test_one_request_id_from_a_soap_write_through_the_outbox_to_the_vendor(served):
    request_id = f"trace-soap-{uuid.uuid4().hex[:12]}"
    rule = requests.post(served.sandbox + "/_sandbox/faults", json={"path": "/v1/record*", "status": 503},
                         timeout=5).json()["id"]
    data = base64.b64encode(json.dumps({"observed": request_id}).encode()).decode()
    envelope = ('<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:f="Flowize">'
                "<soapenv:Body><f:insertRecord><input><AuthenticationObject><Apikey>demo-api-key</Apikey>"
                f"<Appkey>demo-app</Appkey></AuthenticationObject><DataRecordObject><Data>{data}</Data>"
                "</DataRecordObject><FlowDiagramObject><Flow>demo-flow</Flow></FlowDiagramObject></input>"
                "</f:insertRecord></soapenv:Body></soapenv:Envelope>")
    try:
        resp = requests.post(served.url + "/v1/soap", data=envelope, timeout=30,
                             headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""',
                                      "X-Request-Id": request_id})
        assert resp.status_code == 200 and "queued" in resp.text.lower(), resp.text
        access = served.wait_for_record(request_id, event="request")
        assert access["protocol"] == "soap" and access["operation"] == "insertRecord"
        assert access["vendor"] == "flowize" and access["upstream_calls"] >= 1
    finally:
        requests.delete(f"{served.sandbox}/_sandbox/faults/{rule}", timeout=5)
    queued = served.wait_for_record(request_id, event="outbox", outcome="queued")
    delivered = served.wait_for_record(request_id, event="outbox", outcome="delivered")
    assert delivered["entry_id"] == queued["entry_id"]
    assert delivered["operation"] == "insertRecord"
    call = served.wait_for_record(request_id, event="vendor_call", vendor="flowize", method="POST", status=201)
    assert call["logger"] == "gateway.http"
    # The delivery sent the sealed credentials: none of them is in any log line.
    assert not [r for r in served.records() if "demo-api-key" in json.dumps(r)]


def test_metrics_show_the_jobs_and_the_outbox_from_the_store(served):
    rows = [{"uid": f"m-{i}", "destination": {"type": "url", "url": f"https://example.com/m/{i}"}} for i in range(3)]
    job = requests.post(served.url + "/api/qr/jobs", json={"vendor": "exaroutes", "rows": rows}, headers=API,
                        timeout=30).json()
    deadline = time.monotonic() + 60
    while requests.get(f"{served.url}/api/qr/jobs/{job['id']}", headers=API, timeout=10).json()["status"] != "succeeded":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    text = requests.get(served.url + "/metrics", timeout=10).text
    samples = {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line and not line.startswith("#")}
    assert samples['flowgate_jobs{status="succeeded"}'] >= 1
    assert samples['flowgate_job_rows{status="done"}'] >= 3
    assert samples["flowgate_jobs_oldest_waiting_seconds"] >= 0
    assert "flowgate_task_queue_length" in samples and "flowgate_outbox_dead_letters" in samples
    assert samples['flowgate_requests_total{operation="POST /api/qr/jobs",protocol="api",status="202"}'] >= 1

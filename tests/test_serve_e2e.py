"""`flowgate serve` as users run it: gunicorn, the embedded sandbox, clean shutdown."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from support import free_port

pytestmark = pytest.mark.slow


def _descendants(pid: int) -> set[int]:
    found: set[int] = set()
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        out = subprocess.run(["pgrep", "-P", str(parent)], capture_output=True, text=True, check=False).stdout.split()
        for child in map(int, out):
            if child not in found:
                found.add(child)
                frontier.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(") ")[1].startswith("Z"))


@pytest.fixture
def served(tmp_path):
    port, sandbox_port = free_port(), free_port()
    env = {**os.environ, "GATEWAY_PORT": str(port), "GATEWAY_SANDBOX_PORT": str(sandbox_port),
           "GATEWAY_DATA_DIR": str(tmp_path), "GATEWAY_WORKERS": "2", "PYTHONUNBUFFERED": "1"}
    # A session of its own, as a terminal gives it: Ctrl-C there signals the whole process group.
    proc = subprocess.Popen([sys.executable, "-m", "gateway.cli", "serve"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    proc.lines = []  # type: ignore[attr-defined]
    threading.Thread(target=lambda: proc.lines.extend(iter(proc.stdout.readline, "")), daemon=True).start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(base + "/healthz", timeout=1).status_code == 200:
                break
        except requests.RequestException:
            time.sleep(0.1)
    else:
        proc.kill()
        proc.kill()
        pytest.fail("gateway did not answer /healthz within 30 s:\n" + "".join(proc.lines))
    yield proc, base, f"http://127.0.0.1:{sandbox_port}"
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def test_serve_answers_healthz_and_runs_the_sandbox_under_gunicorn(served):
    _, base, sandbox = served
    assert requests.get(base + "/healthz", timeout=5).json() == {"status": "ok"}
    assert requests.get(base + "/readyz", timeout=5).status_code == 200
    # The OAuth headers with underscores survive gunicorn (which drops such headers by default).
    resp = requests.get(sandbox + "/v1/checkauthentication", timeout=5, headers={
        "client_id": "demo-client-id", "client_secret": "demo-client-secret", "grant_type": "client_credentials"})
    assert resp.status_code == 200, resp.text
    assert resp.json()["resource"]["token_type"] == "bearer"
    # Other underscore headers are still dropped: no spoofing of proxy headers.
    echo = requests.get(sandbox + "/v1/record", timeout=5,
                        headers={"X_Apikey": "demo-api-key", "X-App": "demo-app", "X-Uuid": "demo-record"})
    assert echo.status_code == 401


def test_sigterm_stops_gateway_and_sandbox_within_10_seconds(served):
    proc, _, _ = served
    children = _descendants(proc.pid)
    assert len(children) >= 3  # gunicorn workers and the sandbox
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=10)
    assert time.monotonic() - started < 10
    time.sleep(0.5)
    assert [pid for pid in children if _alive(pid)] == []
    # Each worker closed its services on the way out (gunicorn's worker_exit hook) without an error.
    log = "".join(proc.lines)
    assert log.count("Worker exiting") >= 2 and "Exception during worker exit" not in log, log[-3000:]


def test_ctrl_c_stops_everything_quietly(served):
    """Ctrl-C reaches every process of the group at once: the sandbox and the job worker may be gone
    before serve stops them, and that is no error."""
    proc, _, _ = served
    children = _descendants(proc.pid)
    os.killpg(proc.pid, signal.SIGINT)
    assert proc.wait(timeout=10) == 0
    time.sleep(0.5)
    assert [pid for pid in children if _alive(pid)] == []
    log = "".join(proc.lines)
    assert "Traceback" not in log, log[-3000:]


def test_the_printed_example_call_works_as_pasted(served):
    proc, base, _ = served
    deadline = time.monotonic() + 10
    while "Ctrl-C stops everything." not in "".join(proc.lines) and time.monotonic() < deadline:
        time.sleep(0.1)
    banner = "".join(proc.lines)
    assert "Flowgate is up." in banner and "demo-api-key" in banner
    curl = next(line.strip() for line in banner.splitlines() if line.strip().startswith("curl "))
    assert base in curl
    out = subprocess.run(["bash", "-c", curl], capture_output=True, text=True, timeout=20, check=False).stdout
    assert "<Code>200</Code>" in out and "getRecordResponse" in out
    facade = next(line.strip() for line in banner.splitlines() if line.strip().startswith("curl ") and "/api/" in line)
    made = json.loads(subprocess.run(["bash", "-c", facade], capture_output=True, text=True, timeout=30,
                                     check=False).stdout)
    assert made["vendor"] == "flowcode" and made["uid"] == "hello-1" and made["image"]["href"]


def test_embedded_mode_runs_a_job_worker(served):
    proc, _, _ = served
    assert any("gateway.cli worker" in _cmdline(pid) for pid in _descendants(proc.pid))


def test_metrics_add_up_every_gunicorn_worker(served):
    _, base, _ = served
    for _ in range(30):
        requests.get(base + "/healthz", timeout=5)
    text = requests.get(base + "/metrics", timeout=5).text
    line = next(ln for ln in text.splitlines()
                if ln.startswith("flowgate_requests_total{") and 'protocol="probe"' in ln and 'status="200"' in ln
                and 'operation="GET /healthz"' in ln)
    assert float(line.rsplit(" ", 1)[1]) >= 30  # whichever worker answered each request


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode()
    except OSError:
        return ""

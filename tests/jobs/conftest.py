"""Fixtures for bulk QR jobs: a real ``flowgate worker`` process beside the session's gateway,
sharing its data folder (the store and the Huey queue), both in front of the real sandbox."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from api.conftest import DEMO
from support import vendor_urls

WORKER_ENV = {
    "GATEWAY_EXAROUTES_POLL_SCHEDULE": "0.05,0.1,0.2",
    "GATEWAY_FLOWCODE_POLL_INTERVAL": "0.2",
    "GATEWAY_JOBS_STEP_SECONDS": "1.0",
    "GATEWAY_HTTP_RETRIES": "1",
    "GATEWAY_HTTP_BACKOFF": "0.05",
    "GATEWAY_LOG_LEVEL": "WARNING",
    # The sandbox draws every QR image of a 2,000-row batch before it answers: on a busy machine that
    # can pass the default 30 s read timeout.
    "GATEWAY_VENDOR_POLICIES": "exaroutes.read_timeout=120",
}


class Worker:
    """A ``flowgate worker`` process; ``kill()`` is SIGKILL, ``start()`` starts a new one."""

    def __init__(self, data_dir: str, sandbox_url: str, log: Path, **env: str):
        self.env = {**os.environ, **WORKER_ENV, "GATEWAY_DATA_DIR": data_dir,
                    **{f"GATEWAY_{k.upper()}": v for k, v in vendor_urls(sandbox_url).items()}, **env}
        self.log = log
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "gateway.cli", "worker"], env=self.env,
                                         stdout=out, stderr=subprocess.STDOUT)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@pytest.fixture(scope="session")
def worker(_gateway_server, _sandbox_server, tmp_path_factory):
    w = Worker(_gateway_server.settings.data_dir, _sandbox_server.url, tmp_path_factory.mktemp("worker") / "log")
    w.start()
    yield w
    w.stop()


@pytest.fixture
def jobs_url(api_url, worker) -> str:
    if worker.proc is None or worker.proc.poll() is not None:
        worker.start()
    return api_url + "/qr/jobs"


def wait_for(http, job_url: str, *, timeout: float = 120, until=lambda job: job["status"] in
             ("succeeded", "partial", "failed", "cancelled"), headers=DEMO) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        job = http.get(job_url, headers=headers, timeout=10).json()
        if until(job):
            return job
        assert time.monotonic() < deadline, f"job still {job['status']} after {timeout} s: {job}"
        time.sleep(0.2)


def rows(n: int, prefix: str = "r", kind: str = "url") -> list[dict]:
    if kind == "url":
        return [{"uid": f"{prefix}{i}", "destination": {"type": "url", "url": f"https://example.com/{prefix}/{i}"}}
                for i in range(n)]
    return [{"uid": f"{prefix}{i}", "destination": {"type": "phone", "phone": f"555{i:07d}"}} for i in range(n)]


def sandbox_db(sandbox_server) -> object:
    """The sandbox's own database, to count what really exists at the vendor."""
    return sandbox_server.app.extensions["flowgate_sandbox"].db


__all__ = ["DEMO", "Worker", "requests", "rows", "wait_for"]

"""Bulk QR jobs end to end: a 10,000-row and a 100,000-row ExaRoutes job against the sandbox.

Starts ``flowgate serve`` (gateway under gunicorn, embedded sandbox and job worker) on free loopback
ports, submits each job as one CSV upload, and waits for it to end. Reports the wall time and the
peak resident memory of the gateway (gunicorn master + workers) and of the job worker, sampled
every 0.2 s, so the two job sizes can be compared: memory must not grow with a job's size.

    python -m benchmarks.bulk [--sizes 10000,100000]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

from benchmarks.common import free_port, wait_up

DEMO = {"X-Apikey": "demo-api-key"}


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return out


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class Sampler(threading.Thread):
    """Peak RSS of the gateway (the serve process and its gunicorn workers) and of the job worker."""

    def __init__(self, serve_pid: int):
        super().__init__(daemon=True)
        self.serve_pid = serve_pid
        self.peak = {"gateway": 0.0, "worker": 0.0}
        self.running = True

    def sample(self) -> dict[str, float]:
        gateway, worker = _rss_mb(self.serve_pid), 0.0
        for child in _children(self.serve_pid):
            cmd = _cmdline(child)
            if "gateway.cli worker" in cmd:
                worker += _rss_mb(child)
            elif "gateway.cli sandbox" not in cmd:
                gateway += _rss_mb(child)
        return {"gateway": gateway, "worker": worker}

    def run(self) -> None:
        while self.running:
            now = self.sample()
            for key, value in now.items():
                self.peak[key] = max(self.peak[key], value)
            time.sleep(0.2)


def run_job(gateway: str, size: int, sampler: Sampler) -> dict[str, float]:
    lines = ["uid,type,url"] + [f"b{size}-{i},url,https://example.com/bench/{i}" for i in range(size)]
    body = ("\n".join(lines) + "\n").encode()
    del lines
    sampler.peak = {"gateway": 0.0, "worker": 0.0}
    started = time.monotonic()
    resp = requests.post(gateway + "/api/qr/jobs?vendor=exaroutes", data=body, timeout=600,
                         headers={**DEMO, "Content-Type": "text/csv"})
    resp.raise_for_status()
    job_url = gateway + resp.json()["links"]["self"]
    while True:
        job = requests.get(job_url, headers=DEMO, timeout=30).json()
        if job["status"] not in ("queued", "running"):
            break
        time.sleep(0.5)
    seconds = time.monotonic() - started
    if job["status"] != "succeeded":
        raise SystemExit(f"the {size}-row job ended {job['status']}: {job}")
    with requests.get(gateway + f"/api/qr/jobs/{job['id']}/results", headers={**DEMO, "Accept": "text/csv"},
                      stream=True, timeout=600) as results:
        lines_read = sum(chunk.count(b"\n") for chunk in results.iter_content(1 << 16))
    assert lines_read == size + 1, lines_read
    return {"seconds": round(seconds, 1), "gateway_peak_rss_mb": round(sampler.peak["gateway"], 1),
            "worker_peak_rss_mb": round(sampler.peak["worker"], 1)}


def measure(sizes: list[int]) -> dict[str, dict[str, float]]:
    port, sandbox_port = free_port(), free_port()
    data_dir = tempfile.mkdtemp(prefix="flowgate-bulk-")
    env = {**os.environ, "GATEWAY_PORT": str(port), "GATEWAY_SANDBOX_PORT": str(sandbox_port),
           "GATEWAY_DATA_DIR": data_dir, "GATEWAY_LOG_LEVEL": "WARNING", "GATEWAY_SANDBOX_RATE_LIMIT": "100000000",
           "GATEWAY_EXAROUTES_POLL_SCHEDULE": "0.5,1,2"}
    proc = subprocess.Popen([sys.executable, "-m", "gateway.cli", "serve"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    gateway, sandbox = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{sandbox_port}"
    out: dict[str, dict[str, float]] = {}
    try:
        wait_up(gateway + "/healthz")
        wait_up(sandbox + "/_sandbox/health")
        requests.patch(sandbox + "/_sandbox/exaroutes", json={"processing_seconds": 0, "quota": {"demo-client": 10**7}},
                       timeout=5).raise_for_status()
        sampler = Sampler(proc.pid)
        sampler.start()
        for size in sizes:
            out[str(size)] = run_job(gateway, size, sampler)
            print(f"  {size:>7} rows: {out[str(size)]}", flush=True)
        sampler.running = False
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bulk")
    parser.add_argument("--sizes", default="10000,100000")
    args = parser.parse_args()
    print(json.dumps(measure([int(s) for s in args.sizes.split(",")]), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Bulk QR jobs end to end: a 10,000-row and a 100,000-row job against the sandbox, in one run.

Starts ``flowgate serve`` (gateway under gunicorn, embedded sandbox and one ``flowgate worker``) on
free loopback ports, submits each job as one CSV upload (``POST /api/qr/jobs``), waits for it to end
and reads its results back. Reports, per size: the wall time (upload to last row written), the peak
resident memory of the **job worker** (the ``flowgate worker`` process: its ``VmHWM``, reset before
each job through ``/proc/PID/clear_refs``, and sampled every 0.2 s) and of the gateway (gunicorn
master + workers, sampled), and the CPU each process spent. Memory must not grow with a job's size:
``make bench`` reports the 100k/10k ratio of the worker's peak.

The vendor: Flowcode by default. ExaRoutes' sandbox draws every QR image (segno PNG) when it accepts
a batch, 10-30 ms of the sandbox's CPU per row on a 2-core machine, so a 100,000-row ExaRoutes job
spends 15-50 minutes in the emulated vendor and says little about the gateway; Flowcode makes codes
without images (an image is fetched when first asked for, docs/jobs.md). ``--vendor exaroutes``
measures ExaRoutes all the same (its read timeout is raised so slow batches are not retried).

    python -m benchmarks.bulk [--sizes 10000,100000] [--vendor flowcode|exaroutes] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import requests

from benchmarks.common import (
    Server,
    children,
    cmdline,
    cpu_seconds,
    free_port,
    start_server,
    status_kb,
    stop_servers,
    tree_cpu_seconds,
    wait_up,
    write_json,
)

DEMO = {"X-Apikey": "demo-api-key"}
VENDORS = ("flowcode", "exaroutes")
#: What the report calls the process whose peak memory is compared between the two sizes.
WORKER_PROCESS = "flowgate worker (the job worker process, VmHWM)"


def _roles(serve_pid: int) -> dict[str, list[int]]:
    """The processes of ``flowgate serve``: gateway (master + gunicorn workers), job worker, sandbox."""
    roles: dict[str, list[int]] = {"gateway": [serve_pid], "worker": [], "sandbox": []}
    for child in children(serve_pid):
        cmd = cmdline(child)
        if "gateway.cli worker" in cmd:
            roles["worker"].append(child)
        elif "gateway.cli sandbox" in cmd:
            roles["sandbox"].append(child)
        else:
            roles["gateway"].append(child)
    return roles


def _reset_peak(pid: int) -> bool:
    """Reset the process's VmHWM to its current RSS (Linux >= 4.0); False if not allowed."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


class Sampler(threading.Thread):
    """Peak RSS (MB) of the gateway (the serve process and its gunicorn workers) and of the job worker."""

    def __init__(self, serve_pid: int):
        super().__init__(daemon=True)
        self.serve_pid = serve_pid
        self.peak = {"gateway": 0.0, "worker": 0.0}
        self.running = True

    def sample(self) -> dict[str, float]:
        roles = _roles(self.serve_pid)
        return {role: sum(status_kb(p, "VmRSS") for p in roles[role]) / 1024 for role in ("gateway", "worker")}

    def run(self) -> None:
        while self.running:
            for key, value in self.sample().items():
                self.peak[key] = max(self.peak[key], value)
            time.sleep(0.2)


def _cpu(serve_pid: int) -> dict[str, float]:
    roles = _roles(serve_pid)
    return {"gateway": sum(cpu_seconds(p) for p in roles["gateway"]),
            "worker": sum(tree_cpu_seconds(p) for p in roles["worker"]),
            "sandbox": sum(tree_cpu_seconds(p) for p in roles["sandbox"])}


def run_job(gateway: str, vendor: str, size: int, sampler: Sampler) -> dict[str, Any]:
    lines = ["uid,type,url"] + [f"b{size}-{i},url,https://example.com/bench/{i}" for i in range(size)]
    body = ("\n".join(lines) + "\n").encode()
    del lines
    workers = _roles(sampler.serve_pid)["worker"]
    hwm_reset = all(_reset_peak(p) for p in workers) and bool(workers)
    sampler.peak = {"gateway": 0.0, "worker": 0.0}
    cpu0 = _cpu(sampler.serve_pid)
    started = time.monotonic()
    resp = requests.post(gateway + f"/api/qr/jobs?vendor={vendor}", data=body, timeout=600,
                         headers={**DEMO, "Content-Type": "text/csv"})
    resp.raise_for_status()
    uploaded = time.monotonic() - started
    job_url = gateway + resp.json()["links"]["self"]
    while True:
        job = requests.get(job_url, headers=DEMO, timeout=30).json()
        if job["status"] not in ("queued", "running"):
            break
        time.sleep(0.25)
    seconds = time.monotonic() - started
    cpu = {k: v - cpu0[k] for k, v in _cpu(sampler.serve_pid).items()}
    hwm = sum(status_kb(p, "VmHWM") for p in workers) / 1024 if hwm_reset else 0.0
    if job["status"] != "succeeded":
        raise SystemExit(f"the {size}-row {vendor} job ended {job['status']}: {json.dumps(job)[:2000]}")
    with requests.get(gateway + f"/api/qr/jobs/{job['id']}/results", headers={**DEMO, "Accept": "text/csv"},
                      stream=True, timeout=600) as results:
        lines_read = sum(chunk.count(b"\n") for chunk in results.iter_content(1 << 16))
    if lines_read != size + 1:
        raise SystemExit(f"the {size}-row job's results have {lines_read - 1} rows")
    return {"seconds": round(seconds, 1), "upload_seconds": round(uploaded, 2),
            "rows_per_second": round(size / seconds, 1),
            "worker_peak_rss_mb": round(max(hwm, sampler.peak["worker"]), 1),
            "worker_peak_measure": "VmHWM" if hwm_reset else "sampled VmRSS",
            "gateway_peak_rss_mb": round(sampler.peak["gateway"], 1),
            "cpu_seconds": {k: round(v, 1) for k, v in cpu.items()},
            "worker_cpu_ms_per_row": round(1000 * cpu["worker"] / size, 3)}


def measure(sizes: list[int], vendor: str = "flowcode", say: Any = print) -> dict[str, Any]:
    """Run one job of each size, in order, on one ``flowgate serve``; figures per size (str keys)."""
    if vendor not in VENDORS:
        raise SystemExit(f"vendor: expected one of {', '.join(VENDORS)}")
    port, sandbox_port = free_port(), free_port()
    workdir = tempfile.mkdtemp(prefix="flowgate-bulk-")
    env = {**os.environ, "GATEWAY_PORT": str(port), "GATEWAY_SANDBOX_PORT": str(sandbox_port),
           "GATEWAY_DATA_DIR": workdir, "GATEWAY_LOG_LEVEL": "WARNING", "GATEWAY_SANDBOX_RATE_LIMIT": "100000000",
           # poll soon: the sandbox's tasks finish at once (knobs below), the defaults are the real vendors'
           "GATEWAY_FLOWCODE_POLL_INTERVAL": "0.5", "GATEWAY_EXAROUTES_POLL_SCHEDULE": "0.5,1,2",
           "GATEWAY_VENDOR_POLICIES": "exaroutes.read_timeout=600"}
    server: Server = start_server("bulk serve", ["-m", "gateway.cli", "serve"], port, "/healthz", workdir, env)
    sandbox = f"http://127.0.0.1:{sandbox_port}"
    out: dict[str, Any] = {}
    try:
        server.wait_up()
        wait_up(sandbox + "/_sandbox/health", 90, server.proc)
        knobs: dict[str, Any] = ({"task_seconds": 0} if vendor == "flowcode"
                 else {"processing_seconds": 0, "quota": {"demo-client": 10**7}})
        requests.patch(f"{sandbox}/_sandbox/{vendor}", json=knobs, timeout=10).raise_for_status()
        sampler = Sampler(server.pid)
        sampler.start()
        for size in sizes:
            out[str(size)] = run_job(server.url, vendor, size, sampler)
            say(f"  bulk {vendor} {size:>7} rows: {out[str(size)]}")
        sampler.running = False
    finally:
        stop_servers([server], timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bulk")
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--vendor", default="flowcode", choices=VENDORS)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    figures = {"vendor": args.vendor, "peak_rss_process": WORKER_PROCESS,
               "sizes": measure([int(s) for s in args.sizes.split(",")], args.vendor)}
    print(json.dumps(figures, indent=2))
    if args.json:
        write_json(args.json, figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())

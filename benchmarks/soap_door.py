"""The SOAP door against bare Spyne, side by side in one run (issue 12; the target is >= 1.5x).

Starts, on free loopback ports and with the same gunicorn settings (``gateway.server.gunicorn_options``,
the gateway's worker class, threads and connections; one worker each unless ``--workers``):

* the gateway (``flowgate serve --no-sandbox --no-worker``), sent getRecord **without credentials**:
  the SOAP door reads, parses and dispatches the envelope, and the operation faults ("The
  credentials are not correct.") before any vendor call — the door's own cost, end to end;
* the bare Spyne anchor (``benchmarks/bare_spyne.py``), sent the demo getRecord, answered from memory.

Load comes from a separate process (``wrk``, when installed: ``apt-get install wrk``; else a bounded
Python driver), in interleaved rounds so machine noise hits both alike. Prints the median requests/s,
the server CPU per request (gunicorn master + workers, from /proc) and the ratio.

    python -m benchmarks.soap_door [--rounds 5] [--seconds 5] [--connections 8] [--json PATH]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from benchmarks.common import free_port, wait_up

SOAP11 = "text/xml; charset=utf-8"
# getRecord with no AuthenticationObject: a fault before any vendor call.
LOCAL_FAULT = b"""<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:mym="Flowize">
<soapenv:Body><mym:getRecord><input><DataRecordObject><Uuid>demo-record</Uuid></DataRecordObject></input>
</mym:getRecord></soapenv:Body></soapenv:Envelope>"""
# The demo getRecord (benchmarks/__main__.py), which the bare service answers from memory.
GET_RECORD = b"""<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:mym="Flowize">
<soapenv:Body><mym:getRecord><input><AuthenticationObject><Apikey>demo-api-key</Apikey><Appkey>demo-app</Appkey>
</AuthenticationObject><DataRecordObject><Uuid>demo-record</Uuid></DataRecordObject></input></mym:getRecord>
</soapenv:Body></soapenv:Envelope>"""
_CLK = os.sysconf("SC_CLK_TCK")


@dataclass
class Scenario:
    name: str
    url: str
    body: bytes
    pid: int
    rps: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)


def _tree_cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` and its children (gunicorn master and workers)."""
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / _CLK
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, IndexError, ValueError):
            continue
    return total


def _wrk(url: str, body: bytes, seconds: int, connections: int, workdir: str) -> int:
    """Requests completed by wrk in ``seconds``."""
    body_file = Path(workdir) / f"body-{abs(hash(body))}.xml"
    body_file.write_bytes(body)
    script = Path(workdir) / f"post-{abs(hash(body))}.lua"
    script.write_text(f'local f = io.open("{body_file}", "rb")\nwrk.method = "POST"\nwrk.body = f:read("*a")\n'
                      f'f:close()\nwrk.headers["Content-Type"] = "{SOAP11}"\nwrk.headers["SOAPAction"] = \'""\'\n')
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", str(script), url],
                         capture_output=True, text=True, check=True, timeout=seconds + 30).stdout
    errors = re.search(r"Socket errors: (.*)", out)
    if errors:
        print(f"  wrk socket errors on {url}: {errors.group(1)}", file=sys.stderr)
    match = re.search(r"(\d+) requests in", out)
    if not match:
        raise SystemExit(f"cannot read wrk's output:\n{out}")
    return int(match.group(1))


def _python_driver(url: str, body: bytes, seconds: int, connections: int, cap: int = 200_000) -> int:
    """A fallback for wrk: ``connections`` keep-alive clients for ``seconds`` (and at most ``cap`` calls)."""
    host, port = url.split("//")[1].split("/")[0].split(":")
    path = "/" + url.split("//")[1].split("/", 1)[1]
    deadline = time.monotonic() + seconds
    counts = [0] * connections

    def client(i: int) -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        while time.monotonic() < deadline and sum(counts) < cap:
            conn.request("POST", path, body, {"Content-Type": SOAP11, "SOAPAction": '""'})
            conn.getresponse().read()
            counts[i] += 1
        conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts)


def _load(s: Scenario, seconds: int, connections: int, workdir: str) -> tuple[float, float]:
    """(requests/s, server CPU ms per request) for one timed run of ``s``."""
    cpu0, t0 = _tree_cpu_seconds(s.pid), time.monotonic()
    if shutil.which("wrk"):
        done = _wrk(s.url, s.body, seconds, connections, workdir)
    else:
        done = _python_driver(s.url, s.body, seconds, connections)
    elapsed, cpu = time.monotonic() - t0, _tree_cpu_seconds(s.pid) - cpu0
    return done / elapsed, 1000 * cpu / max(done, 1)


def _check(s: Scenario, expect_status: int, expect: bytes) -> None:
    resp = requests.post(s.url, data=s.body, headers={"Content-Type": SOAP11, "SOAPAction": '""'}, timeout=10)
    if resp.status_code != expect_status or expect not in resp.content:
        raise SystemExit(f"{s.name}: unexpected answer {resp.status_code}: {resp.content[:600]!r}")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main(argv: list[str] | None = None) -> int:
    from gateway.config import Settings

    settings = Settings.load()
    parser = argparse.ArgumentParser(prog="python -m benchmarks.soap_door")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=5, help="length of each timed run")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--worker-class", default=settings.worker_class, choices=("gevent", "gthread"))
    parser.add_argument("--threads", type=int, default=settings.threads)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)

    gw_port, bare_port = free_port(), free_port()
    workdir = tempfile.mkdtemp(prefix="flowgate-soapbench-")
    env = {**os.environ, "GATEWAY_PORT": str(gw_port), "GATEWAY_DATA_DIR": workdir, "GATEWAY_LOG_LEVEL": "WARNING",
           "GATEWAY_WORKERS": str(args.workers), "GATEWAY_THREADS": str(args.threads),
           "GATEWAY_WORKER_CLASS": args.worker_class,
           "GATEWAY_WORKER_CONNECTIONS": str(settings.worker_connections)}
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    gateway = subprocess.Popen([sys.executable, "-m", "gateway.cli", "serve", "--no-sandbox", "--no-worker"],
                               env=env, **quiet)  # type: ignore[call-overload]
    bare = subprocess.Popen([sys.executable, "-m", "benchmarks.bare_spyne", "--port", str(bare_port),
                             "--workers", str(args.workers), "--threads", str(args.threads),
                             "--worker-class", args.worker_class,
                             "--worker-connections", str(settings.worker_connections)], **quiet)  # type: ignore[call-overload]
    try:
        wait_up(f"http://127.0.0.1:{gw_port}/healthz")
        wait_up(f"http://127.0.0.1:{bare_port}/?wsdl")
        door = Scenario("gateway SOAP local fault", f"http://127.0.0.1:{gw_port}/v1/soap", LOCAL_FAULT, gateway.pid)
        anchor = Scenario("bare Spyne getRecord", f"http://127.0.0.1:{bare_port}/", GET_RECORD, bare.pid)
        _check(door, 500, b"The credentials are not correct.")
        _check(anchor, 200, b"<Code>200</Code>")
        scenarios = [door, anchor]
        for s in scenarios:  # warm-up: imports, caches, connections
            _load(s, min(2, args.seconds), args.connections, workdir)
        for n in range(args.rounds):
            for s in scenarios if n % 2 == 0 else scenarios[::-1]:
                rps, cpu = _load(s, args.seconds, args.connections, workdir)
                s.rps.append(rps)
                s.cpu_ms.append(cpu)
    finally:
        for proc in (gateway, bare):
            proc.send_signal(signal.SIGTERM)
        for proc in (gateway, bare):
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(workdir, ignore_errors=True)

    driver = f"wrk -t1 -c{args.connections}" if shutil.which("wrk") else f"python driver, {args.connections} clients"
    print(f"\nSOAP door vs bare Spyne: {args.rounds} interleaved rounds of {args.seconds:g} s, {driver}, "
          f"gunicorn {args.worker_class} x {args.workers} worker(s)"
          f"{f' x {args.threads} threads' if args.worker_class == 'gthread' else ''}, loopback")
    print(f"machine: {_cpu_model()}, {os.cpu_count()} cores\n")
    print(f"{'scenario':28} {'req/s':>8} {'CPU ms/req':>11}   rounds (req/s)")
    for s in scenarios:
        print(f"{s.name:28} {statistics.median(s.rps):8.0f} {statistics.median(s.cpu_ms):11.3f}   "
              + " ".join(f"{v:.0f}" for v in s.rps))
    ratio = statistics.median(door.rps) / statistics.median(anchor.rps)
    per_round = [a / b for a, b in zip(door.rps, anchor.rps, strict=True)]
    print(f"\nlocal-fault path / bare Spyne: {ratio:.2f}x (target >= 1.5x; "
          f"per round {min(per_round):.2f}-{max(per_round):.2f}x)")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "soap_local_fault_rps": round(statistics.median(door.rps), 1),
            "bare_spyne_rps": round(statistics.median(anchor.rps), 1),
            "soap_local_fault_vs_bare_spyne": round(ratio, 3),
            "cpu_ms_per_request": {"soap_local_fault": round(statistics.median(door.cpu_ms), 3),
                                   "bare_spyne": round(statistics.median(anchor.cpu_ms), 3)},
            "rounds": args.rounds, "seconds": args.seconds, "driver": driver, "worker_class": args.worker_class,
            "workers": args.workers, "cpu_model": _cpu_model(), "cores": os.cpu_count()}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What the benchmark scripts share: servers on free loopback ports, requests, load drivers, /proc figures.

* servers: :func:`start_sandbox`, :func:`start_gateway` (``flowgate serve --no-sandbox --no-worker``
  pointed at that sandbox) and :func:`start_anchor` run each as a child process, its output in a
  file; :func:`stop_servers` ends them (SIGTERM, then SIGKILL after gunicorn's graceful timeout);
  :func:`serve_anchor` is the anchors' own command line;
* requests and scenarios: the SOAP envelopes and REST calls measured, :class:`Scenario` (a request,
  the answer it must get, whose CPU counts) and :func:`rounds` (interleaved timed runs);
* load: :func:`drive` runs ``wrk`` when installed (``apt-get install wrk``), else :func:`python_drive`,
  a Python driver bounded in time and count (keep-alive raw-socket clients in threads);
  :class:`HttpClient` is one keep-alive connection, for sequential timing;
* /proc: CPU seconds of a process tree (gunicorn master + workers), RSS/PSS/USS from smaps_rollup;
* the machine: CPU model, cores, Python, git commit.

Nothing here imports ssl (neither ``requests`` nor ``http.client``): the anchors
(``benchmarks/bare_spyne.py``, ``benchmarks/bare_flask.py``) import this module before gevent
monkey-patches them, as ``flowgate serve`` patches before anything imports ssl (docs/serving.md).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "ANCHOR_SPYNE", "CLK_TCK", "DRIVERS", "FAULT_MARK", "GET_RECORD", "HEALTHZ", "LOCAL_FAULT",
    "NO_RATE_LIMIT", "RECORD_HEADERS", "RECORD_MARK", "SOAP", "SOAP_OK_MARK", "DriveResult", "HttpClient",
    "Request", "Scenario", "Server", "check", "children", "cmdline", "cpu_model", "cpu_seconds", "drive",
    "driver_name", "free_port", "machine_info", "percentile", "process_memory", "python_drive", "rounds",
    "run_once", "serve_anchor", "start_anchor", "start_gateway", "start_sandbox", "start_server", "status_kb",
    "stop_servers", "tree_cpu_seconds", "tree_memory", "tree_pids", "use_driver", "wait_all", "wait_up",
    "warm_up", "write_json", "wrk_path",
]

CLK_TCK = os.sysconf("SC_CLK_TCK")
ROOT = Path(__file__).resolve().parent.parent


# -- ports, servers ----------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_up(url: str, timeout: float = 60, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Until ``GET url`` answers 200 (SystemExit after ``timeout`` s, or when ``proc`` has exited)."""
    host, port, path = _split_url(url)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"{url}: the server exited with status {proc.returncode}")
        try:
            client = HttpClient(host, port, timeout=2)
            try:
                if client.call(Request("GET", path).raw(host, port))[0] == 200:
                    return
            finally:
                client.close()
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{url} did not come up within {timeout:g} s")


@dataclass
class Server:
    """A server we started: a gunicorn master (its workers are its children), output in ``log``."""

    name: str
    proc: subprocess.Popen[bytes]
    url: str
    ready_path: str
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_up(self, timeout: float = 90) -> None:
        try:
            wait_up(self.url + self.ready_path, timeout, self.proc)
        except SystemExit as exc:
            raise SystemExit(f"{self.name}: {exc}\n--- last lines of {self.log}:\n{self.log_tail()}") from None

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def start_server(name: str, argv: list[str], port: int, ready_path: str, workdir: str | Path,
                 env: Mapping[str, str] | None = None) -> Server:
    """Start ``argv`` (a Python module's command line, run with this interpreter) in ``ROOT``."""
    log = Path(workdir) / f"{name.replace(' ', '-')}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, *argv], cwd=ROOT, env=dict(env or os.environ),
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    return Server(name, proc, f"http://127.0.0.1:{port}", ready_path, log)


def stop_servers(servers: Iterable[Server], timeout: float = 15) -> None:
    """SIGTERM every server at once, then wait (gunicorn's graceful timeout is 5 s); SIGKILL stragglers."""
    servers = list(servers)
    for s in servers:
        if s.proc.poll() is None:
            s.proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for s in servers:
        try:
            s.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            for pid in reversed(tree_pids(s.pid)):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            s.proc.wait(timeout=5)


def serve_anchor(prog: str, create_app: Callable[[], Any], argv: list[str] | None = None) -> int:
    """An anchor's command line: serve ``create_app()`` under gunicorn with the gateway's settings
    (``gateway.server.gunicorn_options``); worker class, workers, threads and connections as given
    (``benchmarks/__main__.py`` passes the gateway's effective ones)."""
    import argparse

    parser = argparse.ArgumentParser(prog=prog)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--worker-class", default="gevent", choices=("gevent", "gthread"))
    parser.add_argument("--worker-connections", type=int, default=200)
    args = parser.parse_args(argv)
    if args.worker_class == "gevent":
        # As `flowgate serve` does (gateway/cli.py, "Why gevent"): patch before anything imports more.
        from gevent import monkey

        monkey.patch_all()
    from gateway.server import gunicorn_options, run_gunicorn

    run_gunicorn(create_app, gunicorn_options(f"{args.host}:{args.port}", workers=args.workers, threads=args.threads,
                                              trust_proxy=False, log_level="warning",
                                              worker_class=args.worker_class,
                                              worker_connections=args.worker_connections))
    return 0


NO_RATE_LIMIT = "1000000000/hour"  # the REST limiter still runs on every call; it never trips


def _env(**values: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    return {**base, **values}


def start_sandbox(workdir: Path, port: int, name: str = "sandbox") -> Server:
    """``flowgate sandbox`` (one gunicorn gthread worker), its rate limit out of the way."""
    (workdir / name).mkdir(exist_ok=True)
    env = _env(GATEWAY_DATA_DIR=str(workdir / name), GATEWAY_LOG_LEVEL="WARNING",
               GATEWAY_SANDBOX_RATE_LIMIT="1000000000")
    return start_server(name, ["-m", "gateway.cli", "sandbox", "--port", str(port)], port, "/_sandbox/health",
                        workdir, env)


def start_gateway(workdir: Path, port: int, sandbox_port: int, name: str = "gateway", log_level: str = "WARNING",
                  **settings: str) -> Server:
    """The gateway as production runs it: ``flowgate serve --no-sandbox --no-worker``, its vendors at the
    sandbox on ``sandbox_port`` (GATEWAY_SANDBOX_PORT), its own data folder; the server settings (worker
    class, workers, threads, connections) as the environment gives them unless ``settings`` overrides
    (``workers="1"`` becomes GATEWAY_WORKERS=1)."""
    (workdir / name).mkdir(exist_ok=True)
    env = _env(GATEWAY_PORT=str(port), GATEWAY_SANDBOX_PORT=str(sandbox_port), GATEWAY_DATA_DIR=str(workdir / name),
               GATEWAY_LOG_LEVEL=log_level, GATEWAY_REST_RATE_LIMIT=NO_RATE_LIMIT,
               **{f"GATEWAY_{k.upper()}": v for k, v in settings.items()})
    return start_server(name, ["-m", "gateway.cli", "serve", "--no-sandbox", "--no-worker"], port, "/healthz",
                        workdir, env)


def start_anchor(module: str, workdir: Path, port: int, *, workers: int, threads: int, worker_class: str,
                 worker_connections: int) -> Server:
    """``benchmarks.bare_spyne`` or ``benchmarks.bare_flask`` under the given gunicorn settings."""
    name = module.rsplit(".", 1)[-1]
    argv = ["-m", module, "--port", str(port), "--workers", str(workers), "--threads", str(threads),
            "--worker-class", worker_class, "--worker-connections", str(worker_connections)]
    return start_server(name, argv, port, "/?wsdl" if name == "bare_spyne" else "/v1/record", workdir, _env())


def wait_all(servers: Iterable[Server]) -> None:
    """Until every server answers; if one does not, all are stopped."""
    servers = list(servers)
    try:
        for server in servers:
            server.wait_up()
    except BaseException:
        stop_servers(servers)
        raise


# -- HTTP on raw sockets -------------------------------------------------------------------------------
def _split_url(url: str) -> tuple[str, int, str]:
    rest = url.split("//", 1)[1]
    hostport, _, path = rest.partition("/")
    host, _, port = hostport.partition(":")
    return host, int(port or 80), "/" + path


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    def raw(self, host: str, port: int) -> bytes:
        lines = [f"{self.method} {self.path} HTTP/1.1", f"Host: {host}:{port}"]
        lines += [f"{k}: {v}" for k, v in self.headers.items()]
        if self.body or self.method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + self.body


_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*(\d+)", re.IGNORECASE)
_CHUNKED = re.compile(rb"\r\ntransfer-encoding:[ \t]*chunked", re.IGNORECASE)
_CLOSE = re.compile(rb"\r\nconnection:[ \t]*close", re.IGNORECASE)


class HttpClient:
    """One keep-alive HTTP/1.1 connection: send a prepared request, read the whole answer.

    Cheaper per call than ``http.client`` (no header objects), so a Python driver spends its CPU on
    the servers' side of the machine, not its own. Reconnects when the server closes."""

    def __init__(self, host: str, port: int, timeout: float = 10):
        self.host, self.port, self.timeout = host, port, timeout
        self.sock: socket.socket | None = None
        self.buf = b""

    def _connect(self) -> socket.socket:
        sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock, self.buf = sock, b""
        return sock

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def _more(self, sock: socket.socket) -> None:
        data = sock.recv(1 << 16)
        if not data:
            raise ConnectionError("the server closed the connection")
        self.buf += data

    def call(self, raw: bytes) -> tuple[int, bytes]:
        """(status, body) of one request; ``raw`` from :meth:`Request.raw`."""
        sock = self.sock or self._connect()
        sock.sendall(raw)
        while (end := self.buf.find(b"\r\n\r\n")) < 0:
            self._more(sock)
        head, self.buf = self.buf[:end + 2], self.buf[end + 4:]
        status = int(head[9:12])
        if _CHUNKED.search(head):
            body = self._chunked(sock)
        else:
            match = _CONTENT_LENGTH.search(head)
            size = int(match.group(1)) if match else 0
            while len(self.buf) < size:
                self._more(sock)
            body, self.buf = self.buf[:size], self.buf[size:]
        if _CLOSE.search(head):
            self.close()
        return status, body

    def _chunked(self, sock: socket.socket) -> bytes:
        parts: list[bytes] = []
        while True:
            while (eol := self.buf.find(b"\r\n")) < 0:
                self._more(sock)
            size = int(self.buf[:eol].split(b";")[0], 16)
            self.buf = self.buf[eol + 2:]
            if size == 0:  # then trailers (none from our servers) and an empty line
                while (end := self.buf.find(b"\r\n")) < 0:
                    self._more(sock)
                self.buf = self.buf[end + 2:]
                return b"".join(parts)
            while len(self.buf) < size + 2:
                self._more(sock)
            parts.append(self.buf[:size])
            self.buf = self.buf[size + 2:]


# -- load drivers ----------------------------------------------------------------------------------
@dataclass
class DriveResult:
    requests: int          # answers received
    seconds: float         # the timed window
    unexpected: int = 0    # answers with another status than expected, or socket errors

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0


DRIVERS = ("auto", "wrk", "python")
_driver = {"choice": "auto"}


def use_driver(choice: str) -> None:
    """``auto`` (wrk when installed, else Python), ``wrk`` (required) or ``python``."""
    if choice not in DRIVERS:
        raise SystemExit(f"driver: expected one of {', '.join(DRIVERS)}")
    if choice == "wrk" and not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    _driver["choice"] = choice


def wrk_path() -> str | None:
    """wrk's path when it is installed and chosen (``use_driver``), else None: the Python driver."""
    return None if _driver["choice"] == "python" else shutil.which("wrk")


def driver_name(connections: int) -> str:
    """What :func:`drive` uses here, for the report."""
    wrk = wrk_path()
    if wrk:
        out = subprocess.run([wrk, "-v"], capture_output=True, text=True, check=False)
        version = (out.stdout + out.stderr).split("[")[0].strip() or "wrk"
        return f"{version} -t1 -c{connections}"
    return f"python driver ({connections} keep-alive connections in threads)"


def _lua(value: str) -> str:
    return json.dumps(value)  # ASCII only here: a JSON string is a Lua string literal


def _wrk(url: str, request: Request, seconds: float, connections: int, expect_status: int) -> DriveResult:
    with tempfile.TemporaryDirectory(prefix="flowgate-wrk-") as tmp:
        body = Path(tmp) / "body"
        body.write_bytes(request.body)
        script = [f"wrk.method = {_lua(request.method)}"]
        if request.body:
            script += [f"local f = io.open({_lua(str(body))}, 'rb')", "wrk.body = f:read('*a')", "f:close()"]
        script += [f"wrk.headers[{_lua(k)}] = {_lua(v)}" for k, v in request.headers.items()]
        (Path(tmp) / "request.lua").write_text("\n".join(script) + "\n")
        host, port, _ = _split_url(url)
        out = subprocess.run([str(wrk_path()), "-t1", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "10s",
                              "-s", str(Path(tmp) / "request.lua"), f"http://{host}:{port}{request.path}"],
                             capture_output=True, text=True, check=True, timeout=seconds + 60).stdout
    match = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m)", out)
    if not match:
        raise SystemExit(f"cannot read wrk's output:\n{out}")
    done, took = int(match.group(1)), float(match.group(2)) * {"ms": 0.001, "s": 1, "m": 60}[match.group(3)]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    failing = int(non2xx.group(1)) if non2xx else 0
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    socket_errors = sum(int(n) for n in errors.groups()) if errors else 0
    unexpected = (done - failing if expect_status >= 400 else failing) + socket_errors
    return DriveResult(done, took, unexpected)


def python_drive(url: str, request: Request, seconds: float, connections: int, expect_status: int = 200,
                 cap: int = 500_000) -> DriveResult:
    """``connections`` keep-alive clients, each in a thread, for ``seconds`` and at most ``cap`` calls."""
    host, port, _ = _split_url(url)
    raw = request.raw(host, port)
    counts, unexpected = [0] * connections, [0] * connections
    stop = threading.Event()

    def client(i: int) -> None:
        conn = HttpClient(host, port)
        try:
            while not stop.is_set():
                try:
                    status, _ = conn.call(raw)
                except OSError:
                    unexpected[i] += 1
                    conn.close()
                    continue
                counts[i] += 1
                if status != expect_status:
                    unexpected[i] += 1
                if counts[i] * connections >= cap:
                    break
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(connections)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    stop.wait(seconds)
    stop.set()
    for t in threads:
        t.join(timeout=15)
    return DriveResult(sum(counts), time.perf_counter() - started, sum(unexpected))


def drive(url: str, request: Request, seconds: float, connections: int, expect_status: int = 200) -> DriveResult:
    """Load ``url`` with ``request`` for ``seconds``: wrk when installed, else the Python driver."""
    if wrk_path():
        return _wrk(url, request, seconds, connections, expect_status)
    return python_drive(url, request, seconds, connections, expect_status)


# -- the requests, and scenarios in interleaved rounds ---------------------------------------------------
SOAP11 = "text/xml; charset=utf-8"
SOAP_GET_RECORD = b"""<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:mym="Flowize">
<soapenv:Body><mym:getRecord><input><AuthenticationObject><Apikey>demo-api-key</Apikey><Appkey>demo-app</Appkey>
</AuthenticationObject><DataRecordObject><Uuid>demo-record</Uuid></DataRecordObject></input></mym:getRecord>
</soapenv:Body></soapenv:Envelope>"""
# getRecord with no AuthenticationObject: the SOAP door reads, parses and dispatches the envelope, and the
# operation faults ("The credentials are not correct.") before any vendor call: the door's own cost.
SOAP_LOCAL_FAULT = b"""<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:mym="Flowize">
<soapenv:Body><mym:getRecord><input><DataRecordObject><Uuid>demo-record</Uuid></DataRecordObject></input>
</mym:getRecord></soapenv:Body></soapenv:Envelope>"""
SOAP_HEADERS = {"Content-Type": SOAP11, "SOAPAction": '""'}
RECORD_HEADERS = {"X-Apikey": "demo-api-key", "X-App": "demo-app", "X-Uuid": "demo-record"}
GET_RECORD = Request("GET", "/v1/record", RECORD_HEADERS)
SOAP = Request("POST", "/v1/soap", SOAP_HEADERS, SOAP_GET_RECORD)
LOCAL_FAULT = Request("POST", "/v1/soap", SOAP_HEADERS, SOAP_LOCAL_FAULT)
ANCHOR_SPYNE = Request("POST", "/", SOAP_HEADERS, SOAP_GET_RECORD)  # benchmarks/bare_spyne.py answers it
HEALTHZ = Request("GET", "/healthz")
RECORD_MARK = b"Data Record structure was retrieving successfully"
FAULT_MARK = b"The credentials are not correct."
SOAP_OK_MARK = b"<Code>200</Code>"


@dataclass
class Scenario:
    key: str
    label: str
    server: str                        # the server the load is sent to
    request: Request
    expect_status: int
    expect: bytes                      # in the body of a correct answer
    cpu_of: dict[str, str]             # role in the report -> server whose CPU (process tree) is counted
    baseline: str | None = None        # the scenario the ratio is taken against
    rps: list[float] = field(default_factory=list)
    cpu_ms: dict[str, list[float]] = field(default_factory=dict)
    unexpected: int = 0

    def median_rps(self) -> float:
        return statistics.median(self.rps)

    def median_cpu(self) -> dict[str, float]:
        out = {role: round(statistics.median(v), 3) for role, v in self.cpu_ms.items()}
        out["total"] = round(sum(out.values()), 3)
        return out


def check(s: Scenario, server: Server) -> None:
    """One call: the answer a correct server gives, else SystemExit."""
    host, port, _ = _split_url(server.url)
    client = HttpClient(host, port)
    try:
        status, body = client.call(s.request.raw(host, port))
    finally:
        client.close()
    if status != s.expect_status or s.expect not in body:
        raise SystemExit(f"{s.label}: unexpected answer {status}: {body[:600]!r}")


def run_once(s: Scenario, servers: Mapping[str, Server], seconds: float, connections: int) -> DriveResult:
    """One timed run of ``s``: its requests/s and server CPU ms per request (by role) are appended."""
    pids = {role: servers[name].pid for role, name in s.cpu_of.items()}
    cpu0 = {role: tree_cpu_seconds(pid) for role, pid in pids.items()}
    result = drive(servers[s.server].url, s.request, seconds, connections, s.expect_status)
    for role, pid in pids.items():
        s.cpu_ms.setdefault(role, []).append(1000 * (tree_cpu_seconds(pid) - cpu0[role]) / max(result.requests, 1))
    s.rps.append(result.rps)
    s.unexpected += result.unexpected
    return result


def warm_up(items: Iterable[Scenario], servers: Mapping[str, Server], seconds: float, connections: int) -> None:
    """Check each scenario's answer, then load it for ``seconds`` (imports, caches, pools), not kept."""
    for s in items:
        check(s, servers[s.server])
        drive(servers[s.server].url, s.request, seconds, connections, s.expect_status)


def rounds(items: list[Scenario], servers: Mapping[str, Server], count: int, seconds: float, connections: int,
           say: Callable[[str], None] = print) -> None:
    """``count`` rounds, each scenario once per round, the order reversed every other round."""
    for n in range(count):
        started = time.monotonic()
        for s in items if n % 2 == 0 else items[::-1]:
            run_once(s, servers, seconds, connections)
        say(f"  round {n + 1}/{count} ({time.monotonic() - started:.0f} s): "
            + ", ".join(f"{s.key} {s.rps[-1]:.0f}" for s in items))


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile of ``values`` (0 < pct <= 100)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))]


# -- /proc ---------------------------------------------------------------------------------------
def children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                out += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                pass
    except OSError:
        pass
    return out


def tree_pids(pid: int) -> list[int]:
    """``pid`` and its descendants, parents first."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop(0)
        out.append(p)
        todo += children(p)
    return out


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""


def cpu_seconds(pid: int) -> float:
    """User + system CPU of one process, all its threads."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return 0.0


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` and its living descendants (gunicorn master and workers)."""
    return sum(cpu_seconds(p) for p in tree_pids(pid))


def status_kb(pid: int, key: str) -> int:
    """A ``/proc/PID/status`` figure in kB (VmRSS, VmHWM...), 0 if the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def process_memory(pid: int) -> dict[str, float]:
    """MB of one process: ``rss`` (resident, shared pages counted in full), ``pss`` (shared pages
    divided among the processes sharing them) and ``uss`` (private pages only), smaps_rollup."""
    kb = {"Rss": 0, "Pss": 0, "Private_Clean": 0, "Private_Dirty": 0}
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            key = line.split(":", 1)[0]
            if key in kb:
                kb[key] = int(line.split()[1])
    except OSError:
        kb["Rss"] = status_kb(pid, "VmRSS")
    return {"rss": kb["Rss"] / 1024, "pss": kb["Pss"] / 1024,
            "uss": (kb["Private_Clean"] + kb["Private_Dirty"]) / 1024}


def tree_memory(pid: int) -> dict[str, Any]:
    """Memory of a gunicorn master and its workers: sums and each process."""
    memory = {p: process_memory(p) for p in tree_pids(pid)}
    procs = [{"pid": p, "role": "master" if p == pid else "worker", **{k: round(v, 1) for k, v in m.items()}}
             for p, m in memory.items()]
    sums = {f"{k}_mb": round(sum(m[k] for m in memory.values()), 1) for k in ("rss", "pss", "uss")}
    return {**sums, "processes": procs}


# -- the machine ---------------------------------------------------------------------------------------
def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True,
                              timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def machine_info() -> dict[str, Any]:
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = []
    return {"cpu_model": cpu_model(), "cores": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform(), "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "git_commit": _git("rev-parse", "HEAD") or "unknown",
            "git_dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
            "load_average_at_start": load}


def write_json(path: str | Path, data: Any) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")


"""A scaled-out Flowgate on loopback: one sandbox, two gateways, two workers, all separate processes,
sharing a fresh PostgreSQL database and a Redis database number of their own.

Scale-out is by settings alone (docs/jobs.md, docs/reliability.md): the database URL, the Redis URL
(Huey queue, vendor budgets, circuit state), Redis rate-limit counters, GATEWAY_EMBEDDED=0 and every
vendor's base URL pointing at the one sandbox. Every process is started in a process group of its
own and the whole group is stopped at the end, so gunicorn's workers go with their master.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests

from gateway.store.crypto import SecretBox

ROOT = Path(__file__).resolve().parents[2]
REDIS_DB = 14  # the scale-out test's own Redis database, flushed before and after

#: Small batches and quick polls, so a few thousand rows make many vendor calls in little time.
JOB_SETTINGS = {
    "GATEWAY_JOBS_WORKERS": "2",
    "GATEWAY_JOBS_STEP_SECONDS": "1.0",
    "GATEWAY_JOBS_SWEEP_SECONDS": "5",
    "GATEWAY_JOBS_MAX_INFLIGHT": "2",
    "GATEWAY_FLOWCODE_BATCH_SIZE": "250",
    "GATEWAY_FLOWCODE_POLL_INTERVAL": "0.3",
    "GATEWAY_EXAROUTES_BATCH_ROWS": "50",
    "GATEWAY_EXAROUTES_POLL_SCHEDULE": "0.3,0.5,1",
}


#: vendor -> (calls, seconds): each vendor's shared request budget, small so that the jobs press
#: against it and a check of every window means something.
BUDGETS = {"flowcode": (6, 2.0), "exaroutes": (4, 2.0)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _redis_db_url(url: str, db: int) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, ""))


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def signal_group(self, sig: int) -> None:
        try:
            os.killpg(self.popen.pid, sig)
        except ProcessLookupError:
            pass

    def kill(self) -> None:
        """SIGKILL, the whole group at once: no clean-up, no released lease."""
        self.signal_group(signal.SIGKILL)
        self.popen.wait(timeout=10)

    def stop(self) -> None:
        self.signal_group(signal.SIGTERM)
        try:
            self.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        # Children that outlived their parent (or a parent that would not go) go now.
        self.signal_group(signal.SIGKILL)
        try:
            self.popen.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass

    def tail(self, lines: int = 40) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return f"--- {self.name} ({self.log}) ---\n" + "\n".join(text.splitlines()[-lines:])


@dataclass
class Cluster:
    env: dict[str, str]
    database_url: str
    sandbox_url: str
    sandbox_db: Path
    key: str = ""
    gateways: list[str] = field(default_factory=list)
    workers: list[Proc] = field(default_factory=list)
    procs: list[Proc] = field(default_factory=list)
    folder: Path = Path()
    workers_started: float = 0.0  # time.time() when the workers were started

    def spawn(self, name: str, *args: str, **env: str) -> Proc:
        log = self.folder / f"{name}.log"
        with open(log, "ab") as out:
            popen = subprocess.Popen([sys.executable, "-m", "gateway.cli", *args], env={**self.env, **env},
                                     cwd=self.folder, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        proc = Proc(name, popen, log)
        self.procs.append(proc)
        return proc

    def run(self, *args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "gateway.cli", *args], env=self.env, cwd=self.folder,
                              capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, check=False)
        assert done.returncode == 0, f"flowgate {' '.join(args)}: {done.stdout}{done.stderr}"
        return done.stdout

    def logs(self) -> str:
        return "\n".join(p.tail() for p in self.procs)

    def keep_call_log(self) -> None:
        """What the vendors saw, kept beside the processes' logs for a post-mortem."""
        try:
            calls = requests.get(self.sandbox_url + "/_sandbox/calls", timeout=30).text
        except requests.RequestException:
            return
        (self.folder / "calls.json").write_text(calls)

    def stop(self) -> None:
        self.keep_call_log()
        for proc in self.procs:
            proc.signal_group(signal.SIGTERM)
        for proc in self.procs:
            proc.stop()


def _wait_up(url: str, proc: Proc, cluster: Cluster, timeout: float = 45.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive():
            pytest.fail(f"{proc.name} exited with {proc.popen.returncode}:\n{cluster.logs()}")
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    pytest.fail(f"{proc.name} did not answer {url} within {timeout:.0f} s:\n{cluster.logs()}")


@pytest.fixture
def scaleout_redis(redis_url):
    import redis

    url = _redis_db_url(redis_url, REDIS_DB)
    client = redis.Redis.from_url(url)
    client.flushdb()
    try:
        yield url
    finally:
        client.flushdb()
        client.close()


@pytest.fixture
def cluster(fresh_postgres_database, scaleout_redis, tmp_path):
    """The sandbox, `flowgate migrate`, a consumer, two gateways and two workers, all up."""
    sandbox_port = free_port()
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    base = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_") and k != "PROMETHEUS_MULTIPROC_DIR"}
    env = {
        **base,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), base.get("PYTHONPATH", "")])),
        "PYTHONUNBUFFERED": "1",
        "GATEWAY_LOG_LEVEL": "INFO",  # the logs are kept for a post-mortem
        "GATEWAY_EMBEDDED": "0",
        "GATEWAY_DATABASE_URL": fresh_postgres_database,
        "GATEWAY_REDIS_URL": scaleout_redis,
        "GATEWAY_REST_RATE_LIMIT_STORAGE": scaleout_redis,
        "GATEWAY_REST_RATE_LIMIT": "100000/hour",
        "GATEWAY_API_RATE_LIMIT": "100000/hour",
        # Machines sharing a database share these (README "Configuration").
        "GATEWAY_SECRET_KEY": SecretBox.generate_key(),
        "GATEWAY_API_SECRET_KEY": secrets.token_hex(32),
        # Both doors in gateway-held mode: consumers present Flowgate keys, Flowize gets the one
        # OAuth client the gateway holds.
        "GATEWAY_REST_AUTH": "gateway",
        "GATEWAY_FLOWIZE_AUTH": "oauth",
        "GATEWAY_FLOWIZE_CLIENT_ID": "demo-client-id",
        "GATEWAY_FLOWIZE_CLIENT_SECRET": "demo-client-secret",
        "GATEWAY_WORKERS": "1",
        "GATEWAY_DATA_DIR": str(tmp_path / "shared"),
        **{f"GATEWAY_{vendor}_BASE_URL": sandbox_url
           for vendor in ("FLOWIZE", "FLOWCODE", "EXAROUTES", "FLOWEVENTS", "FLOWBOX")},
        **JOB_SETTINGS,
        **{f"GATEWAY_{vendor.upper()}_RATE_LIMIT": f"{calls} per {int(seconds)} seconds"
           for vendor, (calls, seconds) in BUDGETS.items()},
    }
    made = Cluster(env=env, database_url=fresh_postgres_database, sandbox_url=sandbox_url,
                   sandbox_db=tmp_path / "sandbox" / "sandbox.db", folder=tmp_path)
    try:
        sandbox = made.spawn("sandbox", "sandbox", "--port", str(sandbox_port),
                             GATEWAY_SANDBOX_DATABASE=str(made.sandbox_db), GATEWAY_SANDBOX_RATE_LIMIT="1000000",
                             GATEWAY_THREADS="16")
        made.run("migrate")  # once, before the processes that would otherwise race to do it
        consumer = subprocess.Popen([sys.executable, "-m", "gateway.cli", "consumer", "add", "scaleout", "--scopes",
                                     "records,qr"], env=env, cwd=tmp_path, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        ports = [free_port(), free_port()]
        gateways = []
        for n, port in enumerate(ports):
            # Each gateway has a data folder of its own: its /metrics are its own processes' numbers.
            gateways.append(made.spawn(f"gateway-{'ab'[n]}", "serve", "--no-sandbox", "--no-worker",
                                       GATEWAY_PORT=str(port), GATEWAY_DATA_DIR=str(tmp_path / f"gw{n}")))
        made.workers = [made.spawn(f"worker-{n + 1}", "worker") for n in range(2)]
        made.workers_started = time.time()
        try:
            printed, complaint = consumer.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            consumer.kill()
            raise
        made.key = printed.strip().splitlines()[-1] if printed.strip() else ""
        assert consumer.returncode == 0 and made.key.startswith("fg_"), printed + complaint
        _wait_up(sandbox_url + "/_sandbox/health", sandbox, made)
        for proc, port in zip(gateways, ports, strict=True):
            _wait_up(f"http://127.0.0.1:{port}/readyz", proc, made)
        made.gateways = [f"http://127.0.0.1:{port}" for port in ports]
        yield made
    finally:
        made.stop()

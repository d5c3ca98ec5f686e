"""Crash safety: the gateway is SIGKILLed while it queues writes, the gateway and the worker are
SIGKILLed mid-delivery, and after restarts every record exists exactly once at the vendor, with its
last write — nothing lost, nothing doubled.

The gateway runs as users run it (``flowgate serve``, gunicorn, its own process group) and the worker
is ``flowgate worker``; Flowize is the session's sandbox, down (503) while the writes come in and slow
(latency) while they are delivered, so the kill lands with deliveries in flight.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from jobs.conftest import Worker
from outbox.conftest import (
    WORKER_ENV,
    new_uuid,
    outage,
    recover,
    rest_insert,
    rest_update,
    soap_insert,
    wait_until,
)
from support import add_fault, free_port, vendor_urls

from gateway.store import Store
from gateway.store.outbox import OutboxRepository

pytestmark = pytest.mark.slow

RECORDS = 120
UPDATED = 30     # records that also get an update, queued behind their insert


class Gateway:
    """``flowgate serve --no-sandbox --no-worker`` in a process group of its own (SIGKILL takes all of it)."""

    def __init__(self, data_dir: Path, sandbox_url: str, log: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **WORKER_ENV, "GATEWAY_PORT": str(self.port), "GATEWAY_DATA_DIR": str(data_dir),
                    "GATEWAY_WORKERS": "2", "GATEWAY_HTTP_RETRIES": "0", "GATEWAY_LOG_LEVEL": "WARNING",
                    **{f"GATEWAY_{k.upper()}": v for k, v in vendor_urls(sandbox_url).items()}}
        self.log = log
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "gateway.cli", "serve", "--no-sandbox", "--no-worker"],
                                         env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        wait_until(self._up, timeout=30, interval=0.1, what="the gateway to start")

    def _up(self) -> bool:
        try:
            return requests.get(self.url + "/healthz", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


def _insert(url: str, i: int, uuid: str) -> int | None:
    """One client write with its own Uuid; the status, or None when no answer came."""
    data = {"n": i, "v": 1}
    try:
        if i % 4 == 0:
            reply = soap_insert(url, data, uuid)
            return int(reply.result()["Code"])
        return rest_insert(url, data, uuid).status_code
    except (requests.RequestException, ValueError, KeyError, TypeError, AttributeError, IndexError):
        return None


def test_killed_gateway_and_worker_lose_nothing_and_double_nothing(sandbox_url, vendor_db, tmp_path):
    data_dir = tmp_path / "data"
    uuids = [new_uuid(f"crash{i}") for i in range(RECORDS)]
    down = outage(sandbox_url)
    gateway = Gateway(data_dir, sandbox_url, tmp_path / "gateway.log")
    gateway.start()
    worker = Worker(str(data_dir), sandbox_url, tmp_path / "worker.log", **WORKER_ENV)
    try:
        # 1. Clients write while Flowize is down; the gateway is killed while it queues.
        answers: dict[int, int | None] = {}
        with ThreadPoolExecutor(8) as pool:
            futures = {pool.submit(_insert, gateway.url, i, uuid): i for i, uuid in enumerate(uuids)}
            wait_until(lambda: sum(f.done() for f in futures) >= RECORDS // 3, what="a third of the answers")
            gateway.kill()
            for future, i in futures.items():
                answers[i] = future.result()
        assert all(status in (202, None) for status in answers.values()), answers
        unanswered = [i for i, status in answers.items() if status is None]
        assert unanswered, "the kill came after every answer"
        # 2. A restarted gateway: clients resend what was not answered (same Uuid, same data) and
        #    update some records; everything is queued (behind what the killed gateway committed).
        gateway.start()
        with ThreadPoolExecutor(8) as pool:
            assert set(pool.map(lambda i: _insert(gateway.url, i, uuids[i]), unanswered)) == {202}
        for i in range(UPDATED):   # after its insert was answered: queued behind it
            assert rest_update(gateway.url, uuids[i], {"n": i, "v": 2}).status_code == 202
        repo = OutboxRepository(Store(f"sqlite:///{data_dir / 'flowgate.db'}"))
        queued = sum(repo.counts().values())
        assert queued >= RECORDS + UPDATED
        # 3. Flowize is back but slow; the worker delivers; the gateway and the worker are killed
        #    with deliveries in flight.
        recover(sandbox_url, down)
        slow = add_fault(sandbox_url, path="/v1/record*", latency_ms=300)
        worker.start()
        wait_until(lambda: repo.counts().get("delivered", 0) >= queued // 4, what="a quarter delivered")
        worker.kill()
        gateway.kill()
        counts = repo.counts()
        in_flight = counts.get("delivering", 0)   # leases the killed worker holds: calls it had in flight
        assert in_flight > 0 and counts.get("delivered", 0) < queued, counts
        # 4. Both restart: the dead worker's leases are taken back at once and delivery resumes.
        requests.delete(f"{sandbox_url}/_sandbox/faults/{slow}", timeout=5).raise_for_status()
        worker.start()
        gateway.start()
        wait_until(lambda: repo.counts() == {"delivered": queued}, timeout=60, interval=0.2,
                   what="every entry delivered")
    finally:
        worker.kill()
        gateway.kill()
    # Every record exactly once at the vendor, with its last write.
    rows = vendor_db.all("SELECT uuid, data FROM fz_records WHERE uuid LIKE 'crash%'")
    by_uuid: dict[str, list[dict]] = {}
    for row in rows:
        by_uuid.setdefault(row["uuid"], []).append(json.loads(row["data"]))
    assert sorted(by_uuid) == sorted(uuids), "lost records"
    doubled = {u: d for u, d in by_uuid.items() if len(d) != 1}
    assert not doubled, doubled
    for i, uuid in enumerate(uuids):
        assert by_uuid[uuid] == [{"n": i, "v": 2 if i < UPDATED else 1}], uuid
    print(f"\ncrash test: {RECORDS} records, {len(unanswered)} unanswered at the gateway kill, {queued} entries, "
          f"{in_flight} in flight at the worker kill; lost 0, doubled 0")

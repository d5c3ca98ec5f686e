"""The task engine: Huey, with its queue in a SQLite file (embedded) or Redis (``GATEWAY_REDIS_URL``).

Huey carries only wake-up calls — "advance job X", now or in N seconds. The job itself lives in the
store, so a lost or duplicated message costs nothing: a step first takes the job's lease in the
database, and a job whose worker died is found again by the sweep (at worker start, then every
minute) once its lease has run out.

The store-and-forward outbox (gateway/jobs/outbox.py, docs/outbox.md) rides on the same engine:
"flowgate.outbox.deliver" is a wake-up call for the deliverer, sent by the gateway when it queues a
write and scheduled by the deliverer itself for the next retry; the sweep wakes it too.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from huey import Huey, RedisHuey, SqliteHuey, crontab

from gateway.config import Settings

__all__ = ["JobEngine", "make_huey", "queue_path", "worker_owner"]

log = logging.getLogger("gateway.jobs")

ADVANCE = "flowgate.qr.advance"
SWEEP = "flowgate.jobs.sweep"
DELIVER = "flowgate.outbox.deliver"


def queue_path(settings: Settings) -> Path:
    """The SQLite queue's file (without GATEWAY_REDIS_URL)."""
    return Path(settings.data_dir).absolute() / "tasks.db"


def make_huey(settings: Settings, *, timeout: float | None = None, create: bool = True) -> Huey:
    """The queue: Redis with GATEWAY_REDIS_URL, else a SQLite file in the data folder. ``timeout``
    bounds each call to the queue (default: Redis none, SQLite 15 s for its lock); ``create=False``
    leaves the data folder alone (``flowgate doctor`` only looks)."""
    if settings.redis_url:
        if timeout is None:
            return RedisHuey("flowgate", url=settings.redis_url, results=False)
        import redis  # Huey takes either a URL or a pool: a pool carries the timeouts

        pool = redis.ConnectionPool.from_url(settings.redis_url, socket_timeout=timeout,
                                             socket_connect_timeout=timeout)
        return RedisHuey("flowgate", connection_pool=pool, results=False)
    path = queue_path(settings)
    if create:
        path.parent.mkdir(parents=True, exist_ok=True)
    return SqliteHuey("flowgate", filename=str(path), results=False, timeout=15 if timeout is None else timeout)


def worker_owner() -> str:
    """Who holds a lease: host and process, so a restarted worker can tell a dead one's leases."""
    return f"{socket.gethostname()}:{os.getpid()}"


def owner_is_dead_here(owner: str) -> bool:
    """True when ``owner`` (``host:pid:step``) is a process of this machine that no longer runs
    (never for other hosts: their workers are given up on when the lease runs out)."""
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class OutboxRunner(Protocol):
    """What the engine needs of the outbox deliverer (gateway/jobs/outbox.py)."""

    def run(self, fan: bool, spawn: Callable[[int], None]) -> tuple[bool, float | None]:
        """Deliver what is due; (more is due now, seconds until the next entry is due or None)."""
        ...

    def sweep(self) -> bool:
        """Free dead workers' leases; True when something waits for delivery."""
        ...


class JobEngine:
    """Enqueue job steps (every process) and run them (``flowgate worker``, with a ``step``)."""

    def __init__(self, settings: Settings, *, huey: Huey | None = None,
                 step: Callable[[str], float | None] | None = None,
                 resumable: Callable[[], list[str]] | None = None,
                 outbox: OutboxRunner | None = None):
        self.huey = huey or make_huey(settings)
        self._step = step
        self._resumable = resumable
        self._outbox = outbox
        self._advance = self.huey.task(name=ADVANCE)(self._run_step)
        self._deliver = self.huey.task(name=DELIVER)(self._run_outbox)
        self.huey.periodic_task(crontab(minute="*"), name=SWEEP)(self.sweep)
        # The earliest outbox wake-up this process has scheduled and that is still to come: one
        # scheduled wake-up is enough, so many queued writes do not make many (docs/outbox.md).
        self._wake_due: float | None = None
        self._wake_lock = threading.Lock()

    def advance(self, job_id: str, delay: float = 0.0) -> None:
        """Wake the job up now, or in ``delay`` seconds (polling without holding a thread)."""
        if delay > 0:
            self._advance.schedule(args=(job_id,), delay=delay)
        else:
            self._advance(job_id)

    def _run_step(self, job_id: str) -> None:
        if self._step is None:  # pragma: no cover - only workers consume
            raise RuntimeError("this process only enqueues job steps")
        delay = self._step(job_id)
        if delay is not None:
            self.advance(job_id, delay)

    # -- the outbox --------------------------------------------------------------------------------
    def wake_outbox(self, delay: float = 0.0) -> None:
        """Have the deliverer look at the outbox in ``delay`` seconds, unless this process already
        has a wake-up scheduled no later than that (it will schedule the next one itself)."""
        due = time.time() + delay
        with self._wake_lock:
            if self._wake_due is not None and time.time() < self._wake_due <= due:
                return
            self._wake_due = due
        if delay > 0:
            self._deliver.schedule(args=(True,), delay=delay)
        else:
            self._deliver(True)

    def _run_outbox(self, fan: bool = True) -> None:
        if self._outbox is None:  # pragma: no cover - only workers consume
            raise RuntimeError("this process only enqueues outbox wake-ups")
        more, due_in = self._outbox.run(fan, self._helpers)
        if more:
            self._deliver(False)          # its time budget is spent: go on, letting other tasks in between
        elif due_in is not None:
            # Never a busy loop: what is due "now" but could not be taken is held by another worker.
            self.wake_outbox(max(due_in, 0.2))

    def _helpers(self, count: int) -> None:
        for _ in range(count):
            self._deliver(False)          # fan out over the worker's threads; helpers do not fan out again

    def sweep(self) -> int:
        """Wake every unfinished job whose lease is free (a crashed worker's, once run out), and the
        outbox deliverer when something waits for delivery."""
        if self._outbox is not None and self._outbox.sweep():
            self._deliver(True)
        if self._resumable is None:
            return 0
        jobs = self._resumable()
        for job_id in jobs:
            self.advance(job_id)
        if jobs:
            log.info("resuming %d job(s)", len(jobs))
        return len(jobs)

    def queue_length(self) -> int:
        """Tasks waiting in the queue (for /metrics)."""
        return int(self.huey.pending_count())

    def ping(self) -> bool:
        """Can work be queued? (the SQLite queue file or Redis answers) — for /readyz."""
        try:
            self.huey.pending_count()
        except Exception:
            log.warning("the task engine's queue does not answer", exc_info=True)
            return False
        return True

    def consumer(self, workers: int) -> Any:
        return self.huey.create_consumer(workers=workers, worker_type="thread", periodic=True,
                                         initial_delay=0.05, backoff=1.5, max_delay=0.5)

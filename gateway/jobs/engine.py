"""The task engine: Huey, with its queue in a SQLite file (embedded) or Redis (``GATEWAY_REDIS_URL``).

Huey carries only wake-up calls — "advance job X", now or in N seconds. The job itself lives in the
store, so a lost or duplicated message costs nothing: a step first takes the job's lease in the
database, and a job whose worker died is found again by the sweep (at worker start, then every
minute) once its lease has run out.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

from huey import Huey, RedisHuey, SqliteHuey, crontab

from gateway.config import Settings

__all__ = ["JobEngine", "make_huey", "worker_owner"]

log = logging.getLogger("gateway.jobs")

ADVANCE = "flowgate.qr.advance"
SWEEP = "flowgate.jobs.sweep"


def make_huey(settings: Settings) -> Huey:
    if settings.redis_url:
        return RedisHuey("flowgate", url=settings.redis_url, results=False)
    path = Path(settings.data_dir).absolute() / "tasks.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    return SqliteHuey("flowgate", filename=str(path), results=False, timeout=15)


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


class JobEngine:
    """Enqueue job steps (every process) and run them (``flowgate worker``, with a ``step``)."""

    def __init__(self, settings: Settings, *, huey: Huey | None = None,
                 step: Callable[[str], float | None] | None = None,
                 resumable: Callable[[], list[str]] | None = None):
        self.huey = huey or make_huey(settings)
        self._step = step
        self._resumable = resumable
        self._advance = self.huey.task(name=ADVANCE)(self._run_step)
        self.huey.periodic_task(crontab(minute="*"), name=SWEEP)(self.sweep)

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

    def sweep(self) -> int:
        """Wake every unfinished job whose lease is free (a crashed worker's, once run out)."""
        if self._resumable is None:
            return 0
        jobs = self._resumable()
        for job_id in jobs:
            self.advance(job_id)
        if jobs:
            log.info("resuming %d job(s)", len(jobs))
        return len(jobs)

    def consumer(self, workers: int) -> Any:
        return self.huey.create_consumer(workers=workers, worker_type="thread", periodic=True,
                                         initial_delay=0.05, backoff=1.5, max_delay=0.5)

"""``flowgate worker``: a Huey consumer running job steps, as many per machine and machines as wanted.

At start it frees the leases of workers of this machine that died (a SIGKILL leaves them held) and
wakes every unfinished job; then the consumer runs, with the minute sweep for jobs whose wake-up
call was lost with another worker.
"""

from __future__ import annotations

import logging

from gateway.config import Settings
from gateway.connectors.exaroutes import ExaRoutesConnector
from gateway.connectors.flowcode import FlowcodeConnector
from gateway.http import HttpClient
from gateway.jobs.budget import VendorBudget
from gateway.jobs.engine import JobEngine
from gateway.jobs.qr import QrJobRunner
from gateway.store import Store
from gateway.store.archives import ArchiveRepository
from gateway.store.jobs import JobRepository

__all__ = ["build_worker", "run_worker"]

log = logging.getLogger("gateway.jobs")


def build_worker(settings: Settings, *, migrate: bool = True) -> tuple[JobEngine, QrJobRunner, Store]:
    store = Store(settings.effective_database_url)
    if migrate:
        store.migrate()
    http = HttpClient(settings)
    budget = VendorBudget(settings.redis_url or "memory://",
                          {"flowcode": settings.flowcode_rate_limit, "exaroutes": settings.exaroutes_rate_limit})
    runner = QrJobRunner(settings, JobRepository(store), FlowcodeConnector.from_settings(http, settings),
                         ExaRoutesConnector.from_settings(http, settings, ArchiveRepository(store)), budget)
    engine = JobEngine(settings, step=runner.step, resumable=runner.resumable)
    return engine, runner, store


def run_worker(settings: Settings) -> None:
    """Run until SIGTERM/SIGINT (blocks)."""
    engine, runner, _store = build_worker(settings)
    resumed = engine.sweep()
    log.info("worker %s ready (%d threads, queue %s); %d job(s) resumed", runner.owner, settings.jobs_workers,
             "redis" if settings.redis_url else "sqlite", resumed)
    engine.consumer(settings.jobs_workers).run()

"""The long-lived parts one gateway process shares: settings, HTTP client, store, operations.

Built once by :func:`gateway.app.create_app` (or by a worker, or a test) and passed down explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.config import Settings
from gateway.connectors.exaroutes import ExaRoutesConnector
from gateway.connectors.flowbox import FlowboxConnector
from gateway.connectors.flowcode import FlowcodeConnector
from gateway.connectors.flowevents import FlowEventsConnector
from gateway.connectors.flowize import FlowizeConnector
from gateway.connectors.flowize_auth import StoreTokenCache
from gateway.http import HttpClient
from gateway.jobs.engine import JobEngine
from gateway.operations.credentials import CredentialPolicy
from gateway.operations.events import EventsOperations
from gateway.operations.feeds import FeedsOperations
from gateway.operations.flowize import FlowizeOperations
from gateway.operations.outbox import Outbox
from gateway.operations.qr import QrOperations
from gateway.operations.qr_jobs import QrJobOperations
from gateway.operations.records import RecordsOperations
from gateway.store import Store, TokenRepository
from gateway.store.archives import ArchiveRepository
from gateway.store.consumers import ConsumerRepository
from gateway.store.crypto import SecretBox
from gateway.store.jobs import JobRepository
from gateway.store.outbox import OutboxRepository
from gateway.store.qr_codes import QrCodeRepository

__all__ = ["Services"]


@dataclass
class Services:
    settings: Settings
    http: HttpClient
    store: Store
    box: SecretBox                  # seals the secrets the store keeps (gateway/store/crypto.py)
    consumers: ConsumerRepository
    credentials: CredentialPolicy   # presented credentials -> upstream ones, for every front door
    flowize: FlowizeOperations
    qr: QrOperations
    events: EventsOperations
    feeds: FeedsOperations
    records: RecordsOperations
    jobs: QrJobOperations
    engine: JobEngine               # the task engine the jobs and the outbox hand work to
    outbox: Outbox | None = None    # store-and-forward of Flowize writes (docs/outbox.md)

    @classmethod
    def build(cls, settings: Settings, *, migrate: bool = True) -> Services:
        store = Store(settings.effective_database_url)
        if migrate:
            store.migrate()
        box = SecretBox.from_settings(settings)
        consumers = ConsumerRepository(store, box)
        http = HttpClient(settings)
        connector = FlowizeConnector(http, settings.flowize_base_url,
                                     token_cache=StoreTokenCache(TokenRepository(store, box)),
                                     token_margin=settings.flowize_token_margin)
        engine = JobEngine(settings)
        outbox = Outbox(settings, OutboxRepository(store), box, wake=engine.wake_outbox)
        # No credentials held here: both front doors ask the one credential policy which to send.
        flowize = FlowizeOperations(connector, outbox=outbox)
        qr = QrOperations(FlowcodeConnector.from_settings(http, settings),
                          ExaRoutesConnector.from_settings(http, settings, ArchiveRepository(store)),
                          QrCodeRepository(store), settings)
        return cls(settings=settings, http=http, store=store, box=box, consumers=consumers,
                   credentials=CredentialPolicy.from_settings(settings, consumers), flowize=flowize, qr=qr,
                   events=EventsOperations(FlowEventsConnector.from_settings(http, settings)),
                   feeds=FeedsOperations(FlowboxConnector.from_settings(http, settings)),
                   # The facade answers what the vendor did, never "queued": its records are live only.
                   records=RecordsOperations(FlowizeOperations(connector), settings),
                   jobs=QrJobOperations(JobRepository(store), engine, qr), engine=engine, outbox=outbox)

    def close(self) -> None:
        self.http.close()
        self.store.dispose()

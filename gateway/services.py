"""The long-lived parts one gateway process shares: settings, HTTP client, store, operations.

Built once by :func:`gateway.app.create_app` (or by a test) and passed down explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.config import Settings
from gateway.connectors.flowize import FlowizeConnector
from gateway.connectors.flowize_auth import FlowizeCredentials, StoreTokenCache
from gateway.http import HttpClient
from gateway.operations.flowize import FlowizeOperations
from gateway.store import Store, TokenRepository

__all__ = ["Services"]


@dataclass
class Services:
    settings: Settings
    http: HttpClient
    store: Store
    flowize: FlowizeOperations

    @classmethod
    def build(cls, settings: Settings, *, migrate: bool = True) -> Services:
        store = Store(settings.effective_database_url)
        if migrate:
            store.migrate()
        http = HttpClient(settings)
        connector = FlowizeConnector(http, settings.flowize_base_url,
                                     token_cache=StoreTokenCache(TokenRepository(store)),
                                     token_margin=settings.flowize_token_margin)
        operations = FlowizeOperations(connector, FlowizeCredentials.from_settings(settings))
        return cls(settings=settings, http=http, store=store, flowize=operations)

    def close(self) -> None:
        self.http.close()
        self.store.dispose()

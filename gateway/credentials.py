"""Credentials as values: what the gateway sends to Flowize, in each of its four documented styles.

A plain value module that every layer may import: front doors hand these to operations, operations
to the connector. Which presented credentials become which of these is decided in one place,
:mod:`gateway.operations.credentials`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.config import Settings

__all__ = ["STYLES", "FlowizeCredentials"]

STYLES = ("apikey", "url", "bearer", "oauth")


@dataclass(frozen=True)
class FlowizeCredentials:
    style: str
    api_key: str = field(default="", repr=False)
    app_key: str = ""
    access_token: str = field(default="", repr=False)
    client_id: str = ""
    client_secret: str = field(default="", repr=False)
    scopes: str = ""  # the caller's own X-Scopes; empty: the connector asks for the scope each call needs

    def __post_init__(self) -> None:
        if self.style not in STYLES:
            raise ValueError(f"unknown Flowize auth style {self.style!r}")

    @classmethod
    def api_keys(cls, api_key: str, app_key: str, *, in_url: bool = False) -> FlowizeCredentials:
        return cls("url" if in_url else "apikey", api_key=api_key, app_key=app_key)

    @classmethod
    def bearer(cls, token: str) -> FlowizeCredentials:
        return cls("bearer", access_token=token)

    @classmethod
    def oauth(cls, client_id: str, client_secret: str) -> FlowizeCredentials:
        return cls("oauth", client_id=client_id, client_secret=client_secret)

    @classmethod
    def from_settings(cls, settings: Settings) -> FlowizeCredentials | None:
        """The gateway-held credentials, or None in pass-through mode."""
        style = settings.flowize_auth
        if style == "oauth":
            return cls.oauth(settings.flowize_client_id, settings.flowize_client_secret)
        if style in ("apikey", "url"):
            return cls.api_keys(settings.flowize_api_key, settings.flowize_app_key, in_url=style == "url")
        return None

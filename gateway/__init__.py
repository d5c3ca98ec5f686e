"""Flowgate: a SOAP/REST integration gateway in front of vendor REST APIs.

The public surface is small on purpose: build the app, configure it, reuse the HTTP client. The app
and the client are imported on first use, so ``import gateway`` stays cheap and starts nothing (and
``flowgate serve`` can prepare the metrics folder before the metrics library is loaded).
"""

from __future__ import annotations

from typing import Any

from gateway import _compat
from gateway.config import Settings, SettingsError

__all__ = ["HttpClient", "Settings", "SettingsError", "__version__", "create_app"]
__version__ = "0.1.0"
_compat.install()  # before anything imports spyne


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from gateway.app import create_app

        return create_app
    if name == "HttpClient":
        from gateway.http import HttpClient

        return HttpClient
    raise AttributeError(f"module 'gateway' has no attribute {name!r}")

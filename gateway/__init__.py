"""Flowgate: a SOAP/REST integration gateway in front of vendor REST APIs.

The public surface is small on purpose: build the app, configure it, reuse the HTTP client.
"""

from gateway.app import create_app
from gateway.config import Settings, SettingsError
from gateway.http import HttpClient

__all__ = ["HttpClient", "Settings", "SettingsError", "__version__", "create_app"]
__version__ = "0.1.0"

"""Emulators of every vendor API in the vendor docs, served by one sandbox server.

Used as the embedded default upstream (``flowgate sandbox``, 127.0.0.1:8081) and by the tests.
"""

from gateway.sandbox.app import create_sandbox_app

__all__ = ["create_sandbox_app"]

"""What every connector does with a vendor's error response: one place, so they cannot drift.

Each vendor has its own error body (documented in its connector); once the connector has pulled the
message (and any vendor code) out of it, :func:`vendor_error` builds the exception: the HTTP status
picks the class (:func:`gateway.errors.error_for_status`), 5xx messages name the vendor, and a
numeric ``Retry-After`` is kept for the caller.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests

from gateway.errors import GatewayError, error_for_status

__all__ = ["body_message", "json_or_none", "retry_after", "vendor_error"]


def json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def body_message(body: Any, key: str = "message") -> str | None:
    value = body.get(key) if isinstance(body, dict) else None
    return value if isinstance(value, str) else None


def retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("Retry-After", "").strip()
    return float(value) if value.isdigit() else None


def vendor_error(vendor: str, status: int, message: str | None, headers: Mapping[str, str], *,
                 code: int | None = None, detail: Any = None) -> GatewayError:
    if status >= 500:
        message = f"{vendor} answered {status}" + (f": {message}" if message else ".")
    err = error_for_status(status, message or f"{vendor} answered {status}.", code=code,
                           retry_after=retry_after(headers))
    if detail is not None:
        err.detail = detail
    return err

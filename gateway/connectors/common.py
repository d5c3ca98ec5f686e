"""What every connector does with a vendor's error response: one place, so they cannot drift.

Each vendor has its own error body (documented in its connector); once the connector has pulled the
message (and any vendor code) out of it, :func:`vendor_error` builds the exception: the HTTP status
picks the class (:func:`gateway.errors.error_for_status`), 5xx messages name the vendor, and a
numeric ``Retry-After`` is kept for the caller.

And how a caller's value becomes part of a vendor URL: :func:`segment` and :func:`path`, the one
place path parameters are quoted. ``quote`` leaves dots alone and urllib3 removes dot segments
(RFC 3986 5.2.4) before sending, so a key of ``..`` would turn ``/v1/keystore/../schema`` into
``/v1/schema``, with the gateway's credentials: such values are refused, never quoted (docs/rest.md,
"Path parameters").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import requests

from gateway.errors import GatewayError, InvalidRequest, error_for_status

__all__ = ["body_message", "json_or_none", "path", "retry_after", "segment", "vendor_error"]

# C0, DEL and C1: never meaningful in an identifier, and some servers cut or rewrite the path at them.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# Slashes (and backslashes, which some servers read as slashes) are quoted, but a vendor or a proxy
# in front of it may decode them before resolving dot segments: "a/../b" is refused as well.
_PARTS = re.compile(r"[/\\]")


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


def segment(value: Any, what: str = "A path parameter") -> str:
    """``value`` as one percent-quoted path segment (``/`` included, ``safe=""``).

    Refused with :class:`InvalidRequest` (400, a SOAP Client fault): an empty value, ``.`` or ``..``
    (or such a part between slashes), and control characters. The message names ``what`` but not
    the value, which may be a secret (a webhook uri)."""
    text = str(value)
    if not text:
        raise InvalidRequest(f"{what} is required.")
    if _CONTROL.search(text):
        raise InvalidRequest(f"{what} cannot contain control characters.")
    if any(part in (".", "..") for part in _PARTS.split(text)):
        raise InvalidRequest(f"{what} cannot be '.' or '..' (nor have such a part between slashes): "
                             "it would change the vendor's path.")
    return quote(text, safe="")


def path(*segments: Any, what: str = "A path parameter") -> str:
    """``/seg/seg/...``, each segment through :func:`segment` (fixed parts such as ``v1`` come out as they went in)."""
    return "".join("/" + segment(s, what) for s in segments)

"""Reading JSON a caller sent, safely: one loader for every front door that parses a JSON body.

``json.loads`` alone answers a hostile body badly: ``"[" * 10000`` raises RecursionError (a 500
with a traceback), and ``NaN``, ``Infinity`` and ``1e999`` are accepted and later written back as
``NaN``/``Infinity``, which is not JSON (RFC 8259 section 6). :func:`loads` refuses all of them:

* a body over ``max_bytes`` -> :class:`~gateway.errors.PayloadTooLarge` (413);
* nesting deeper than ``max_depth`` (settings ``json_max_depth``) -> InvalidRequest (400), checked
  by a scan of the text with an explicit counter (no recursion) *before* the parser sees it;
* ``NaN``, ``Infinity``, ``-Infinity`` and numbers too large for a float -> InvalidRequest (400);
* anything else that is not JSON -> InvalidRequest (400), with the caller's ``invalid`` message.

:class:`JsonProvider` is the Flask JSON provider of the gateway: it writes with ``allow_nan=False``,
so whatever slips through fails loudly instead of producing invalid JSON.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from flask.json.provider import DefaultJSONProvider

from gateway.errors import InvalidRequest, PayloadTooLarge

__all__ = ["DEFAULT_MAX_BYTES", "DEFAULT_MAX_DEPTH", "JsonProvider", "loads"]

DEFAULT_MAX_DEPTH = 64
DEFAULT_MAX_BYTES = 10 * 1024 * 1024

# A string (skipped whole, escapes included) or a bracket; everything else is skipped by finditer.
_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)


class _NotFinite(ValueError):
    pass


def _constant(name: str) -> Any:
    raise _NotFinite(name)


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NotFinite("a number too large for a float")
    return value


def _depth(text: str) -> int:
    """The deepest nesting of arrays and objects in ``text``, without recursion (strings skipped)."""
    depth = deepest = 0
    for match in _TOKENS.finditer(text):
        token = match.group()
        if token in ("[", "{"):
            depth += 1
            deepest = max(deepest, depth)
        elif token in ("]", "}"):
            depth -= 1
    return deepest


def loads(data: bytes | str, *, max_depth: int = DEFAULT_MAX_DEPTH, max_bytes: int = DEFAULT_MAX_BYTES,
          invalid: str = "The request body is not valid JSON.") -> Any:
    """Parse ``data`` (bytes in UTF-8, -16 or -32, as ``json.loads`` detects it, or text)."""
    size = len(data.encode("utf-8")) if isinstance(data, str) else len(data)
    if size > max_bytes:
        raise PayloadTooLarge(f"The JSON body is larger than {max_bytes} bytes.")
    try:
        text = data if isinstance(data, str) else data.decode(json.detect_encoding(data))
    except (UnicodeDecodeError, LookupError):
        raise InvalidRequest(invalid) from None
    if _depth(text) > max_depth:
        raise InvalidRequest(f"The JSON body is nested deeper than {max_depth} levels.")
    try:
        return json.loads(text, parse_constant=_constant, parse_float=_float)
    except _NotFinite as exc:
        raise InvalidRequest(f"The JSON body holds {exc}, which JSON does not allow: numbers must be finite.") from None
    except (ValueError, RecursionError):
        raise InvalidRequest(invalid) from None


class JsonProvider(DefaultJSONProvider):
    """Flask's JSON provider, refusing to write NaN or Infinity (invalid JSON) and keeping key order."""

    sort_keys = False

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        kwargs.setdefault("allow_nan", False)
        return super().dumps(obj, **kwargs)

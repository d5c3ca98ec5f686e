"""Keep secrets out of logs and error messages.

Every outbound URL, header set or settings dump that may be logged goes through here first. The
lists are deliberately broad: a false positive costs a masked value in a log line, a false
negative leaks a credential.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = ["MASK", "SECRET_NAMES", "is_secret", "redact_headers", "redact_text", "redact_url"]

MASK = "***"

SECRET_NAMES = frozenset(
    name.lower()
    for name in (
        "authorization", "authentication", "proxy-authorization", "cookie", "set-cookie",
        "x-apikey", "apikey", "api_key", "api-key", "api-secret", "api_secret",
        "client_secret", "client-secret", "refresh_token", "refresh-token", "access_token",
        "access-token", "token", "password", "secret", "sessionid",
    )
)


def is_secret(name: str) -> bool:
    return name.lower() in SECRET_NAMES


def redact_headers(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
    items = headers.items() if isinstance(headers, Mapping) else headers
    return {k: (MASK if is_secret(k) else v) for k, v in items}


def redact_url(url: str) -> str:
    """Mask secret query parameters and any user:password in ``url``."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = MASK + "@" + netloc.rsplit("@", 1)[1]
    if parts.query:
        query = urlencode([(k, MASK if is_secret(k) else v) for k, v in parse_qsl(parts.query, keep_blank_values=True)],
                          safe="*")
    else:
        query = ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


_SECRET_PARAM = re.compile(
    r"([?&;](?:" + "|".join(re.escape(n) for n in sorted(SECRET_NAMES, key=len, reverse=True)) + r")=)[^&#;\s'\"]*",
    re.IGNORECASE)


def redact_text(text: str) -> str:
    """Mask secret query parameters wherever a URL appears in free text (a library's log line)."""
    return _SECRET_PARAM.sub(r"\1" + MASK, text)

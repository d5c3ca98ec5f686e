"""REST consumers in the store: who may call the gateway in gateway-held mode, and as whom upstream.

A consumer's key is generated here (``fg_`` + 43 url-safe characters, 256 bits), shown once by the
caller of :meth:`ConsumerRepository.add`, and stored only as its sha256. A fast hash is the right
tool for a random key of that entropy (no dictionary to attack; scrypt would only slow every
request down). Lookups compare digests, never keys.

The upstream secrets sent on a consumer's behalf (``upstream_api_key``, ``upstream_client_secret``)
must be read back, so they cannot be hashed: they are sealed with the store's
:class:`~gateway.store.crypto.SecretBox` (Fernet) and opened when a consumer is looked up. The app
key and client id are identifiers (flowize-api.txt: "Application unique identifier"), kept as is.
"""

from __future__ import annotations

import hashlib
import ipaddress
import secrets
import time
from dataclasses import dataclass, field

from sqlalchemy import select, update

from gateway.store.crypto import PREFIX, SecretBox
from gateway.store.db import Store
from gateway.store.models import RestConsumer

__all__ = ["DEFAULT_SCOPES", "SCOPES", "UPSTREAM_STYLES", "Consumer", "ConsumerRepository", "NewConsumer",
           "hash_key", "parse_scopes"]

KEY_PREFIX = "fg_"
UPSTREAM_STYLES = ("", "apikey", "url", "oauth")
#: What a consumer key may reach on the unified facade (/api/...); ``admin`` sees every job and outbox.
SCOPES = ("records", "qr", "events", "feeds", "admin")
DEFAULT_SCOPES = ("records", "qr", "events", "feeds")


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Consumer:
    """A consumer as the REST layer sees it. Secrets are kept out of ``repr`` (and so out of logs)."""

    id: int
    name: str
    key_prefix: str
    upstream_style: str = ""
    upstream_api_key: str = field(default="", repr=False)
    upstream_app_key: str = ""
    upstream_client_id: str = ""
    upstream_client_secret: str = field(default="", repr=False)
    ip_allowlist: tuple[str, ...] = ()
    rate_limit: str = ""
    active: bool = True
    scopes: tuple[str, ...] = DEFAULT_SCOPES


@dataclass(frozen=True)
class NewConsumer:
    consumer: Consumer
    key: str = field(repr=False)  # shown once, never stored


def ip_allowed(address: str, allowlist: tuple[str, ...] | list[str]) -> bool:
    """True when the list is empty or holds ``address`` (single IPs or CIDR networks)."""
    if not allowlist:
        return True
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    for entry in allowlist:
        try:
            if ip in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


def parse_scopes(text: str) -> tuple[str, ...]:
    """``"qr, events"`` -> ("qr", "events"); ValueError names an unknown scope."""
    scopes = tuple(dict.fromkeys(s.strip() for s in text.replace(";", ",").split(",") if s.strip()))
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        raise ValueError(f"unknown scope(s) {', '.join(unknown)}; scopes are {', '.join(SCOPES)}")
    return scopes


def parse_allowlist(text: str) -> tuple[str, ...]:
    entries = tuple(e.strip() for e in text.replace(";", ",").split(",") if e.strip())
    for entry in entries:
        ipaddress.ip_network(entry, strict=False)  # ValueError names the bad entry
    return entries


#: The columns of ``rest_consumers`` that hold a secret, sealed at rest.
SEALED = ("upstream_api_key", "upstream_client_secret")


class ConsumerRepository:
    def __init__(self, store: Store, box: SecretBox):
        self.store = store
        self.box = box

    def _consumer(self, row: RestConsumer) -> Consumer:
        return Consumer(id=row.id, name=row.name, key_prefix=row.key_prefix, upstream_style=row.upstream_style,
                        upstream_api_key=self.box.open(row.upstream_api_key) or "",
                        upstream_app_key=row.upstream_app_key, upstream_client_id=row.upstream_client_id,
                        upstream_client_secret=self.box.open(row.upstream_client_secret) or "",
                        ip_allowlist=parse_allowlist(row.ip_allowlist or ""), rate_limit=row.rate_limit or "",
                        active=bool(row.active), scopes=parse_scopes(row.scopes or ""))

    def add(self, name: str, *, upstream_style: str = "", upstream_api_key: str = "", upstream_app_key: str = "",
            upstream_client_id: str = "", upstream_client_secret: str = "", ip_allowlist: str = "",
            rate_limit: str = "", scopes: str = ",".join(DEFAULT_SCOPES)) -> NewConsumer:
        """Create a consumer with a fresh key; the key is in the result and nowhere else."""
        if not name.strip():
            raise ValueError("a consumer needs a name")
        if not upstream_style:
            upstream_style = "oauth" if upstream_client_id else "apikey" if upstream_api_key else ""
        if upstream_style not in UPSTREAM_STYLES:
            raise ValueError(f"upstream style must be one of apikey, url, oauth, not {upstream_style!r}")
        if upstream_style in ("apikey", "url") and not upstream_api_key:
            raise ValueError(f"upstream style {upstream_style} needs an upstream api key")
        if upstream_style == "oauth" and not (upstream_client_id and upstream_client_secret):
            raise ValueError("upstream style oauth needs an upstream client id and client secret")
        allow = ",".join(parse_allowlist(ip_allowlist))
        granted = ",".join(parse_scopes(scopes))
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        row = RestConsumer(name=name.strip(), key_hash=hash_key(key), key_prefix=key[:10],
                           upstream_style=upstream_style, upstream_api_key=self.box.seal(upstream_api_key),
                           upstream_app_key=upstream_app_key, upstream_client_id=upstream_client_id,
                           upstream_client_secret=self.box.seal(upstream_client_secret), ip_allowlist=allow,
                           rate_limit=rate_limit, active=True, created_at=time.time(), scopes=granted)
        with self.store.session() as session:
            session.add(row)
            session.flush()
            consumer = self._consumer(row)
        return NewConsumer(consumer, key)

    def by_key(self, key: str) -> Consumer | None:
        """The active consumer holding ``key``, or None."""
        if not key:
            return None
        with self.store.session() as session:
            row = session.scalar(select(RestConsumer).where(RestConsumer.key_hash == hash_key(key),
                                                            RestConsumer.active.is_(True)))
            return self._consumer(row) if row is not None else None

    def by_name(self, name: str) -> Consumer | None:
        with self.store.session() as session:
            row = session.scalar(select(RestConsumer).where(RestConsumer.name == name))
            return self._consumer(row) if row is not None else None

    def all(self) -> list[Consumer]:
        with self.store.session() as session:
            return [self._consumer(r) for r in session.scalars(select(RestConsumer).order_by(RestConsumer.id))]

    def seal_legacy(self) -> int:
        """Seal the upstream secrets written before sealing existed, in place; returns how many."""
        changed = 0
        with self.store.session() as session:
            for row in session.scalars(select(RestConsumer)):
                for column in SEALED:
                    value = getattr(row, column)
                    if value and not value.startswith(PREFIX):
                        setattr(row, column, self.box.seal(value))
                        changed += 1
        return changed

    def revoke(self, name: str) -> bool:
        with self.store.session() as session:
            result = session.execute(update(RestConsumer).where(RestConsumer.name == name).values(active=False))
            return bool(result.rowcount)  # type: ignore[attr-defined]

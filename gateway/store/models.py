"""The gateway's tables. Schema changes go through Alembic migrations (``migrations/versions``)."""

from __future__ import annotations

from sqlalchemy import Boolean, Float, Integer, LargeBinary, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = ["Base", "RestConsumer", "UpstreamToken", "VendorArchive"]


class Base(DeclarativeBase):
    pass


class UpstreamToken(Base):
    """An OAuth token towards a vendor, shared by every worker and process of the gateway.

    ``cache_key`` is a digest of the vendor, base URL and client id: the client secret is never stored.
    """

    __tablename__ = "upstream_tokens"

    cache_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    access_token: Mapped[str] = mapped_column(Text)
    refresh_token: Mapped[str | None] = mapped_column(Text, nullable=True)
    expires_at: Mapped[float] = mapped_column(Float)   # unix time
    updated_at: Mapped[float] = mapped_column(Float)


class VendorArchive(Base):
    """A vendor's one-shot download (ExaRoutes' bulk result archive), kept exactly as received.

    Saved and committed before the gateway acts on it, because the vendor deletes it once read: the
    row is the only copy. Keyed by vendor, the account it belongs to (ExaRoutes' client-id: bulk ids
    are scoped per subscription) and the vendor's id for it.
    """

    __tablename__ = "vendor_archives"

    vendor: Mapped[str] = mapped_column(String(32), primary_key=True)
    account: Mapped[str] = mapped_column(String(128), primary_key=True)
    external_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    content_type: Mapped[str] = mapped_column(String(128))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[float] = mapped_column(Float)   # unix time


class RestConsumer(Base):
    """A REST consumer of the gateway in gateway-held mode (docs/rest.md, "Credentials").

    The consumer's own key is stored only as ``key_hash`` (sha256 of a 256-bit random key: a fast
    hash is enough for a secret with that much entropy); ``key_prefix`` names it in logs and lists.
    The ``upstream_*`` columns are the Flowize credentials sent on the consumer's behalf, which the
    consumer never sees; empty means "the credentials held in the settings".
    """

    __tablename__ = "rest_consumers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    key_prefix: Mapped[str] = mapped_column(String(16))
    upstream_style: Mapped[str] = mapped_column(String(16), default="")   # apikey | url | oauth | ""
    upstream_api_key: Mapped[str] = mapped_column(Text, default="")
    upstream_app_key: Mapped[str] = mapped_column(Text, default="")
    upstream_client_id: Mapped[str] = mapped_column(Text, default="")
    upstream_client_secret: Mapped[str] = mapped_column(Text, default="")
    ip_allowlist: Mapped[str] = mapped_column(Text, default="")          # comma-separated IPs / CIDRs
    rate_limit: Mapped[str] = mapped_column(String(64), default="")      # e.g. "100/minute"; "" = settings
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[float] = mapped_column(Float)                     # unix time

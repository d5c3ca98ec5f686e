"""The gateway's tables. Schema changes go through Alembic migrations (``migrations/versions``)."""

from __future__ import annotations

from sqlalchemy import Float, Integer, LargeBinary, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = ["Base", "UpstreamToken", "VendorArchive"]


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

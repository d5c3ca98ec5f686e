"""The gateway's tables. Schema changes go through Alembic migrations (``migrations/versions``)."""

from __future__ import annotations

from sqlalchemy import Float, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = ["Base", "UpstreamToken"]


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

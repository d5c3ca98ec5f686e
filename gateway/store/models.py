"""The gateway's tables. Schema changes go through Alembic migrations (``migrations/versions``)."""

from __future__ import annotations

from sqlalchemy import Boolean, Float, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = ["Base", "OutboxEntry", "OutboxEvent", "QrCode", "QrJob", "QrJobBatch", "QrJobRow", "RestConsumer",
           "UpstreamToken", "VendorArchive"]


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
    scopes: Mapped[str] = mapped_column(String(128), default="records,qr,events,feeds")  # facade scopes


class QrCode(Base):
    """A code made through ``POST /api/qr/codes``. ``image`` is kept for ExaRoutes, whose API hands
    an image out once, in the result archive; Flowcode's is fetched from the vendor when asked."""

    __tablename__ = "qr_codes"

    vendor: Mapped[str] = mapped_column(String(16), primary_key=True)
    vendor_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    uid: Mapped[str] = mapped_column(String(128))
    url: Mapped[str | None] = mapped_column(Text, nullable=True)
    media_type: Mapped[str] = mapped_column(String(64))
    image: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    created_at: Mapped[float] = mapped_column(Float)


class QrJob(Base):
    """A bulk QR job: the source of truth for its progress (docs/jobs.md). ``lease_*``: the worker
    step holding the job now; a lease that runs out (a killed worker) frees the job for another."""

    __tablename__ = "qr_jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    vendor: Mapped[str] = mapped_column(String(16))
    consumer: Mapped[str] = mapped_column(String(128))
    idempotency_key: Mapped[str | None] = mapped_column(String(255), nullable=True)
    status: Mapped[str] = mapped_column(String(16))      # queued running succeeded partial failed cancelled
    options: Mapped[str] = mapped_column(Text)            # JSON
    total: Mapped[int] = mapped_column(Integer)
    done: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[str] = mapped_column(Text, default="[]")   # JSON list of {code, message, rows}
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    lease_owner: Mapped[str | None] = mapped_column(String(128), nullable=True)
    lease_until: Mapped[float] = mapped_column(Float, default=0.0)
    request_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)


class QrJobRow(Base):
    """One submitted row and, once known, its result. ``status``: pending (not sent), sent (in a
    vendor batch), ok, failed, cancelled."""

    __tablename__ = "qr_job_rows"

    job_id: Mapped[str] = mapped_column(String(32), ForeignKey("qr_jobs.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    uid: Mapped[str] = mapped_column(String(128))
    row: Mapped[str] = mapped_column(Text)                # the checked row, JSON
    batch: Mapped[int | None] = mapped_column(Integer, nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    vendor_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    url: Mapped[str | None] = mapped_column(Text, nullable=True)
    media_type: Mapped[str | None] = mapped_column(String(64), nullable=True)
    image: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    error_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)


class QrJobBatch(Base):
    """One vendor call's worth of rows. ``state``: sending (committed *before* the POST), submitted
    (the vendor's task id or bulkId committed), images (Flowcode: codes made, images being fetched),
    done, failed."""

    __tablename__ = "qr_job_batches"

    job_id: Mapped[str] = mapped_column(String(32), ForeignKey("qr_jobs.id", ondelete="CASCADE"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    first_position: Mapped[int] = mapped_column(Integer)
    last_position: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))
    vendor_ref: Mapped[str | None] = mapped_column(String(128), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    polls: Mapped[int] = mapped_column(Integer, default=0)
    next_at: Mapped[float] = mapped_column(Float, default=0.0)
    quota_reached: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


class OutboxEntry(Base):
    """A write accepted while its vendor was unavailable, waiting to be delivered (docs/outbox.md).

    ``ordering_key`` orders writes of one record (``record:<uuid>``, ``webhook:<digest of the uri>``):
    the earliest undelivered entry of a key holds back the later ones. ``credentials`` is sealed JSON
    (gateway/store/crypto.py): the upstream credentials, and a webhook's uri, which is its secret.
    ``state``: pending, delivering (``lease_*`` held by a worker), delivered, dead, dropped."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    operation: Mapped[str] = mapped_column(String(16))       # insertRecord | updateRecord | webhook
    vendor: Mapped[str] = mapped_column(String(16))
    ordering_key: Mapped[str] = mapped_column(String(300))
    payload: Mapped[str] = mapped_column(Text)                # JSON
    credentials: Mapped[str | None] = mapped_column(Text, nullable=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(255), nullable=True)
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[float] = mapped_column(Float, default=0.0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    lease_owner: Mapped[str | None] = mapped_column(String(128), nullable=True)
    lease_until: Mapped[float] = mapped_column(Float, default=0.0)
    request_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)
    delivered_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class OutboxEvent(Base):
    """The audit trail of an outbox entry: queued, attempt_failed, delivered, dead, retried, dropped."""

    __tablename__ = "outbox_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    entry_id: Mapped[int] = mapped_column(Integer, ForeignKey("outbox.id", ondelete="CASCADE"))
    at: Mapped[float] = mapped_column(Float)
    action: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(160))
    detail: Mapped[str] = mapped_column(Text, default="")

"""Vendor archives in the store: a one-shot download is written here, committed, before anything
else happens with it (see :class:`gateway.store.models.VendorArchive`)."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from gateway.store.db import Store
from gateway.store.models import VendorArchive

__all__ = ["ArchiveRepository", "StoredArchive"]


@dataclass(frozen=True)
class StoredArchive:
    vendor: str
    account: str
    external_id: str
    content: bytes
    content_type: str
    sha256: str
    created_at: float

    def __repr__(self) -> str:  # the content can be megabytes of base64: keep it out of logs
        return (f"StoredArchive({self.vendor}/{self.external_id}, {len(self.content)} bytes, "
                f"sha256={self.sha256[:12]})")


class ArchiveRepository:
    def __init__(self, store: Store):
        self.store = store

    def save(self, vendor: str, account: str, external_id: str, content: bytes,
             content_type: str = "application/json") -> StoredArchive:
        """Insert and commit; the first copy saved wins (a second worker that somehow downloaded the
        same archive does not overwrite it). Returns what is stored."""
        values = {"vendor": vendor, "account": account, "external_id": external_id, "content": content,
                  "content_type": content_type, "sha256": hashlib.sha256(content).hexdigest(),
                  "size": len(content), "created_at": time.time()}
        insert = postgresql_insert if self.store.engine.dialect.name == "postgresql" else sqlite_insert
        stmt = insert(VendorArchive).values(**values).on_conflict_do_nothing(
            index_elements=[VendorArchive.vendor, VendorArchive.account, VendorArchive.external_id])
        with self.store.session() as session:
            inserted = session.execute(stmt.returning(VendorArchive.sha256, VendorArchive.created_at)).first()
        if inserted is not None:  # ours is the copy kept: no need to read megabytes back
            return StoredArchive(vendor, account, external_id, content, content_type, inserted[0], inserted[1])
        stored = self.get(vendor, account, external_id)
        if stored is None:  # pragma: no cover - the row was committed just above
            raise RuntimeError(f"archive {vendor}/{external_id} vanished right after it was saved")
        return stored

    def get(self, vendor: str, account: str, external_id: str) -> StoredArchive | None:
        with self.store.session() as session:
            row = session.get(VendorArchive, (vendor, account, external_id))
            if row is None:
                return None
            return StoredArchive(row.vendor, row.account, row.external_id, row.content, row.content_type,
                                 row.sha256, row.created_at)

    def delete(self, vendor: str, account: str, external_id: str) -> bool:
        with self.store.session() as session:
            result = session.execute(delete(VendorArchive).where(
                VendorArchive.vendor == vendor, VendorArchive.account == account,
                VendorArchive.external_id == external_id))
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def ids(self, vendor: str, account: str) -> list[str]:
        with self.store.session() as session:
            return list(session.scalars(select(VendorArchive.external_id).where(
                VendorArchive.vendor == vendor, VendorArchive.account == account).order_by(VendorArchive.created_at)))

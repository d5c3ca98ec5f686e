"""QR codes made through the facade (:class:`gateway.store.models.QrCode`)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from gateway.store.db import Store
from gateway.store.models import QrCode

__all__ = ["QrCodeRepository", "StoredCode"]


@dataclass(frozen=True)
class StoredCode:
    vendor: str
    vendor_id: str
    uid: str
    url: str | None
    media_type: str
    image: bytes | None

    def __repr__(self) -> str:
        return f"StoredCode({self.vendor}/{self.vendor_id}, uid={self.uid!r})"


class QrCodeRepository:
    def __init__(self, store: Store):
        self.store = store

    def save(self, code: StoredCode) -> None:
        with self.store.session() as session:
            session.merge(QrCode(vendor=code.vendor, vendor_id=code.vendor_id, uid=code.uid, url=code.url,
                                 media_type=code.media_type, image=code.image, created_at=time.time()))

    def get(self, vendor: str, vendor_id: str) -> StoredCode | None:
        with self.store.session() as session:
            row = session.get(QrCode, (vendor, vendor_id))
            if row is None:
                return None
            return StoredCode(row.vendor, row.vendor_id, row.uid, row.url, row.media_type, row.image)

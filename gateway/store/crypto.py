"""Secrets at rest: what the store keeps of a credential is sealed with Fernet (AES-128-CBC + HMAC).

The key comes from ``GATEWAY_SECRET_KEY`` (or ``GATEWAY_SECRET_KEY_FILE``); without one, embedded
mode makes a key file beside the database (``data_dir/secret.key``, mode 0600) on first use. Several
machines sharing one database must share the key: set it.

Sealed values start with ``fernet:``; a value without the prefix is one written before sealing
existed and is read as is (and sealed again the next time it is written).
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

__all__ = ["PREFIX", "SecretBox", "SecretBoxError", "key_file_for"]

PREFIX = "fernet:"


class SecretBoxError(ValueError):
    """The key is malformed, or a sealed value was sealed with another key."""


def key_file_for(data_dir: str) -> Path:
    return Path(data_dir) / "secret.key"


def _read_or_create_key(path: Path) -> bytes:
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key()
    try:
        # O_EXCL: two processes starting at once must end up with one key, not two.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as fh:
        fh.write(key + b"\n")
    return key


class SecretBox:
    def __init__(self, key: bytes | str):
        try:
            self._fernet = Fernet(key.encode() if isinstance(key, str) else key)
        except (ValueError, TypeError):
            raise SecretBoxError("the secret key must be 32 url-safe base64-encoded bytes "
                                 "(make one with: flowgate secret-key)") from None

    @classmethod
    def from_settings(cls, settings: object) -> SecretBox:
        key = getattr(settings, "secret_key", "")
        if key:
            return cls(key)
        return cls(_read_or_create_key(key_file_for(getattr(settings, "data_dir", "var"))))

    @staticmethod
    def generate_key() -> str:
        return Fernet.generate_key().decode()

    def seal(self, value: str | None) -> str | None:
        if value is None or value == "":
            return value
        return PREFIX + self._fernet.encrypt(value.encode("utf-8")).decode("ascii")

    def open(self, value: str | None) -> str | None:
        if value is None or not value.startswith(PREFIX):
            return value
        try:
            return self._fernet.decrypt(value[len(PREFIX):].encode("ascii")).decode("utf-8")
        except InvalidToken:
            raise SecretBoxError("a stored secret was sealed with another key: "
                                 "set GATEWAY_SECRET_KEY to the key the store was written with") from None

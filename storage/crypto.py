"""Encryption at rest for excerpts, notes and outbox payloads (Fernet, when a key is set)."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken

_PLAIN = b"p:"
_SEALED = b"f:"


class FieldCipher:
    """Seals bytes with Fernet when a key is configured; otherwise stores them marked as plain.

    The marker lets a deployment turn encryption on later: old plain values still read.
    """

    def __init__(self, key: str | None) -> None:
        self._fernet = Fernet(key.encode()) if key else None

    def seal(self, data: bytes) -> bytes:
        """Encrypt (or mark as plain)."""
        if self._fernet is None:
            return _PLAIN + data
        return _SEALED + self._fernet.encrypt(data)

    def open(self, data: bytes) -> bytes:
        """Decrypt a sealed value."""
        if data.startswith(_PLAIN):
            return data[len(_PLAIN):]
        if data.startswith(_SEALED):
            if self._fernet is None:
                raise InvalidToken("encrypted value but no DATA_ENCRYPTION_KEY set")
            return self._fernet.decrypt(data[len(_SEALED):])
        return data

    def seal_text(self, text: str) -> bytes:
        """Encrypt text."""
        return self.seal(text.encode("utf-8"))

    def open_text(self, data: bytes) -> str:
        """Decrypt text."""
        return self.open(data).decode("utf-8")

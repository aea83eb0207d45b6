"""Encryption at rest for HiBob tokens and webhook secrets (MultiFernet over CREDENTIALS_KEY)."""
from __future__ import annotations

import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class SecretBox:
    """Encrypts with the first key, decrypts with any (so keys can be rotated)."""

    def __init__(self, keys: tuple[str, ...]):
        self._fernet = MultiFernet([Fernet(k.encode()) for k in keys])

    def seal(self, value: Any) -> str:
        return self._fernet.encrypt(json.dumps(value).encode()).decode()

    def open(self, token: str) -> Any:
        try:
            return json.loads(self._fernet.decrypt(token.encode()))
        except InvalidToken:
            # Never include the ciphertext: it says nothing useful and widens what a log holds.
            raise ValueError("stored secret cannot be decrypted with any CREDENTIALS_KEY") from None

    def rotate(self, token: str) -> str:
        """Re-encrypt a sealed value with the first key."""
        return self._fernet.rotate(token.encode()).decode()

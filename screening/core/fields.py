"""Encrypted model fields (Fernet via MultiFernet), keyed by ``FIELD_ENCRYPTION_KEYS``.

The first key encrypts; every key decrypts, so keys rotate by putting a new one in front.
A value that no key opens raises ``ImproperlyConfigured`` rather than showing garbage or nothing.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key.encode()) for key in keys])


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt(value: str) -> str:
    return fernet().encrypt(value.encode("utf-8")).decode("ascii")


def decrypt(token: str) -> str:
    try:
        return fernet().decrypt(token.encode("ascii")).decode("utf-8")
    except InvalidToken:
        raise ImproperlyConfigured(
            "An encrypted field cannot be opened with FIELD_ENCRYPTION_KEYS: the keys are wrong or missing."
        ) from None


class EncryptedTextField(models.TextField):
    """Text stored encrypted; empty stays empty so blank contact fields need no ciphertext."""

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        if value is None or value == "":
            return value
        return decrypt(value)

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(str(value))

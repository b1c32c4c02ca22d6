"""Signing secrets at rest: sealed with the stack's KMS key before they are stored, opened only by
the functions that verify or sign with them (template.yaml grants kms:Encrypt to the API function
that creates them and kms:Decrypt to the ingest and channel-sync functions only).

A sealed value is `kms:` + base64 of the KMS ciphertext, bound to an encryption context, so a
ciphertext copied into another field or stack does not open. Values stored before sealing (no
prefix) open as they are, and are sealed when next rotated. Opened values are kept in memory for
the life of the execution environment: one Decrypt per secret per cold start.
"""

from __future__ import annotations

import base64
import threading
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from shared.adapters.aws_clients import client
from shared.domain.kernel.errors import DependencyUnavailableError

SEALED_PREFIX = "kms:"
CONTEXT = {"omnireach": "signing-secret"}


class SecretSealer:
    def __init__(self, key_id: str | None, kms: Any = None) -> None:
        """`key_id` None: nothing to seal with (tests with in-memory fakes); values are kept as given."""
        self._key_id = key_id
        self._kms = kms
        self._opened: dict[str, str] = {}
        self._lock = threading.Lock()

    def _client(self) -> Any:
        if self._kms is None:
            self._kms = client("kms")
        return self._kms

    def seal(self, plaintext: str) -> str:
        if self._key_id is None or is_sealed(plaintext):
            return plaintext
        try:
            blob = self._client().encrypt(
                KeyId=self._key_id, Plaintext=plaintext.encode(), EncryptionContext=CONTEXT
            )["CiphertextBlob"]
        except (BotoCoreError, ClientError) as error:
            raise DependencyUnavailableError("The key that seals signing secrets is unavailable") from error
        sealed = SEALED_PREFIX + base64.b64encode(blob).decode("ascii")
        with self._lock:
            self._opened[sealed] = plaintext
        return sealed

    def open(self, stored: str) -> str:
        if not is_sealed(stored):
            return stored
        with self._lock:
            known = self._opened.get(stored)
        if known is not None:
            return known
        try:
            plaintext = self._client().decrypt(
                CiphertextBlob=base64.b64decode(stored.removeprefix(SEALED_PREFIX)), EncryptionContext=CONTEXT
            )["Plaintext"]
        except (BotoCoreError, ClientError) as error:
            raise DependencyUnavailableError("The key that opens signing secrets is unavailable") from error
        opened = bytes(plaintext).decode()
        with self._lock:
            self._opened[stored] = opened
        return opened


def is_sealed(value: str) -> bool:
    return value.startswith(SEALED_PREFIX)

"""SNS over HTTPS: signing certificates (cached per URL) and subscription confirmation. Callers
have checked that each URL is an https URL on an SNS host."""

from __future__ import annotations

import threading
import urllib.request

from shared.domain.kernel.errors import DependencyUnavailableError

TIMEOUT_SECONDS = 2


def _get(url: str) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310 (https SNS URL)
            return bytes(response.read(64 * 1024))
    except OSError as error:
        raise DependencyUnavailableError("SNS did not answer") from error


class HttpsSnsCertificates:
    def __init__(self) -> None:
        self._cache: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def pem(self, url: str) -> bytes:
        with self._lock:
            if url in self._cache:
                return self._cache[url]
        certificate = _get(url)
        with self._lock:
            self._cache[url] = certificate
        return certificate


class HttpsSnsSubscriptions:
    def confirm(self, subscribe_url: str) -> None:
        _get(subscribe_url)

"""SNS over HTTPS: signing certificates (a few cached per URL) and subscription confirmation.
Callers have checked that each URL is an https URL on an SNS host."""

from __future__ import annotations

import threading
import urllib.request
from collections import OrderedDict

from shared.domain.kernel.errors import DependencyUnavailableError

TIMEOUT_SECONDS = 2
MAX_CACHED_CERTIFICATES = 8  # SNS signs with one certificate per region at a time, rotated rarely


def _get(url: str) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310 (https SNS URL)
            return bytes(response.read(64 * 1024))
    except OSError as error:
        raise DependencyUnavailableError("SNS did not answer") from error


class HttpsSnsCertificates:
    def __init__(self, *, limit: int = MAX_CACHED_CERTIFICATES) -> None:
        self._cache: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()
        self._limit = limit

    def pem(self, url: str) -> bytes:
        with self._lock:
            if url in self._cache:
                self._cache.move_to_end(url)
                return self._cache[url]
        certificate = _get(url)
        with self._lock:
            self._cache[url] = certificate
            while len(self._cache) > self._limit:  # the least recently used goes
                self._cache.popitem(last=False)
        return certificate

    def cached(self) -> int:
        return len(self._cache)


class HttpsSnsSubscriptions:
    def confirm(self, subscribe_url: str) -> None:
        _get(subscribe_url)

"""S3: audience export files, streamed (multipart) so a large audience never sits in memory."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from shared.adapters.aws_clients import client as aws_client
from shared.domain.kernel.errors import DependencyUnavailableError

DOWNLOAD_LINK_SECONDS = 3600


class _LinesReader(io.RawIOBase):
    """A readable file over an iterator of text lines (each ends with a newline)."""

    def __init__(self, lines: Iterator[str]) -> None:
        self._lines = lines
        self._buffer = b""

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        while len(self._buffer) < len(target):
            line = next(self._lines, None)
            if line is None:
                break
            self._buffer += (line + "\n").encode()
        size = min(len(target), len(self._buffer))
        target[:size] = self._buffer[:size]
        self._buffer = self._buffer[size:]
        return size


class S3ExportFiles:
    def __init__(self, bucket: str, *, client: Any = None) -> None:
        self._bucket = bucket
        self._client = client or aws_client("s3")

    def write(self, key: str, lines: Iterator[str]) -> None:
        try:
            self._client.upload_fileobj(
                io.BufferedReader(_LinesReader(lines)),
                self._bucket,
                key,
                ExtraArgs={"ContentType": "text/csv", "ServerSideEncryption": "AES256"},
            )
        except (BotoCoreError, ClientError) as error:
            raise DependencyUnavailableError("The exports bucket did not accept the file") from error

    def url(self, key: str) -> str:
        return str(
            self._client.generate_presigned_url(
                "get_object", Params={"Bucket": self._bucket, "Key": key}, ExpiresIn=DOWNLOAD_LINK_SECONDS
            )
        )

"""boto3 clients, built once per process. boto3 reads AWS_ENDPOINT_URL itself, which is how the
local stack points every client at the embedded emulator."""

from __future__ import annotations

import functools
from typing import Any

import boto3
from botocore.config import Config

# Channels time out after ~5 s: fail fast and let the caller (or SQS) retry.
_FAST = Config(connect_timeout=2, read_timeout=3, retries={"mode": "standard", "max_attempts": 3})


@functools.cache
def client(service: str) -> Any:
    return boto3.client(service, config=_FAST)

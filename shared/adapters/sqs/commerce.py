"""Channel sync requests."""

from __future__ import annotations

from collections.abc import Sequence

from shared.adapters.sqs import WorkQueue
from shared.domain.commerce.channel_sync import sync_message


class SqsSyncRequests(WorkQueue):
    """Channel sync requests: one message per (channel, SKU); the worker reads the value itself."""

    name = "channel sync"

    def request(self, pairs: Sequence[tuple[str, str]], *, force: bool = False) -> None:
        self._send_bodies([sync_message(channel_id, sku, force=force) for channel_id, sku in pairs])

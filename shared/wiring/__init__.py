"""Composition roots: each capability's adapters, built once per process from `Settings`.

One module per capability (`ingest`, `customers`, `segments`, `loyalty`, `commerce`,
`engagement`, `operations`), so a handler imports only the wiring, and therefore only the domain
and adapters, of the capability it serves: the queue monitor loads no campaign code. This module
holds what every capability shares: the clock and the event publisher.

Handlers and the wiring modules call factories through their module (`wiring.get_clock()`,
`customers_wiring.get_customer_graph()`), never a name imported from it, so a test that replaces
a factory (`monkeypatch.setattr(wiring, "get_clock", ...)`) reaches every caller. `reset()`
forgets every built adapter and the settings (tests, and the local stack after deploy).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

from shared.adapters import aws_clients
from shared.adapters.events import EventBridgePublisher
from shared.adapters.sealed_secrets import SecretSealer
from shared.clock import SystemClock
from shared.domain.kernel.ports import Clock, EventPublisher
from shared.settings import get_settings

T = TypeVar("T")
_built: list[functools._lru_cache_wrapper[object]] = []


def built_once(factory: Callable[[], T]) -> functools._lru_cache_wrapper[T]:
    """`functools.cache`, and forgotten by `reset()`."""
    cached = functools.cache(factory)
    _built.append(cached)
    return cached


@built_once
def get_clock() -> Clock:
    return SystemClock()


@built_once
def get_event_publisher() -> EventPublisher:
    return EventBridgePublisher(get_settings().require("event_bus_name"))


@built_once
def get_secret_sealer() -> SecretSealer:
    """Seals signing secrets with the stack's KMS key (ingest's sources, commerce's channels)."""
    return SecretSealer(get_settings().signing_secrets_key_id)


def reset() -> None:
    """Forget every built adapter and the settings (tests, and the local stack after deploy)."""
    get_settings.cache_clear()
    aws_clients.client.cache_clear()
    for cached in _built:
        cached.cache_clear()

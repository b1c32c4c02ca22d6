"""Builders for identity and profile tests: touchpoints for people, and a harness that folds
batches into the in-memory graph the way the consumer does."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from shared.domain.customers.folding import Backoff, FoldResult, fold_touchpoints
from shared.domain.customers.identity import IdentityPolicy
from shared.domain.customers.profiles import Profile
from shared.domain.ingest.touchpoints import Channel, ConsentSignal, Order, Touchpoint, TouchpointType
from shared.domain.kernel.events import unbatched
from shared.domain.kernel.identifiers import Identifier, IdentifierType
from tests.fakes import FakeClock, InMemoryCustomerGraph, InMemoryTouchpointArchive, RecordingPublisher

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def ids(**values: str) -> list[Identifier]:
    return [Identifier(type=IdentifierType(kind), value=value) for kind, value in values.items()]


def touchpoint(
    tid: str,
    identifiers: list[Identifier],
    *,
    kind: TouchpointType = TouchpointType.TRACK,
    minutes: int = 0,
    channel: Channel = Channel.WEB,
    traits: dict[str, Any] | None = None,
    order_id: str | None = None,
    total: str | None = None,
    consent: list[ConsentSignal] | None = None,
    source_id: str = "web",
) -> Touchpoint:
    at = T0 + timedelta(minutes=minutes)
    order = None
    if kind in (TouchpointType.ORDER, TouchpointType.REFUND):
        order = Order(order_id=order_id, total=Decimal(total) if total else None, currency="EUR")
    return Touchpoint(
        touchpoint_id=tid,
        type=kind,
        source_id=source_id,
        channel=channel,
        event="Viewed" if kind is TouchpointType.TRACK else None,
        identifiers=identifiers,
        traits=traits or {},
        order=order,
        consent=consent or [],
        occurred_at=at,
        received_at=at,
    )


@dataclass
class Harness:
    policy: IdentityPolicy = field(default_factory=IdentityPolicy)
    graph: InMemoryCustomerGraph = field(default_factory=InMemoryCustomerGraph)
    archive: InMemoryTouchpointArchive = field(default_factory=InMemoryTouchpointArchive)
    publisher: RecordingPublisher = field(default_factory=RecordingPublisher)
    clock: FakeClock = field(default_factory=lambda: FakeClock(T0 + timedelta(days=1)))

    def fold(self, touchpoints: Sequence[Touchpoint]) -> FoldResult:
        return fold_touchpoints(
            touchpoints,
            graph=self.graph,
            archive=self.archive,
            publisher=self.publisher,
            policy=self.policy,
            clock=self.clock,
            expires_at=lambda tp: tp.received_at + timedelta(days=395),
            backoff=Backoff(attempts=5, sleep=lambda _s: None),
        )

    def profile_of(self, identifier: Identifier) -> Profile:
        matches = [p for p in self.graph.live_profiles() if identifier in p.identifiers]
        assert len(matches) == 1, f"{identifier} is on {len(matches)} profiles"
        return matches[0]

    def live(self) -> list[Profile]:
        return self.graph.live_profiles()

    def events(self, detail_type: str) -> list[dict[str, Any]]:
        """The single events of that type announced (batch events opened, as consumers do)."""
        return [
            detail
            for kind, announced in self.publisher.published
            for single, detail in unbatched(kind, announced)
            if single == detail_type
        ]


def canonical(profiles: Sequence[Profile]) -> dict[frozenset[Identifier], dict[str, Any]]:
    """Profiles compared by content: keyed by their identifier sets, without ids, versions, merge
    bookkeeping or the dedupe memory (those depend on the path taken, not the result)."""
    result = {}
    for profile in profiles:
        view = profile.view()
        for name in ("profile_id", "merged_from", "separated_from"):
            view.pop(name)
        result[frozenset(profile.identifiers)] = view
    return result

"""Merge, then unmerge: both profiles come back with their identifiers and counters, later
touchpoints go to the side their identifiers name, and the same link never merges them again."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared.domain.customers.admin import (
    MergeNotFoundError,
    UnmergeRefusedError,
    find_by_identifier,
    live_profile,
    unmerge,
)
from shared.domain.customers.identity import identity_key
from shared.domain.ingest.touchpoints import TouchpointType
from tests.unit.customers_support import Harness, ids, touchpoint

ANN = ids(anonymous_id="cookie-ann")
BOB = ids(email="bob@example.com")


def merged() -> tuple[Harness, str, str, str]:
    harness = Harness()
    harness.fold([touchpoint("a1", ANN, minutes=0), touchpoint("a2", ANN, minutes=1, channel="app")])
    harness.fold([touchpoint("b1", BOB, kind=TouchpointType.ORDER, order_id="o1", total="40", minutes=10)])
    ann_id = harness.profile_of(ANN[0]).profile_id
    bob_id = harness.profile_of(BOB[0]).profile_id
    harness.clock.advance(timedelta(minutes=1))
    harness.fold([touchpoint("link", [*ANN, *BOB], minutes=20)])  # e.g. a shared-inbox click
    ((merge_id, _),) = harness.graph.merge_log.items()
    return harness, ann_id, bob_id, merge_id


def undo(harness: Harness, profile_id: str, merge_id: str):
    return unmerge(
        profile_id,
        merge_id,
        graph=harness.graph,
        archive=harness.archive,
        clock=harness.clock,
        publisher=harness.publisher,
    )


def test_unmerge_restores_both_profiles_identifiers_and_counters() -> None:
    harness, ann_id, bob_id, merge_id = merged()
    entry = harness.graph.merge_log[merge_id]
    ann_before, bob_before = entry.survivor_before, entry.loser_before
    assert (entry.survivor_id, entry.loser_id) == (ann_id, bob_id)

    result = undo(harness, ann_id, merge_id)

    ann, bob = live_profile(ann_id, graph=harness.graph), live_profile(bob_id, graph=harness.graph)
    assert (ann.identifiers, bob.identifiers) == (ann_before.identifiers, bob_before.identifiers)
    assert (bob.orders, bob.revenue, bob.touches_by_channel) == (1, 40, {"web": 1})
    assert ann.orders == 0
    assert ann.touches_by_channel == {"app": 1, "web": 2}  # its own two, plus the linking touchpoint
    assert find_by_identifier(BOB[0], graph=harness.graph).profile_id == bob_id
    assert harness.graph.records[identity_key(BOB[0])].profile_id == bob_id
    assert result.moved_touchpoints == []
    assert harness.graph.merge_log[merge_id].unmerged_at == harness.clock.now()
    assert harness.events("ProfilesUnmerged") == [
        {"profile_id": ann_id, "restored": bob_id, "merge_id": merge_id}
    ]


def test_touchpoints_after_the_merge_go_to_the_side_their_identifiers_name() -> None:
    harness, ann_id, bob_id, merge_id = merged()
    harness.fold(
        [touchpoint("bob-later", BOB, kind=TouchpointType.ORDER, order_id="o2", total="5", minutes=30)]
    )
    harness.fold([touchpoint("ann-later", ANN, minutes=31)])

    result = undo(harness, ann_id, merge_id)

    assert result.moved_touchpoints == ["bob-later"]
    bob = live_profile(bob_id, graph=harness.graph)
    assert (bob.orders, bob.revenue) == (2, 45)
    assert live_profile(ann_id, graph=harness.graph).touches_by_channel == {"app": 1, "web": 3}
    assert harness.archive.profile_of["bob-later"] == bob_id


def test_the_same_link_never_merges_them_again_and_unmerge_is_idempotent() -> None:
    harness, ann_id, bob_id, merge_id = merged()
    undo(harness, ann_id, merge_id)
    again = undo(harness, ann_id, merge_id)
    assert again.restored.profile_id == bob_id
    harness.fold([touchpoint("link-again", [*ANN, *BOB], minutes=40)])
    assert len(harness.live()) == 2
    assert len(harness.graph.merge_log) == 1


def test_unknown_merges_and_out_of_order_unmerges_are_refused() -> None:
    harness, ann_id, _bob_id, merge_id = merged()
    with pytest.raises(MergeNotFoundError):
        undo(harness, ann_id, "no-such-merge")
    cy = ids(email="cy@example.com")
    harness.fold([touchpoint("c1", cy, minutes=50)])
    harness.clock.advance(timedelta(minutes=1))
    harness.fold([touchpoint("link-cy", [*ANN, *cy], minutes=51)])
    with pytest.raises(UnmergeRefusedError):
        undo(harness, ann_id, merge_id)  # the later merge of cy comes first

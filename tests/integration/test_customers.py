"""Identity graph and profiles on the tables deployed from template.yaml (moto): the consumer's
writes, the merge transaction, and the archive's profile index."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared.adapters.dynamo.customers_table import DynamoCustomerGraph
from shared.domain.customers.folding import fold_touchpoints
from shared.domain.customers.history import walk
from shared.domain.customers.identity import identity_key
from shared.domain.ingest.touchpoints import TouchpointType
from shared.domain.kernel.errors import ConcurrentUpdateError
from shared.domain.kernel.identifiers import IdentifierType
from shared.wiring import customers as customers_wiring
from shared.wiring import ingest as ingest_wiring
from tests.fakes import FakeClock, RecordingPublisher
from tests.unit.customers_support import T0, ids, touchpoint


def fold(touchpoints):
    publisher = RecordingPublisher()
    result = fold_touchpoints(
        touchpoints,
        graph=customers_wiring.get_customer_graph(),
        archive=ingest_wiring.get_touchpoint_archive(),
        publisher=publisher,
        policy=customers_wiring.get_identity_policy(),
        clock=FakeClock(T0 + timedelta(days=1)),
        expires_at=lambda tp: tp.received_at + timedelta(days=395),
    )
    return result, publisher


def live_profiles(graph: DynamoCustomerGraph, *identifiers):
    records = graph.identities([identity_key(i) for i in identifiers])
    found = graph.profiles({r.profile_id for r in records.values() if r.profile_id})
    return {p.profile_id: p for p in found.values() if p.merged_into is None}


def test_profiles_and_identities_are_stored_once_and_merge_in_one_transaction(stack):
    graph = customers_wiring.get_customer_graph()
    ann_web, ann_pos = ids(anonymous_id="web-cookie-1"), ids(pos_customer_id="pos-88")
    fold([touchpoint("t1", ann_web, minutes=0)])
    fold([touchpoint("t2", ann_pos, kind=TouchpointType.ORDER, order_id="o1", total="80", minutes=30)])
    assert len(live_profiles(graph, *ann_web, *ann_pos)) == 2

    result, publisher = fold(
        [touchpoint("t3", [*ann_web, *ann_pos, *ids(email="ann@example.com")], minutes=60)]
    )
    assert result.merges == 1
    (survivor,) = live_profiles(graph, *ann_web, *ann_pos).values()
    assert survivor.orders == 1 and survivor.revenue == 80
    assert {i.type for i in survivor.identifiers} == {
        IdentifierType.ANONYMOUS_ID,
        IdentifierType.POS_CUSTOMER_ID,
        IdentifierType.EMAIL,
    }
    (entry,) = graph.merges(survivor.profile_id)
    assert entry.touchpoint_id == "t3" and entry.loser_before.orders == 1
    assert [kind for kind, _ in publisher.published].count("ProfilesMerged") == 1

    # The survivor's history chains through the archive; the loser's stays on its tombstone.
    archive, now = ingest_wiring.get_touchpoint_archive(), T0 + timedelta(days=1)
    history = walk(archive, survivor.last_touchpoint, now=now)
    assert [e.touchpoint.touchpoint_id for e in history.entries] == ["t3", "t1"]
    assert {e.profile_id for e in history.entries} == {survivor.profile_id}


def test_a_stale_version_is_refused_by_the_table(stack):
    graph = customers_wiring.get_customer_graph()
    fold([touchpoint("t1", ids(user_id="u1"))])
    (profile,) = live_profiles(graph, *ids(user_id="u1")).values()
    stale = profile.model_copy(deep=True)
    graph.save_profile(profile)
    with pytest.raises(ConcurrentUpdateError):
        graph.save_profile(stale)


def test_redelivering_an_archived_batch_changes_nothing(stack):
    batch = [touchpoint(f"t{n}", ids(user_id="u1"), minutes=n) for n in range(3)]
    fold(batch)
    result, publisher = fold(batch)
    assert set(result.outcomes.values()) == {"duplicate"}
    assert publisher.published == []
    (profile,) = live_profiles(customers_wiring.get_customer_graph(), *ids(user_id="u1")).values()
    assert profile.touches_by_channel == {"web": 3}


def test_the_archive_chains_relinks_and_deletes_a_profiles_touchpoints(stack):
    archive, now = ingest_wiring.get_touchpoint_archive(), T0 + timedelta(days=1)
    result, _ = fold([touchpoint(f"t{n}", ids(user_id="u1"), minutes=n) for n in range(3)])
    (profile,) = live_profiles(customers_wiring.get_customer_graph(), *ids(user_id="u1")).values()
    assert profile.last_touchpoint == "t2"
    assert [e.touchpoint.touchpoint_id for e in walk(archive, "t2", now=now).entries] == ["t2", "t1", "t0"]
    assert [e.touchpoint.touchpoint_id for e in walk(archive, "t2", now=now, limit=2).entries] == ["t2", "t1"]
    assert [e.touchpoint.touchpoint_id for e in walk(archive, "t2", now=now, stop_at="t0").entries] == [
        "t2",
        "t1",
    ]
    archive.relink("t2", profile_id="someone-else", previous=None)
    moved = archive.entry("t2", now=now)
    assert moved is not None and (moved.profile_id, moved.previous) == ("someone-else", None)
    archive.delete(["t0", "t1"])
    assert archive.existing(["t0", "t1", "t2"], now=now) == {"t2"}
    assert result.profile_of["t0"] == profile.profile_id

"""Identity resolution: create, attach, merge into the oldest, and every merge protection."""

from __future__ import annotations

from decimal import Decimal

import pytest

from shared.domain.customers.admin import ProfileNotFoundError, find_by_identifier
from shared.domain.customers.folding import Outcome, new_profile_id
from shared.domain.customers.identity import IdentityPolicy, IdentityRecord, identity_key, parse_policy
from shared.domain.ingest.touchpoints import Channel, ConsentSignal, ConsentStatus, TouchpointType
from shared.domain.kernel.errors import ConcurrentUpdateError
from shared.domain.kernel.events import PROFILES_MERGED
from shared.domain.kernel.identifiers import Identifier, IdentifierType
from tests.unit.customers_support import Harness, ids, touchpoint


def test_zero_matches_create_one_match_attaches() -> None:
    harness = Harness()
    harness.fold([touchpoint("t1", ids(anonymous_id="a1"))])
    harness.fold([touchpoint("t2", ids(anonymous_id="a1", email="ann@example.com"), minutes=5)])
    [profile] = harness.live()
    assert set(profile.identifiers) == set(ids(anonymous_id="a1", email="ann@example.com"))
    assert profile.touches_by_channel == {"web": 2}


def test_two_matches_merge_into_the_oldest_with_a_log_entry() -> None:
    harness = Harness()
    harness.fold([touchpoint("t-new", ids(email="ann@example.com"), minutes=60)])
    harness.fold([touchpoint("t-old", ids(anonymous_id="a1"), minutes=0)])
    oldest = harness.profile_of(ids(anonymous_id="a1")[0])
    newest = harness.profile_of(ids(email="ann@example.com")[0])
    harness.fold([touchpoint("t-link", ids(anonymous_id="a1", email="ann@example.com"), minutes=90)])

    [survivor] = harness.live()
    assert survivor.profile_id == oldest.profile_id
    assert survivor.merged_from == [newest.profile_id]
    assert harness.graph.stored_profiles[newest.profile_id].merged_into == oldest.profile_id
    assert (
        harness.graph.records[identity_key(ids(email="ann@example.com")[0])].profile_id == oldest.profile_id
    )
    [entry] = harness.graph.merge_log.values()
    assert (entry.survivor_id, entry.loser_id, entry.touchpoint_id) == (
        oldest.profile_id,
        newest.profile_id,
        "t-link",
    )
    assert entry.reason == "anonymous_id,email"
    assert harness.events(PROFILES_MERGED)[0]["merged"] == [newest.profile_id]


def test_a_merge_redelivered_changes_nothing() -> None:
    harness = Harness()
    harness.fold([touchpoint("t1", ids(anonymous_id="a1")), touchpoint("t2", ids(email="b@example.com"))])
    link = touchpoint("t3", ids(anonymous_id="a1", email="b@example.com"), minutes=5)
    harness.fold([link])
    before = harness.live()[0].model_copy(deep=True)
    harness.archive.items.clear()  # as if the crash came before archiving
    result = harness.fold([link, link])
    assert result.merges == 0
    assert harness.live()[0].touches_by_channel == before.touches_by_channel
    assert len(harness.graph.merge_log) == 1


@pytest.mark.parametrize("junk", ["null", "undefined", "0", "-1", "anonymous", "guest", "0000-0000", "true"])
def test_junk_ids_never_merge_two_people(junk: str) -> None:
    harness = Harness()
    ann = touchpoint("t1", [*ids(user_id="ann"), Identifier(type=IdentifierType.ANONYMOUS_ID, value=junk)])
    bob = touchpoint("t2", [*ids(user_id="bob"), Identifier(type=IdentifierType.ANONYMOUS_ID, value=junk)])
    harness.fold([ann])
    harness.fold([bob])
    assert len(harness.live()) == 2
    assert not harness.graph.merge_log


def test_a_shared_pos_device_is_quarantined_and_links_nobody() -> None:
    harness = Harness()
    for n, user in enumerate(["ann", "bob", "cy"]):
        harness.fold([touchpoint(f"login-{user}", ids(user_id=user, device_id="pos-7"), minutes=n)])
    harness.fold([touchpoint("anon", ids(device_id="pos-7"), minutes=10)])
    live = harness.live()
    assert len(live) == 3
    assert not harness.graph.merge_log
    assert harness.graph.records[identity_key(ids(device_id="pos-7")[0])].shared
    # The anonymous visit on the shared terminal is attributed to nobody rather than the last user.
    assert harness.archive.profile_of["anon"] is None
    assert sum(p.touches_by_channel.get("web", 0) for p in live) == 3
    # Looking the device up (to read, export or erase) names nobody, not its first user.
    with pytest.raises(ProfileNotFoundError):
        find_by_identifier(ids(device_id="pos-7")[0], graph=harness.graph)
    assert find_by_identifier(ids(user_id="ann")[0], graph=harness.graph).profile_id


def test_two_different_user_ids_never_merge_even_through_a_shared_email() -> None:
    harness = Harness()
    harness.fold([touchpoint("t1", ids(user_id="u1", email="family@example.com"))])
    harness.fold([touchpoint("t2", ids(user_id="u2", email="family@example.com"), minutes=1)])
    users = sorted(p.identifier_values(IdentifierType.USER_ID)[0] for p in harness.live())
    assert users == ["u1", "u2"]
    assert not harness.graph.merge_log
    # The lower-priority identifier was dropped: the email stays with its first owner.
    assert harness.profile_of(ids(email="family@example.com")[0]).identifier_values(
        IdentifierType.USER_ID
    ) == ["u1"]


def test_a_link_between_two_identified_profiles_is_refused() -> None:
    harness = Harness()
    harness.fold([touchpoint("t1", ids(user_id="u1", anonymous_id="a1"))])
    harness.fold([touchpoint("t2", ids(user_id="u2", email="two@example.com"), minutes=1)])
    harness.fold([touchpoint("t3", ids(anonymous_id="a1", email="two@example.com"), minutes=2)])
    assert len(harness.live()) == 2
    assert not harness.graph.merge_log


def test_per_type_limit_keeps_the_profile_within_it() -> None:
    harness = Harness(policy=IdentityPolicy(limits={IdentifierType.EMAIL: 2}))
    for n in range(4):
        harness.fold([touchpoint(f"t{n}", [*ids(user_id="u1"), *ids(email=f"e{n}@example.com")], minutes=n)])
    profile = harness.profile_of(ids(user_id="u1")[0])
    assert profile.identifier_values(IdentifierType.EMAIL) == ["e0@example.com", "e1@example.com"]
    assert profile.touches_by_channel == {"web": 4}  # the touchpoints still landed


def test_configured_blocklist_values_never_link() -> None:
    harness = Harness(policy=IdentityPolicy(blocked_values=frozenset({"qa@example.com"})))
    harness.fold([touchpoint("t1", ids(user_id="u1", email="qa@example.com"))])
    harness.fold([touchpoint("t2", ids(user_id="u2", email="qa@example.com"), minutes=1)])
    assert [p.identifier_values(IdentifierType.EMAIL) for p in harness.live()] == [[], []]


def test_orders_are_counted_once_per_order_id_and_aggregate() -> None:
    harness = Harness()
    who = ids(user_id="u1")
    harness.fold(
        [
            touchpoint("c1", who, kind=TouchpointType.ORDER, order_id="o1", total="100", minutes=0),
            touchpoint("p1", who, kind=TouchpointType.ORDER, order_id="o1", total="100", minutes=1),
            touchpoint("c2", who, kind=TouchpointType.ORDER, order_id="o2", total="50", minutes=60 * 24 * 10),
            touchpoint("r1", who, kind=TouchpointType.REFUND, total="20", minutes=60 * 24 * 11),
        ]
    )
    profile = harness.profile_of(who[0])
    assert (profile.orders, profile.revenue, profile.refunds, profile.refunded) == (2, 150, 1, 20)
    assert profile.average_order_value == Decimal("75.00")
    assert profile.purchase_interval_days == 10.0
    assert [e["order_id"] for e in harness.events("OrderPlaced")] == ["o1", "o2"]


def test_a_conflicting_writer_makes_the_batch_retry_without_double_counting() -> None:
    harness = Harness()
    harness.fold([touchpoint("t0", ids(user_id="u1"))])

    def concurrent() -> None:  # another worker folds a different touchpoint first
        harness.fold([touchpoint("t-other", ids(user_id="u1"), minutes=1)])

    harness.graph.before_write = concurrent
    result = harness.fold([touchpoint("t1", ids(user_id="u1"), minutes=2)])
    assert result.attempts == 2
    assert harness.profile_of(ids(user_id="u1")[0]).touches_by_channel == {"web": 3}


def test_a_merge_landing_while_a_batch_folds_converges_on_the_survivor_in_the_same_call() -> None:
    harness = Harness()
    harness.fold([touchpoint("web-1", ids(email="mei@example.com"))])  # the older profile
    harness.fold([touchpoint("pos-1", ids(phone="+8613800000001"), channel=Channel.POS, minutes=5)])
    older = harness.profile_of(ids(email="mei@example.com")[0]).profile_id

    def merge_in_flight() -> None:  # another batch links the two just before this one writes
        harness.fold([touchpoint("app-1", ids(email="mei@example.com", phone="+8613800000001"), minutes=6)])

    harness.graph.before_write = merge_in_flight
    order = touchpoint(
        "pos-2",
        ids(phone="+8613800000001"),
        kind=TouchpointType.ORDER,
        order_id="till-7",
        total="30",
        channel=Channel.POS,
        minutes=7,
    )
    result = harness.fold([order])

    assert result.attempts == 2  # the stale read was re-resolved through the graph, not failed
    (survivor,) = harness.live()
    assert survivor.profile_id == older
    assert (survivor.orders, survivor.revenue) == (1, 30)
    assert result.profile_of["pos-2"] == older
    (placed,) = harness.events("OrderPlaced")
    assert placed["profile_id"] == older  # loyalty and engagement hear of the survivor


def test_records_read_just_before_a_merge_and_profiles_just_after_still_resolve() -> None:
    """The race the demo met: this batch reads the phone's record (pointing at the younger
    profile), then another batch merges that profile into the older one, then this batch reads the
    profiles (the younger is now a tombstone). It must resolve to the survivor, not fail."""
    harness = Harness()
    harness.fold([touchpoint("web-1", ids(email="mei@example.com"))])
    harness.fold([touchpoint("pos-1", ids(phone="+8613800000001"), channel=Channel.POS, minutes=5)])
    older = harness.profile_of(ids(email="mei@example.com")[0]).profile_id
    graph = harness.graph
    read_records = graph.identities

    def identities_then_a_merge(keys):  # type: ignore[no-untyped-def]
        found = read_records(keys)
        graph.identities = read_records  # type: ignore[method-assign]
        harness.fold([touchpoint("app-1", ids(email="mei@example.com", phone="+8613800000001"), minutes=6)])
        return found

    graph.identities = identities_then_a_merge  # type: ignore[method-assign]
    order = touchpoint(
        "pos-2", ids(phone="+8613800000001"), kind=TouchpointType.ORDER, order_id="t-9", total="12", minutes=7
    )
    result = harness.fold([order])
    assert result.profile_of["pos-2"] == older
    (survivor,) = harness.live()
    assert (survivor.profile_id, survivor.orders) == (older, 1)


def test_conflicts_on_every_attempt_fail_the_batch() -> None:
    harness = Harness()
    harness.fold([touchpoint("t0", ids(user_id="u1"))])

    class AlwaysStale(type(harness.graph)):  # type: ignore[misc]
        def save_profile(self, profile):  # type: ignore[no-untyped-def]
            raise ConcurrentUpdateError("stale")

    harness.graph.__class__ = AlwaysStale
    with pytest.raises(ConcurrentUpdateError):
        harness.fold([touchpoint("t1", ids(user_id="u1"), minutes=2)])
    assert "t1" not in harness.archive.items


def test_suppressed_identifier_drops_the_touchpoint() -> None:
    harness = Harness()
    record = IdentityRecord.new(ids(email="gone@example.com")[0])
    record.suppressed, record.version = True, 1
    harness.graph.records[record.key] = record
    result = harness.fold([touchpoint("late", ids(email="gone@example.com", anonymous_id="a9"))])
    assert result.outcomes["late"] is Outcome.SUPPRESSED
    assert "late" not in harness.archive.items
    assert harness.live() == []


def test_claims_left_by_a_delivery_whose_profile_write_lost_still_list_the_identifiers() -> None:
    harness = Harness()
    tp = touchpoint("t1", ids(user_id="u1", email="u1@example.com"))
    for identifier in tp.identifiers:  # another worker claimed them, then lost the race to write the profile
        record = IdentityRecord.new(identifier)
        record.profile_id, record.version = new_profile_id(tp, harness.graph.id_key()), 1
        harness.graph.records[record.key] = record
    harness.fold([tp])
    assert set(harness.profile_of(tp.identifiers[0]).identifiers) == set(tp.identifiers)


def test_one_persons_touchpoints_in_a_batch_become_one_profile_write() -> None:
    harness = Harness()
    harness.fold([touchpoint("t0", ids(user_id="u1"))])
    saves: list[str] = []
    save_profile = harness.graph.save_profile

    def counting(profile):  # type: ignore[no-untyped-def]
        saves.append(profile.profile_id)
        save_profile(profile)

    harness.graph.save_profile = counting  # type: ignore[method-assign]
    harness.fold([touchpoint(f"t{n}", ids(user_id="u1"), minutes=n) for n in range(1, 6)])
    assert len(saves) == 1
    assert harness.profile_of(ids(user_id="u1")[0]).touches_by_channel == {"web": 6}


def test_profile_events_name_what_changed() -> None:
    harness = Harness()
    who = ids(user_id="u1")
    harness.fold(
        [
            touchpoint("i1", who, kind=TouchpointType.IDENTIFY, traits={"plan": "gold"}),
            touchpoint("c1", who, kind=TouchpointType.CART, minutes=1),
            touchpoint(
                "s1",
                who,
                kind=TouchpointType.EMAIL_EVENT,
                minutes=2,
                consent=[
                    ConsentSignal(channel=Channel.EMAIL, status=ConsentStatus.REVOKED, reason="unsubscribe")
                ],
            ),
        ]
    )
    (changed,) = harness.events("ProfileChanged")
    assert {"traits.plan", "consent.email:marketing", "identifiers"} <= set(changed["changed"])
    assert [e["touchpoint_id"] for e in harness.events("CartUpdated")] == ["c1"]
    (consent,) = harness.events("ConsentChanged")
    assert (consent["channel"], consent["purpose"], consent["status"]) == ("email", "marketing", "revoked")
    assert [e["touchpoint_id"] for e in harness.events("TouchpointRecorded")] == ["i1", "c1", "s1"]

    harness.fold([touchpoint("v1", who, minutes=3)])  # a page view changes only engagement counters
    assert len(harness.events("ProfileChanged")) == 1


def test_policy_settings_extend_the_blocklist_and_override_limits_and_priority() -> None:
    policy = parse_policy(
        blocked_values=" QA@Example.com ,demo", limits="email=2, phone=1", priority="phone,email"
    )
    assert policy.blocks(ids(email="qa@example.com")[0]) and policy.blocks(ids(anonymous_id="DEMO")[0])
    assert policy.blocks(ids(anonymous_id="abc123")[0])  # the built-in list stays
    assert (policy.limit(IdentifierType.EMAIL), policy.limit(IdentifierType.PHONE)) == (2, 1)
    assert policy.limit(IdentifierType.USER_ID) == 1
    assert policy.priority[:3] == (IdentifierType.PHONE, IdentifierType.EMAIL, IdentifierType.USER_ID)


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"limits": "email"}, "type=n"),
        ({"limits": "email=0"}, "type=n"),
        ({"limits": "shoe=2"}, "unknown identifier type"),
        ({"priority": "email,shoe"}, "unknown identifier type"),
    ],
)
def test_bad_policy_settings_are_named(setting: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_policy(**setting)


def test_a_new_profile_id_cannot_be_derived_from_the_touchpoint_that_made_it() -> None:
    """Issue 15, defect 1: the id is keyed with the deployment's secret (not a public uuid5 of
    the messageId); the same deployment names the same profile on a redelivery."""
    import uuid

    harness = Harness()
    tp = touchpoint("first-message", ids(user_id="u-derive"))
    harness.fold([tp])
    made = harness.profile_of(tp.identifiers[0]).profile_id
    public = uuid.UUID("5b0c7f52-8f7e-4a8e-9a53-6f0c1d9b2e11")
    assert made != str(uuid.uuid5(public, f"{tp.source_id}/{tp.touchpoint_id}"))
    assert made == new_profile_id(tp, harness.graph.id_key())
    assert made != new_profile_id(tp, b"another deployment's key".ljust(32, b"."))

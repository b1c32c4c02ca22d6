"""Erasure: suppression first, then two idempotent sweeps; export of everything held."""

from __future__ import annotations

from shared.domain.customers.admin import unmerge
from shared.domain.customers.folding import Outcome
from shared.domain.customers.identity import identity_key
from shared.domain.customers.privacy import ErasureStatus, export_person, request_erasure, run_erasure
from shared.domain.ingest.touchpoints import TouchpointType
from tests.fakes import InMemoryPersonalData, RecordingErasureJobs
from tests.unit.customers_support import Harness, ids, touchpoint

ANN = [*ids(user_id="ann", email="ann@example.com"), *ids(anonymous_id="cookie-ann")]


def erase(harness: Harness, identifier):
    data, jobs = InMemoryPersonalData(harness.graph), RecordingErasureJobs()
    request = request_erasure(identifier, graph=harness.graph, data=data, jobs=jobs, clock=harness.clock)
    for sweep in (1, 2, 2):  # the second sweep delivered twice
        run_erasure(
            request.request_id,
            sweep=sweep,
            data=data,
            archive=harness.archive,
            jobs=jobs,
            publisher=harness.publisher,
            clock=harness.clock,
            second_sweep_seconds=60,
        )
    return data.erasures[request.request_id], jobs


def test_erasure_by_any_identifier_removes_the_person_and_keeps_late_events_out() -> None:
    harness = Harness()
    harness.fold([touchpoint("c1", ids(anonymous_id="cookie-ann"), minutes=0)])
    harness.fold([touchpoint("o1", ANN[:2], kind=TouchpointType.ORDER, order_id="o1", total="9", minutes=5)])
    harness.fold([touchpoint("l1", ANN, minutes=6)])  # merges the cookie profile in
    harness.fold([touchpoint("bob", ids(user_id="bob"), minutes=7)])

    request, jobs = erase(harness, ids(anonymous_id="cookie-ann")[0])

    assert request.status is ErasureStatus.COMPLETED
    assert request.removed["touchpoints"] == 3
    assert [(sweep, delay) for _id, sweep, delay in jobs.submitted] == [(1, 0), (2, 60)]
    assert [p.identifier_values("user_id") for p in harness.live()] == [["bob"]]
    assert set(harness.archive.items) == {"bob"}
    assert not harness.graph.merge_log
    for identifier in ANN:
        record = harness.graph.records[identity_key(identifier)]
        assert record.suppressed and record.profile_id is None
    assert "ann@example.com" not in request.model_dump_json()  # the audit holds hashes only

    late = harness.fold([touchpoint("late", ids(email="ann@example.com"), minutes=60)])
    assert late.outcomes["late"] is Outcome.SUPPRESSED
    assert "late" not in harness.archive.items
    assert len(harness.live()) == 1


def test_erasure_of_someone_never_seen_still_suppresses_them() -> None:
    harness = Harness()
    request, _jobs = erase(harness, ids(email="stranger@example.com")[0])
    assert request.profile_ids == [] and request.status is ErasureStatus.COMPLETED
    assert (
        harness.fold([touchpoint("t", ids(email="stranger@example.com"))]).outcomes["t"] is Outcome.SUPPRESSED
    )


def test_erasure_removes_the_persons_snapshot_from_an_unmerged_partners_log() -> None:
    harness = Harness()
    harness.fold([touchpoint("a", ids(anonymous_id="kiosk-cookie"), minutes=0)])
    harness.fold([touchpoint("b", ids(email="bea@example.com"), minutes=1)])
    harness.fold(
        [touchpoint("link", [*ids(anonymous_id="kiosk-cookie"), *ids(email="bea@example.com")], minutes=2)]
    )
    ((merge_id, entry),) = harness.graph.merge_log.items()
    unmerge(
        entry.survivor_id,
        merge_id,
        graph=harness.graph,
        archive=harness.archive,
        clock=harness.clock,
        publisher=harness.publisher,
    )
    erase(harness, ids(email="bea@example.com")[0])
    assert not harness.graph.merge_log  # the partner's log entry held bea's snapshot


def test_export_holds_profile_merges_and_touchpoints() -> None:
    harness = Harness()
    harness.fold([touchpoint("c1", ids(anonymous_id="cookie-ann"), minutes=0)])
    harness.fold([touchpoint("o1", ANN[:2], kind=TouchpointType.ORDER, order_id="o1", total="9", minutes=5)])
    harness.fold([touchpoint("l1", ANN, minutes=6)])
    export = export_person(
        ids(email="ann@example.com")[0], graph=harness.graph, archive=harness.archive, clock=harness.clock
    )
    assert export["profile"]["orders"] == 1
    assert len(export["merged_profiles"]) == 1 and len(export["merge_log"]) == 1
    assert sorted(tp["touchpoint_id"] for tp in export["touchpoints"]) == ["c1", "l1", "o1"]
    assert export["touchpoints_total"] == 3 and export["next_offset"] is None

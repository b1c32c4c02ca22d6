"""Concurrent workers on one profile, on dynalite (atomic conditional writes)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

from shared.domain.customers.admin import find_by_identifier
from shared.domain.customers.folding import FoldResult, fold_touchpoints
from shared.domain.customers.history import walk
from shared.domain.ingest.touchpoints import Channel, TouchpointType
from shared.domain.kernel.identifiers import IdentifierType
from shared.wiring import customers as customers_wiring
from shared.wiring import ingest as ingest_wiring
from tests.fakes import FakeClock, RecordingPublisher
from tests.unit.customers_support import T0, ids, touchpoint


def fold(touchpoints) -> FoldResult:
    return fold_touchpoints(
        touchpoints,
        graph=customers_wiring.get_customer_graph(),
        archive=ingest_wiring.get_touchpoint_archive(),
        publisher=RecordingPublisher(),
        policy=customers_wiring.get_identity_policy(),
        clock=FakeClock(T0 + timedelta(days=1)),
        expires_at=lambda tp: tp.received_at + timedelta(days=395),
    )


def run_together(workers: list[Callable[[], None]]) -> None:
    start = threading.Barrier(len(workers))
    errors: list[BaseException] = []

    def run(work: Callable[[], None]) -> None:
        start.wait()
        try:
            work()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run, args=(work,)) for work in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors


def profile_of(user: str):
    identifier = ids(user_id=user)[0]
    return find_by_identifier(identifier, graph=customers_wiring.get_customer_graph())


def test_the_same_touchpoint_from_three_workers_counts_once(on_dynalite):
    for round_number in range(5):
        user = f"buyer-{round_number}"
        order = touchpoint(
            f"order-{round_number}",
            ids(user_id=user, email=f"{user}@example.com"),
            kind=TouchpointType.ORDER,
            order_id=f"o-{round_number}",
            total="25",
        )
        run_together([lambda order=order: fold([order]) for _ in range(3)])
        profile = profile_of(user)
        assert (profile.orders, profile.revenue, profile.touches_by_channel) == (1, 25, {"web": 1})
        history = walk(
            ingest_wiring.get_touchpoint_archive(), profile.last_touchpoint, now=T0 + timedelta(days=1)
        )
        assert [e.touchpoint.touchpoint_id for e in history.entries] == [f"order-{round_number}"]
        assert profile.identifier_values(IdentifierType.EMAIL) == [f"{user}@example.com"]


def test_sixteen_workers_updating_one_profile_lose_no_update(on_dynalite):
    who = ids(user_id="busy")
    fold([touchpoint("first", who)])

    def worker(n: int) -> Callable[[], None]:
        def work() -> None:
            for k in range(10):
                fold(
                    [
                        touchpoint(
                            f"w{n}-{k}",
                            who,
                            kind=TouchpointType.ORDER,
                            order_id=f"o-{n}-{k}",
                            total="1",
                            minutes=k,
                        )
                    ]
                )

        return work

    run_together([worker(n) for n in range(16)])
    profile = profile_of("busy")
    assert profile.touches_by_channel == {"web": 161}
    history = walk(
        ingest_wiring.get_touchpoint_archive(), profile.last_touchpoint, now=T0 + timedelta(days=1)
    )
    assert len(history.entries) == 161  # one unbroken history, whatever the interleaving
    assert (profile.orders, profile.revenue) == (160, 160)


def test_a_merge_in_flight_while_other_batches_fold_the_same_person(on_serial_emulator):
    """One worker links a person's email and phone (a merge, one transaction) while four others
    fold her orders on either identifier. Every batch converges in its own call (none fails back
    to the queue), and every order ends on the one surviving profile."""
    for round_number in range(3):
        email, phone = f"lan{round_number}@example.com", f"+86138000010{round_number:02d}"
        fold([touchpoint(f"r{round_number}-web", ids(email=email))])  # the older profile
        fold([touchpoint(f"r{round_number}-pos", ids(phone=phone), channel=Channel.POS, minutes=1)])

        def orders(worker: int, identifiers, round_number: int = round_number) -> Callable[[], None]:
            def work() -> None:
                for k in range(3):
                    fold(
                        [
                            touchpoint(
                                f"r{round_number}-w{worker}-{k}",
                                identifiers,
                                kind=TouchpointType.ORDER,
                                order_id=f"r{round_number}-o{worker}-{k}",
                                total="10",
                                minutes=2 + k,
                            )
                        ]
                    )

            return work

        link = touchpoint(f"r{round_number}-link", ids(email=email, phone=phone), minutes=2)
        run_together(
            [
                lambda link=link: fold([link]),
                orders(1, ids(email=email)),
                orders(2, ids(phone=phone)),
                orders(3, ids(email=email)),
                orders(4, ids(phone=phone)),
            ]
        )
        by_email = find_by_identifier(ids(email=email)[0], graph=customers_wiring.get_customer_graph())
        by_phone = find_by_identifier(ids(phone=phone)[0], graph=customers_wiring.get_customer_graph())
        assert by_email.profile_id == by_phone.profile_id  # one person
        assert (by_email.orders, by_email.revenue) == (12, 120)  # no order lost, none counted twice

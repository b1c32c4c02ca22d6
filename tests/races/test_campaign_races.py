"""Frequency caps under concurrent sends to one customer, on dynalite (atomic conditional writes)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from shared.domain.customers.profiles import ConsentState, Profile, TraitValue
from shared.domain.engagement.dispatch import Dispatcher
from shared.domain.engagement.frequency import FrequencyPolicy
from shared.domain.engagement.messaging import OutboundMessage
from shared.domain.engagement.models import DispatchTask, Program
from shared.domain.ingest.touchpoints import ConsentStatus
from shared.domain.kernel.errors import OmnireachError
from shared.domain.kernel.identifiers import Identifier, IdentifierType
from shared.wiring import engagement as engagement_wiring
from tests.fakes import FakeClock
from tests.races.test_profile_races import run_together

EVENING = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)  # 20:00 in Shanghai: before quiet hours


@dataclass
class CountingSender:
    idempotent: bool = False
    sent: list[str] = field(default_factory=list)

    def send(self, message: OutboundMessage) -> str:
        self.sent.append(message.idempotency_key)
        return "ok"


@dataclass
class OnePerson:
    profile: Profile

    def profiles(self, profile_ids):
        return {self.profile.profile_id: self.profile}


class Programs:
    def __init__(self, priority_of) -> None:
        self.priority_of = priority_of

    def program(self, program_id: str, run_key: str):
        content = {"sms": {"body": "Hi {{ first_name }}"}}
        return Program(
            channels=["sms"],
            variants=[{"variant_id": "v", "content": content}],
            deferrable=False,
            priority=self.priority_of(program_id),
        ), "active"


class Plain:
    def facts(self, profile):
        return {}

    def context(self, profile, program, channel, *, dispatch_key, issue_coupon, names=None, facts=None):
        return {"first_name": "Mei"}


class NoRivals:
    def higher_priority_waiting(self, profile_id, priority, *, now, until=None):
        return False


def mei() -> Profile:
    return Profile(
        profile_id="mei",
        created_at=EVENING - timedelta(days=30),
        identifiers=[Identifier(type=IdentifierType.PHONE, value="+8613800000000")],
        traits={"timezone": TraitValue(value="Asia/Shanghai", at=EVENING, by="web")},
        consent={
            "sms:marketing": ConsentState(
                status=ConsentStatus.GRANTED, at=EVENING, source_id="web", reason="form"
            )
        },
    )


def dispatcher(clock: FakeClock, sender: CountingSender) -> Dispatcher:
    store = engagement_wiring.get_engagement()
    store.save_policy(
        FrequencyPolicy(
            caps=[
                {"scope": "channel", "channel": "sms", "count": 3, "window": "day"},
                {"scope": "all", "count": 5, "window": "week"},
            ],
            quiet_hours=None,
        )
    )
    return Dispatcher(
        store=store,
        programs=Programs(lambda program_id: 50),
        profiles=OnePerson(mei()),
        personaliser=Plain(),
        senders={"sms": sender},
        rivals=NoRivals(),
        clock=clock,
    )


def test_50_concurrent_sends_to_one_customer_keep_the_daily_cap_and_midnight_resets_it(on_dynalite):
    clock, sender = FakeClock(EVENING), CountingSender()
    worker = dispatcher(clock, sender)
    outcomes: list[str] = []

    def send(number: int) -> None:
        task = DispatchTask(program_id=f"c{number}", run_key="r1", profile_id="mei", planned_at=EVENING)
        for _ in range(10):
            try:
                outcomes.append(worker.dispatch(task))
                return
            except OmnireachError:
                continue

    run_together([lambda n=n: send(n) for n in range(50)])
    assert sorted(set(outcomes)) == ["sent", "suppressed:cap"]
    assert outcomes.count("sent") == 3 == len(sender.sent) and len(outcomes) == 50
    history = engagement_wiring.get_engagement().contact_history("mei")
    # the history counts exactly the three sends, once each
    assert sorted(f"{c.program_id}|{c.run_key}|mei" for c in history.contacts) == sorted(sender.sent)

    # Local midnight in Shanghai (16:00 UTC): a new day, three more; the weekly cap (5) then stops it.
    clock.current = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)
    later = [
        worker.dispatch(
            DispatchTask(program_id=f"n{n}", run_key="r1", profile_id="mei", planned_at=clock.current)
        )
        for n in range(4)
    ]
    assert later == ["sent", "sent", "suppressed:cap", "suppressed:cap"]
    assert len(sender.sent) == 5

"""A contact plan under concurrency, on dynalite (atomic conditional writes): campaigns racing
for one customer's last WeChat place in the plan send exactly its maximum, while the ad
platform's exposures for the same customer land in the same history and none is lost."""

from __future__ import annotations

from datetime import timedelta

from shared.domain.engagement.dispatch import Dispatcher
from shared.domain.engagement.frequency import FrequencyPolicy
from shared.domain.engagement.models import DispatchTask, Program
from shared.domain.engagement.plans import ContactPlan, Exposure, count_exposures, exposures_in, period_of
from shared.domain.kernel.errors import OmnireachError
from shared.wiring import engagement as engagement_wiring
from tests.fakes import FakeClock
from tests.races.test_campaign_races import EVENING, CountingSender, NoRivals, OnePerson, Plain, mei
from tests.races.test_profile_races import run_together

PLAN = ContactPlan.model_validate(
    {
        "plan_id": "week",
        "name": "This week",
        "segment_id": "everyone",
        "period": "week",
        "channels": [
            {"channel": "sms", "target": 2, "maximum": 2},
            {"channel": "search", "target": 3, "maximum": 3},
        ],
        "created_at": EVENING,
        "updated_at": EVENING,
    }
)


# Her own customer and programs: the tables are shared with the other race tests.
LIN = mei().model_copy(update={"profile_id": "lin"})


class PlannedPrograms:
    def program(self, program_id: str, run_key: str):
        content = {"sms": {"body": "Hi {{ first_name }}"}}
        return Program(
            channels=["sms"],
            variants=[{"variant_id": "v", "content": content}],
            deferrable=False,
            contact_plan_id="week",
        ), "active"


def test_racing_campaigns_send_the_plan_s_maximum_and_no_exposure_is_lost(on_dynalite):
    store = engagement_wiring.get_engagement()
    store.save_policy(FrequencyPolicy(quiet_hours=None))
    store.save_contact_plan(PLAN)
    clock, sender = FakeClock(EVENING), CountingSender()
    worker = Dispatcher(
        store=store,
        programs=PlannedPrograms(),
        profiles=OnePerson(LIN),
        personaliser=Plain(),
        senders={"sms": sender},
        rivals=NoRivals(),
        clock=clock,
    )
    outcomes: list[str] = []
    counted: list[int] = []

    def send(number: int) -> None:
        task = DispatchTask(program_id=f"plan-c{number}", run_key="r1", profile_id="lin", planned_at=EVENING)
        for _ in range(10):
            try:
                outcomes.append(worker.dispatch(task))
                return
            except OmnireachError:
                continue

    def exposed(number: int) -> None:
        exposure = Exposure(
            exposure_id=f"x{number}",
            channel="search",
            at=EVENING - timedelta(minutes=number),
            email_sha256="a" * 64,
        )
        for _ in range(10):
            try:
                counted.append(count_exposures(store, "lin", [exposure], source="ads", now=EVENING))
                return
            except OmnireachError:
                continue

    run_together([lambda n=n: send(n) for n in range(20)] + [lambda n=n: exposed(n) for n in range(20)])
    assert outcomes.count("sent") == 2 == len(sender.sent)
    assert outcomes.count("suppressed:plan") == 18
    assert sum(counted) == 20 and len(counted) == 20
    history = store.contact_history("lin")
    period = period_of(PLAN, EVENING)
    assert exposures_in(history, "sms", period) == 2
    assert exposures_in(history, "search", period) == 20  # every exposure, once

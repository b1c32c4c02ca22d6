"""Lifecycle journeys: event-triggered flows of wait, condition split, random split and send steps,
with exit events (a checkout ends the abandoned-cart journey of that cart).

An instance is one customer in one journey for one key (an order, a cart, a year). Its timer is
an item swept every minute; firing it is a conditional write on the instance's version, so a
timer fires once however often the sweep runs. Sends are dispatched like campaign sends, with the
dispatch key (journey, step, instance): the ledger makes each step send at most once.

Shipped templates (`GET /journey-templates`): post-purchase follow-up, win-back, cart
abandonment, birthday, seasonal reminder.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.domain.customers.profiles import Profile
from shared.domain.engagement.frequency import HHMM, next_local_time, resolve_timezone
from shared.domain.engagement.models import DispatchTask, Program, stable_bucket
from shared.domain.kernel.errors import ConflictError, NotFoundError
from shared.domain.kernel.ports import Clock

Trigger = Literal[
    "order_placed",
    "cart_started",
    "birthday",
    "seasonal",
    "appointment_booked",
    "appointment_attended",
    "appointment_missed",
]
CART_EVENTS = {"Checkout Started", "Product Added", "Cart Viewed"}
# The appointments capability's touchpoints: a booking (or its new time) enters the reminder
# journeys; any later change of the booking ends the instances of its earlier version.
APPOINTMENT_ENTERS = {
    "Appointment Booked": "appointment_booked",
    "Appointment Rescheduled": "appointment_booked",
    "Appointment Attended": "appointment_attended",
    "Appointment Missed": "appointment_missed",
}
APPOINTMENT_EVENTS = {*APPOINTMENT_ENTERS, "Appointment Cancelled"}
CHECKOUT_EVENTS = {"Order Completed", "Checkout Completed"}
MAX_STEPS_PER_FIRE = 20


class Step(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["wait", "condition", "random", "send"]
    # wait: a duration, or until the customer's next local time, or until their purchase cycle.
    hours: float | None = Field(default=None, gt=0, le=24 * 400)
    until_local: str | None = Field(default=None, pattern=HHMM)
    cycle: Literal["before_runout", "repurchase"] | None = None
    cycle_days_default: int = Field(default=20, ge=1, le=365)
    runout_lead_days: int = Field(default=3, ge=0, le=60)
    until_birthday: bool = False
    until_month_before_usual: bool = False
    # an appointment's reminder: this many hours before it, moved earlier into the location's
    # opening hours; a reminder whose moment has passed when the step is reached is skipped with
    # the send after it (a booking made 3 hours ahead gets the 2-hour reminder, not the 24-hour one)
    before_appointment_hours: float | None = Field(default=None, gt=0, le=24 * 30)
    # condition / random: where to go next (step indices); `if_` on the profile.
    if_: dict[str, Any] | None = Field(default=None, alias="if")
    percent: int | None = Field(default=None, ge=0, le=100)
    then: int | None = None
    else_: int | None = Field(default=None, alias="else")
    # send
    send: Program | None = None

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @model_validator(mode="after")
    def _complete(self) -> Step:
        if self.type == "send" and self.send is None:
            raise ValueError("a send step needs `send`")
        if self.type == "condition" and self.if_ is None:
            raise ValueError("a condition step needs `if`")
        if self.type == "random" and self.percent is None:
            raise ValueError("a random step needs `percent`")
        waits = [
            self.hours is not None,
            self.until_local is not None
            and self.cycle is None
            and not self.until_birthday
            and not self.until_month_before_usual,
            self.cycle is not None,
            self.until_birthday,
            self.until_month_before_usual,
            self.before_appointment_hours is not None,
        ]
        if self.type == "wait" and not any(waits):
            raise ValueError(
                "a wait step needs hours, until_local, cycle, until_birthday, until_month_before_usual "
                "or before_appointment_hours"
            )
        return self


class ExitRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    on: Literal["order_placed", "checkout"]
    match: Literal["any", "cart_id", "sku"] = "any"


class JourneyChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    trigger: Trigger
    steps: list[Step] = Field(min_length=1, max_length=30)
    exit_on: list[ExitRule] = Field(default_factory=list, max_length=5)
    consumable_skus: list[str] = Field(default_factory=list, max_length=1000)  # post-purchase: only these
    service_ids: list[str] = Field(default_factory=list, max_length=100)  # appointments: only these

    @model_validator(mode="after")
    def _appointment_waits(self) -> JourneyChange:
        if self.trigger != "appointment_booked" and any(
            step.before_appointment_hours is not None for step in self.steps
        ):
            raise ValueError("before_appointment_hours needs the appointment_booked trigger")
        return self

    @model_validator(mode="after")
    def _jumps(self) -> JourneyChange:
        for step in self.steps:
            for target in (step.then, step.else_):
                if target is not None and not 0 <= target < len(self.steps):
                    raise ValueError(f"step index {target} is out of range")
        return self


class Journey(JourneyChange):
    journey_id: str
    status: Literal["active", "paused"] = "active"
    version: int = 0


class Instance(BaseModel):
    journey_id: str
    key: str
    profile_id: str
    step: int = 0
    status: Literal["waiting", "done", "exited"] = "waiting"
    wake_at: datetime
    entered_at: datetime
    context: dict[str, Any] = Field(default_factory=dict)
    history: list[str] = Field(default_factory=list)
    version: int = 1


class JourneyStore(Protocol):
    def journeys(self) -> list[Journey]: ...

    def journey(self, journey_id: str) -> Journey | None: ...

    def save_journey(self, journey: Journey, *, expected_version: int) -> bool: ...

    def create_instance(self, instance: Instance) -> bool: ...

    def instance(self, profile_id: str, journey_id: str, key: str) -> Instance | None: ...

    def instances(self, profile_id: str) -> list[Instance]: ...

    def save_instance(self, instance: Instance, *, expected_version: int) -> bool: ...

    def set_timer(self, instance: Instance) -> None: ...

    def due_timers(self, until: datetime, *, limit: int) -> list[tuple[str, str, str, str]]:
        """(handle, profile id, journey id, key) of timers due by `until`."""
        ...

    def clear_timer(self, handle: str, profile_id: str, journey_id: str, key: str) -> None: ...


class DispatchQueue(Protocol):
    def send(self, batches: Sequence[Sequence[DispatchTask]]) -> None: ...


class ProfileReader(Protocol):
    def profiles(self, profile_ids: Sequence[str]) -> dict[str, Profile]: ...


def program_id_of(journey_id: str) -> str:
    return f"journey-{journey_id}"


# ------------------------------------------------------------------ what a step decides
def _cycle_days(profile: Profile | None, default: int) -> float:
    interval = profile.purchase_interval_days if profile else None
    return interval if interval and interval >= 1 else float(default)


def _birthday(profile: Profile | None) -> tuple[int, int] | None:
    from shared.domain.segments.rules import birthday_month_day

    return birthday_month_day(profile.trait("birthday")) if profile else None


def usual_month(profile: Profile | None) -> int | None:
    if profile is None or not any(profile.purchases_by_month):
        return None
    return max(range(12), key=lambda month: (profile.purchases_by_month[month], -month)) + 1


Opening = Callable[[str, datetime], datetime | None]


def wake_time(
    step: Step,
    instance: Instance,
    profile: Profile | None,
    now: datetime,
    default_zone: str,
    opening: Opening | None = None,
) -> datetime | None:
    """When the wait ends; None for an appointment reminder that has no moment left before it."""
    where = resolve_timezone(profile.trait("timezone") if profile else None, default_zone)
    local_clock = step.until_local or "10:00"
    if step.before_appointment_hours is not None:
        starts = instance.context.get("starts_at")
        if not isinstance(starts, str):
            return None
        due: datetime | None = datetime.fromisoformat(starts) - timedelta(hours=step.before_appointment_hours)
        location = instance.context.get("location_id")
        if opening is not None and isinstance(location, str) and due is not None:
            due = opening(location, due)  # inside the location's hours, never later
        return due if due is not None and due > now else None
    if step.hours is not None:
        return now + timedelta(hours=step.hours)
    if step.cycle is not None:
        bought = datetime.fromisoformat(instance.context.get("ordered_at", now.isoformat()))
        days = _cycle_days(profile, step.cycle_days_default)
        if step.cycle == "before_runout":
            days = max(1.0, days - step.runout_lead_days)
        return next_local_time(max(now, bought + timedelta(days=days)), local_clock, where)
    if step.until_birthday:
        month_day = _birthday(profile)
        if month_day is None:
            return now  # no birthday known: the journey's next step decides (usually nothing to do)
        year = int(instance.key.rsplit("-", 1)[-1]) if instance.key[-4:].isdigit() else now.year
        try:
            day = date(year, *month_day)
        except ValueError:  # 29 February in a common year
            day = date(year, 2, 28)
        return max(now, where.at(day, datetime.strptime(local_clock, "%H:%M").time()))
    if step.until_month_before_usual:
        month = usual_month(profile)
        if month is None:
            return now
        year = int(instance.key.split("-")[0])
        day = date(year, month, 1) - timedelta(days=1)
        day = day.replace(day=1)
        return max(now, where.at(day, datetime.strptime(local_clock, "%H:%M").time()))
    return next_local_time(now, local_clock, where)


def template_values(instance: Instance) -> dict[str, str]:
    """What a send step's content may name from the instance: an appointment's time (as the
    location tells it), service, location and booking."""
    names = {
        "local_time": "appointment_time",
        "service_id": "appointment_service",
        "location_id": "appointment_location",
        "booking_id": "booking_id",
    }
    return {name: str(instance.context[key]) for key, name in names.items() if key in instance.context}


def on_the_minute(moment: datetime) -> datetime:
    """A wait ends on a whole minute (rounded up): timers are kept by the minute, and the sweep in
    a timer's minute must find its instance due, not a few seconds ahead (and drop it as stale)."""
    whole = moment.replace(second=0, microsecond=0)
    return whole if whole == moment else whole + timedelta(minutes=1)


def condition_holds(rule: dict[str, Any], profile: Profile | None, facts: dict[str, set[str]]) -> bool:
    if profile is None:
        return False
    for key, wanted in rule.items():
        if key == "orders_at_least" and profile.orders < int(wanted):
            return False
        if key == "has_birthday" and (_birthday(profile) is not None) != bool(wanted):
            return False
        if key in ("tier", "price_sensitivity", "stage", "segment") and str(wanted) not in facts.get(
            key, set()
        ):
            return False
        if key == "bought_since_entry" and bool(wanted) != bool(
            profile.last_purchase_at and profile.orders > 1
        ):
            return False
    return True


@dataclass
class Journeys:
    store: JourneyStore
    queue: DispatchQueue
    profiles: ProfileReader
    clock: Clock
    default_zone: str = "Asia/Shanghai"
    facts: Any = None  # Personaliser.facts, for condition splits on tier / segment
    opening: Opening | None = None  # a location's latest open moment at or before a moment

    # ---------------------------------------------------------- definitions
    def create(self, journey_id: str, change: JourneyChange) -> Journey:
        if self.store.journey(journey_id) is not None:
            raise ConflictError(f"Journey {journey_id!r} exists", details={"journey_id": journey_id})
        journey = Journey(journey_id=journey_id, **change.model_dump(by_alias=True), version=1)
        if not self.store.save_journey(journey, expected_version=0):
            raise ConflictError("The journey was created meanwhile")
        return journey

    def set_status(self, journey_id: str, status: Literal["active", "paused"]) -> Journey:
        journey = self.store.journey(journey_id)
        if journey is None:
            raise NotFoundError(f"No journey {journey_id!r}")
        changed = journey.model_copy(update={"status": status, "version": journey.version + 1})
        if not self.store.save_journey(changed, expected_version=journey.version):
            raise ConflictError("The journey changed meanwhile")
        return changed

    # ---------------------------------------------------------- events
    def on_order(self, profile_id: str, order_id: str, skus: Sequence[str], at: datetime) -> dict[str, int]:
        counts = self._exit(profile_id, "order_placed", {"sku": set(skus)})
        profile = self.profiles.profiles([profile_id]).get(profile_id)
        for journey in self._active("order_placed"):
            if journey.consumable_skus and not set(skus) & set(journey.consumable_skus):
                continue
            counts["entered"] += self._enter(
                journey,
                profile_id,
                order_id,
                {"order_id": order_id, "skus": list(skus), "ordered_at": at.isoformat()},
            )
        for journey in self._active("birthday"):
            counts["entered"] += self._enter_birthday(journey, profile, profile_id)
        for journey in self._active("seasonal"):
            month = usual_month(profile)
            if month is not None:
                year = self._next_year_for(month, at)
                counts["entered"] += self._enter(journey, profile_id, f"{year}-{month:02d}", {"month": month})
        return counts

    def on_profile_change(self, profile_id: str) -> dict[str, int]:
        profile = self.profiles.profiles([profile_id]).get(profile_id)
        counts = {"entered": 0, "exited": 0}
        for journey in self._active("birthday"):
            counts["entered"] += self._enter_birthday(journey, profile, profile_id)
        return counts

    def on_track(
        self, profile_id: str, event: str, properties: dict[str, Any], at: datetime
    ) -> dict[str, int]:
        if event in APPOINTMENT_EVENTS:
            return self.on_appointment(profile_id, event, properties)
        cart_id = properties.get("cart_id") or properties.get("checkout_id")
        counts = {"entered": 0, "exited": 0}
        if event in CHECKOUT_EVENTS:
            counts = self._exit(profile_id, "checkout", {"cart_id": {str(cart_id)} if cart_id else set()})
        elif event in CART_EVENTS and cart_id:
            for journey in self._active("cart_started"):
                counts["entered"] += self._enter(
                    journey, profile_id, str(cart_id), {"cart_id": str(cart_id), "started_at": at.isoformat()}
                )
        return counts

    def on_appointment(self, profile_id: str, event: str, properties: dict[str, Any]) -> dict[str, int]:
        """A booking's change ends the instances of its earlier versions (their reminders are not
        sent), then enters the journeys the change starts: a booking or its new time the
        reminders, attendance or a no-show the follow-ups. Versions arrive in any order: an
        older one than an instance already holds enters nothing."""
        booking_id, version = str(properties.get("booking_id") or ""), properties.get("version")
        if not booking_id or not isinstance(version, int):
            return {"entered": 0, "exited": 0}
        counts = {"entered": 0, "exited": 0}
        newer_seen = False
        for instance in self.store.instances(profile_id):
            if instance.context.get("booking_id") != booking_id:
                continue
            held = instance.context.get("version")
            if isinstance(held, int) and held >= version:
                newer_seen = newer_seen or held > version
                continue
            if instance.status == "waiting" and self._end(instance, event):
                counts["exited"] += 1
        trigger = APPOINTMENT_ENTERS.get(event)
        if trigger is None or newer_seen:
            return counts
        context: dict[str, Any] = {
            key: properties[key]
            for key in ("booking_id", "version", "service_id", "location_id", "starts_at", "local_time")
            if key in properties
        }
        for journey in self._active(trigger):
            if journey.service_ids and properties.get("service_id") not in journey.service_ids:
                continue
            counts["entered"] += self._enter(journey, profile_id, f"{booking_id}.{version}", context)
        return counts

    def _next_year_for(self, month: int, at: datetime) -> int:
        reminder = date(at.year, month, 1) - timedelta(days=1)
        return at.year if reminder.replace(day=1) > at.date() else at.year + 1

    def _enter_birthday(self, journey: Journey, profile: Profile | None, profile_id: str) -> int:
        month_day = _birthday(profile)
        if month_day is None:
            return 0
        today = self.clock.now().date()
        year = today.year if (today.month, today.day) <= month_day else today.year + 1
        return self._enter(journey, profile_id, f"birthday-{year}", {})

    def _active(self, trigger: str) -> list[Journey]:
        return [
            journey
            for journey in self.store.journeys()
            if journey.trigger == trigger and journey.status == "active"
        ]

    def _enter(self, journey: Journey, profile_id: str, key: str, context: dict[str, Any]) -> int:
        now = self.clock.now()
        instance = Instance(
            journey_id=journey.journey_id,
            key=key,
            profile_id=profile_id,
            wake_at=now,
            entered_at=now,
            context=context,
        )
        if not self.store.create_instance(instance):  # once per (journey, customer, key)
            return 0
        self._advance(journey, instance)
        return 1

    def _exit(self, profile_id: str, on: str, values: dict[str, set[str]]) -> dict[str, int]:
        counts = {"entered": 0, "exited": 0}
        for instance in self.store.instances(profile_id):
            if instance.status != "waiting":
                continue
            journey = self.store.journey(instance.journey_id)
            if journey is None:
                continue
            for rule in journey.exit_on:
                if rule.on != on:
                    continue
                matched = (
                    rule.match == "any"
                    or (rule.match == "cart_id" and instance.key in values.get("cart_id", set()))
                    or (
                        rule.match == "sku"
                        and set(instance.context.get("skus", [])) & values.get("sku", set())
                    )
                )
                if matched and self._end(instance, on):
                    counts["exited"] += 1
                    break
        return counts

    def _end(self, instance: Instance, why: str) -> bool:
        """The instance exits (a conditional write on its version: once)."""
        ended = instance.model_copy(
            update={
                "status": "exited",
                "version": instance.version + 1,
                "history": [*instance.history, f"exit:{why}"],
            }
        )
        return self.store.save_instance(ended, expected_version=instance.version)

    # ---------------------------------------------------------- timers
    def sweep(self, *, limit: int = 1000) -> dict[str, int]:
        counts = {"fired": 0, "stale": 0}
        now = self.clock.now()
        for handle, profile_id, journey_id, key in self.store.due_timers(now, limit=limit):
            instance = self.store.instance(profile_id, journey_id, key)
            journey = self.store.journey(journey_id)
            if instance is None or journey is None or instance.status != "waiting":
                self.store.clear_timer(handle, profile_id, journey_id, key)
                counts["stale"] += 1
                continue
            if instance.wake_at > now:  # a timer the instance has moved past (a later one is set)
                self.store.clear_timer(handle, profile_id, journey_id, key)
                counts["stale"] += 1
                continue
            if journey.status != "active":
                continue  # paused: the timer is kept for when it resumes
            if self._advance(journey, instance):
                counts["fired"] += 1
            self.store.clear_timer(handle, profile_id, journey_id, key)
        return counts

    def _advance(self, journey: Journey, instance: Instance) -> bool:
        """Run steps from the instance's next one until a wait that is still ahead, or the end.
        Saving the result is a conditional write on the version: a second sweep (or a second
        delivery of the entering event) finds the instance moved and does nothing."""
        now = self.clock.now()
        if instance.status != "waiting" or instance.wake_at > now:
            return False
        profile = self.profiles.profiles([instance.profile_id]).get(instance.profile_id)
        index, history, tasks = instance.step, list(instance.history), []
        wake_at: datetime | None = None
        for _ in range(MAX_STEPS_PER_FIRE):
            if index >= len(journey.steps):
                break
            step = journey.steps[index]
            if step.type == "wait":
                index += 1
                ahead = wake_time(step, instance, profile, now, self.default_zone, self.opening)
                if ahead is None:  # a reminder too late to send: skipped, with its send
                    history.append(f"late:{index - 1}")
                    if index < len(journey.steps) and journey.steps[index].type == "send":
                        index += 1
                    continue
                if ahead > now:
                    wake_at = on_the_minute(ahead)
                    history.append(f"wait:{index - 1}")
                    break
                continue
            if step.type in ("condition", "random"):
                if step.type == "condition":
                    facts = self.facts(profile) if (self.facts and profile) else {}
                    yes = condition_holds(step.if_ or {}, profile, facts)
                else:
                    bucket = stable_bucket(
                        "split",
                        journey.journey_id,
                        instance.profile_id,
                        instance.key,
                        str(index),
                        buckets=100,
                    )
                    yes = bucket < (step.percent or 0)
                history.append(f"{step.type}:{index}:{'yes' if yes else 'no'}")
                target = step.then if yes else step.else_
                index = target if target is not None else (index + 1 if yes else len(journey.steps))
                continue
            tasks.append(
                DispatchTask(
                    program_id=program_id_of(journey.journey_id),
                    run_key=f"{index}:{instance.key}",
                    profile_id=instance.profile_id,
                    planned_at=now,
                    values=template_values(instance),
                )
            )
            history.append(f"send:{index}")
            index += 1
        moved = instance.model_copy(
            update={
                "step": index,
                "status": "waiting" if wake_at is not None else "done",
                "wake_at": wake_at or now,
                "history": history,
                "version": instance.version + 1,
            }
        )
        # Sends and the timer go first: a crash after them repeats them (the ledger and the timer's
        # key dedupe), a crash before them leaves the instance where it was, to be fired again.
        if tasks:
            self.queue.send([tasks])
        if wake_at is not None:
            self.store.set_timer(moved)
        return self.store.save_instance(moved, expected_version=instance.version)


def _send_step(channels: list[str], body: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "send",
        "send": {
            "channels": channels,
            "variants": [
                {
                    "variant_id": "default",
                    "content": {
                        c: {"body": body, "subject": extra.get("subject"), "title": extra.get("title")}
                        for c in channels
                    },
                }
            ],
            "priority": extra.get("priority", 60),
            **({"send_by_hours": extra["send_by_hours"]} if extra.get("send_by_hours") else {}),
            **({"coupon_definition_id": extra["coupon"]} if extra.get("coupon") else {}),
        },
    }


TEMPLATES: dict[str, dict[str, Any]] = {
    "post_purchase": {
        "name": "Post-purchase follow-up (consumables)",
        "trigger": "order_placed",
        "exit_on": [{"on": "order_placed", "match": "sku"}],
        "steps": [
            {"type": "wait", "cycle": "before_runout", "until_local": "10:00"},
            _send_step(
                ["wechat", "sms", "inbox"],
                "Hi {{ first_name | there }}, how is it going? Running low soon? Reply for tips.",
            ),
            {"type": "wait", "cycle": "repurchase", "until_local": "10:00"},
            _send_step(
                ["wechat", "sms", "inbox"], "Time for a refill, {{ first_name | there }}? Reorder in one tap."
            ),
        ],
    },
    "win_back": {
        "name": "Win-back after 90 days without purchase",
        "trigger": "order_placed",
        "exit_on": [{"on": "order_placed", "match": "any"}],
        "steps": [
            {"type": "wait", "hours": 90 * 24},
            {"type": "wait", "until_local": "10:00"},
            _send_step(
                ["email", "sms", "inbox"],
                "We miss you, {{ first_name | there }}: "
                "{{ recommended_sku | something new }} is waiting for you.",
                subject="We miss you",
            ),
        ],
    },
    "cart_abandonment": {
        "name": "Cart abandonment (1 hour)",
        "trigger": "cart_started",
        "exit_on": [{"on": "checkout", "match": "cart_id"}],
        "steps": [
            {"type": "wait", "hours": 1},
            _send_step(
                ["push", "wechat", "email", "inbox"],
                "You left something in your cart, {{ first_name | there }}.",
                title="Still thinking?",
                subject="Your cart",
            ),
        ],
    },
    "birthday": {
        "name": "Birthday greeting",
        "trigger": "birthday",
        "steps": [
            {"type": "wait", "until_birthday": True, "until_local": "10:00"},
            _send_step(
                ["wechat", "sms", "inbox"],
                "Happy birthday, {{ first_name | dear member }}! A treat is waiting for you.",
            ),
        ],
    },
    "seasonal": {
        "name": "Seasonal reminder before the usual buying month",
        "trigger": "seasonal",
        "steps": [
            {"type": "wait", "until_month_before_usual": True, "until_local": "10:00"},
            _send_step(
                ["email", "wechat", "inbox"],
                "Your season is coming, {{ first_name | there }}: the new range is in.",
                subject="Your season is coming",
            ),
        ],
    },
}


REMINDER = (
    "Reminder: your {{ appointment_service }} appointment is at {{ appointment_time }} "
    "({{ appointment_location }}). Need another time? Change or cancel it in the app."
)
TEMPLATES |= {
    "appointment_reminders": {
        "name": "Appointment reminders (24 hours and 2 hours before, in the location's hours)",
        "trigger": "appointment_booked",
        "steps": [
            {"type": "wait", "before_appointment_hours": 24},
            _send_step(
                ["wechat", "sms", "email", "inbox"],
                REMINDER,
                subject="Your appointment",
                priority=90,
                send_by_hours=12,
            ),
            {"type": "wait", "before_appointment_hours": 2},
            _send_step(["wechat", "sms", "inbox"], REMINDER, priority=90, send_by_hours=1),
        ],
    },
    "appointment_follow_up": {
        "name": "After an appointment: satisfaction survey, then a review request",
        "trigger": "appointment_attended",
        "steps": [
            {"type": "wait", "hours": 2},
            _send_step(
                ["wechat", "sms", "email", "inbox"],
                "Thanks for coming in, {{ first_name | there }}! How was your {{ appointment_service }}? "
                "Rate it in one tap.",
                subject="How did it go?",
                priority=70,
            ),
            {"type": "wait", "hours": 72},
            {"type": "wait", "until_local": "10:00"},
            _send_step(
                ["email", "wechat", "inbox"],
                "Would you share a review of your {{ appointment_service }}? It helps others choose.",
                subject="A quick review?",
            ),
        ],
    },
    "appointment_no_show": {
        "name": "After a missed appointment: offer a new time",
        "trigger": "appointment_missed",
        "steps": [
            {"type": "wait", "hours": 1},
            _send_step(
                ["wechat", "sms", "email", "inbox"],
                "We missed you today, {{ first_name | there }}. Book a new time for your "
                "{{ appointment_service }} in the app.",
                subject="Book a new time",
                priority=70,
            ),
        ],
    },
}


def from_template(name: str, overrides: dict[str, Any]) -> JourneyChange:
    if name not in TEMPLATES:
        raise NotFoundError(f"No journey template {name!r}", details={"templates": sorted(TEMPLATES)})
    return JourneyChange.model_validate({**TEMPLATES[name], **overrides})

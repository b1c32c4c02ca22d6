"""Campaigns and their dispatch: exactly the messages the strategy says (不重), to everyone it
targets with an outcome for each (不漏).

A *program* is what sends: a campaign, or one send step of a journey. Each send is identified by
its dispatch key (program, run, customer); its ledger row is written (conditionally) before the
provider is called, and the provider's idempotency key is that row's id. So a duplicated queue
message, a schedule that fires twice or a crash finds the row and does not send again.

Before the provider is called, the send is also added to the customer's contact history with one
conditional write: that counts it in every cap at once, says the send is under way (a worker that
dies after it leaves a send to recover, not to repeat), and is the last message attribution
credits. A send writes three items in all: the row's claim, the history, the row's outcome.

Every targeted customer ends with one outcome on their row: `sent`, `delivered`, `suppressed`
(reason: `consent`, `unsubscribed`, `cap`, `plan` (the contact plan's maximum),
`quiet_hours_expired`, `expired`, `no_address`, `erased`, `holdout`, `cancelled`), `deferred`
(until when) or `failed` (why). The report counts the rows, so the outcomes add up to the
audience by construction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from shared.domain.customers.profiles import Profile
from shared.domain.engagement.frequency import (
    Cap,
    Contact,
    ContactHistory,
    FrequencyPolicy,
    LocalTime,
    next_local_time,
    resolve_timezone,
    window_of,
)
from shared.domain.engagement.messaging import (
    OutboundMessage,
    PermanentSendError,
    RenderError,
    Senders,
    ThrottledError,
    Variant,
    address_kind,
    placeholders,
    render_content,
)
from shared.domain.engagement.models import (
    FINAL,
    LEASE,
    DispatchBusyError,
    DispatchTask,
    LedgerRow,
    Program,
    stable_bucket,
)
from shared.domain.engagement.plans import plan_refusal
from shared.domain.engagement.ports import (
    EngagementStore,
    Personaliser,
    ProfileSource,
    ProgramDirectory,
    Rivals,
)
from shared.domain.kernel.errors import InvalidInputError
from shared.domain.kernel.ports import Clock

CONTACT_ATTEMPTS = 8  # reads of a customer's contact history while concurrent sends change it


# ------------------------------------------------------------------ choosing
def holdout(program_id: str, profile_id: str, percent: Decimal) -> bool:
    return stable_bucket("holdout", program_id, profile_id) < int(percent * 100)


def choose_variant(
    program_id: str, variants: Sequence[Variant], facts: dict[str, set[str]], profile_id: str
) -> Variant:
    for variant in variants:
        if variant.when and all(value in facts.get(key, set()) for key, value in variant.when.items()):
            return variant
    weighted = [variant for variant in variants if not variant.when and variant.weight]
    if weighted:
        point = stable_bucket("ab", program_id, profile_id, buckets=sum(v.weight for v in weighted))
        for variant in weighted:
            if point < variant.weight:
                return variant
            point -= variant.weight
    return next((variant for variant in variants if not variant.when), variants[0])


def preview_message(
    program_id: str, program: Program, profile: Profile, channel: str, personaliser: Personaliser
) -> tuple[Variant, dict[str, Any]]:
    """The variant one customer would get and its content rendered with their data, as a send
    would render it, but nothing is sent, recorded or issued (`coupon_code` shows as COUPON)."""
    if channel not in program.channels:
        raise InvalidInputError(f"channel: one of the campaign's {', '.join(program.channels)}")
    facts = personaliser.facts(profile)
    variant = choose_variant(program_id, program.variants, facts, profile.profile_id)
    content = variant.content.get(channel)
    if content is None:
        raise InvalidInputError(f"The variant {variant.variant_id!r} has no {channel} content")
    context = personaliser.context(
        profile,
        program,
        channel,
        dispatch_key="preview",
        issue_coupon=False,
        names=placeholders(content),
        facts=facts,
    )
    try:
        return variant, render_content(content, {**context, "coupon_code": "COUPON"})
    except RenderError as error:
        raise InvalidInputError(
            f"The content needs a value this customer does not have: {', '.join(error.missing)}",
            details={"missing": error.missing},
        ) from error


CONSENT_CHANNEL = {"email": "email", "sms": "sms", "push": "push", "wechat": "wechat"}


def consent_allows(profile: Profile, channel: str, *, transactional: bool) -> bool:
    """Marketing needs a grant on that channel; transactional messages only need no refusal.
    The in-app inbox and webhooks ride on the customer's own session or integration."""
    key = CONSENT_CHANNEL.get(channel)
    if key is None:
        return True
    marketing = profile.consent.get(f"{key}:marketing")
    status = marketing.status.value if marketing else None
    if transactional:
        return status not in ("denied", "revoked")
    return status == "granted"


def address_of(profile: Profile, channel: str) -> str | None:
    kind = address_kind(channel)
    if kind == "none":
        return profile.profile_id
    if kind == "push":
        value = profile.trait("push_endpoint")
        return value if isinstance(value, str) and value else None
    values = [identifier.value for identifier in profile.identifiers if identifier.type.value == kind]
    return values[0] if values else None


# ------------------------------------------------------------------ the dispatcher
@dataclass
class Dispatcher:
    store: EngagementStore
    programs: ProgramDirectory
    profiles: ProfileSource
    personaliser: Personaliser
    senders: Senders
    rivals: Rivals
    clock: Clock
    unsubscribe_url: Callable[[str, str, str], str | None] = lambda profile_id, channel, program_id: None

    def dispatch(self, task: DispatchTask) -> str:
        now = self.clock.now()
        found = self.programs.program(task.program_id, task.run_key)
        row = self._claim(task, now)
        if row is None:
            return "duplicate"
        if found is None or found[1] == "cancelled":
            return self._close(row, "suppressed", "cancelled", now)
        program, state = found
        if state == "paused":
            self.store.park(task)
            self._save(row, row.model_copy(update={"status": "parked", "lease_until": None, "at": now}))
            return "parked"
        return self._decide(row, program, now)

    def _claim(self, task: DispatchTask, now: datetime) -> LedgerRow | None:
        fresh = LedgerRow(
            program_id=task.program_id,
            run_key=task.run_key,
            profile_id=task.profile_id,
            status="processing",
            planned_at=task.planned_at,
            at=now,
            lease_until=now + LEASE,
            values=task.values,
        )
        if self.store.create_row(fresh):
            return fresh
        row = self.store.row(task.program_id, task.run_key, task.profile_id)
        if row is None:
            raise DispatchBusyError("The ledger row is being written")
        if row.status in FINAL:
            return None
        if row.status == "deferred" and row.deferred_until and row.deferred_until > now:
            return None  # its time has not come: the deferral index brings it back
        if row.status == "processing" and row.lease_until and row.lease_until > now:
            raise DispatchBusyError("Another worker is sending this message")
        taken = row.model_copy(update={"lease_until": now + LEASE, "version": row.version + 1})
        if not self.store.save_row(taken, expected_version=row.version):
            raise DispatchBusyError("Another worker took this message")
        return taken

    def _save(self, before: LedgerRow, after: LedgerRow) -> LedgerRow:
        after = after.model_copy(update={"version": before.version + 1})
        if not self.store.save_row(after, expected_version=before.version):
            raise DispatchBusyError("The ledger row changed meanwhile")
        return after

    def _close(self, row: LedgerRow, status: str, reason: str | None, now: datetime, **changes: Any) -> str:
        self._save(
            row,
            row.model_copy(
                update={"status": status, "reason": reason, "at": now, "lease_until": None, **changes}
            ),
        )
        return f"{status}:{reason}" if reason else status

    def _defer(self, row: LedgerRow, until: datetime, reason: str, now: datetime, **changes: Any) -> str:
        self._save(
            row,
            row.model_copy(
                update={
                    "status": "deferred",
                    "reason": reason,
                    "deferred_until": until,
                    "at": now,
                    "lease_until": None,
                    **changes,
                }
            ),
        )
        self.store.defer(
            DispatchTask(
                program_id=row.program_id,
                run_key=row.run_key,
                profile_id=row.profile_id,
                planned_at=row.planned_at,
                values=row.values,
            ),
            until,
        )
        return f"deferred:{reason}"

    def _decide(self, row: LedgerRow, program: Program, now: datetime) -> str:
        profile = self.profiles.profiles([row.profile_id]).get(row.profile_id)
        if profile is None or not profile.exists:
            return self._close(row, "suppressed", "erased", now)
        history = self.store.contact_history(row.profile_id)
        under_way = history.find(row.program_id, row.run_key)
        if under_way is not None and not under_way.holdout:
            # Counted in the history, then the worker died before the row said how it ended: the
            # provider may have been called.
            return self._recover(row, program, profile, under_way, now)
        policy = self.store.policy()
        where = resolve_timezone(profile.trait("timezone"), policy.default_timezone)
        tz = {"timezone": where.zone, "timezone_source": where.source}
        if holdout(row.program_id, row.profile_id, program.holdout_percent):
            held = Contact(
                program_id=row.program_id, run_key=row.run_key, at=now, holdout=True, counted=False
            )
            self._revise(history, lambda latest: latest.with_contact(held, now=now))
            return self._close(row, "suppressed", "holdout", now, holdout=True, **tz)
        deadline = row.planned_at + timedelta(hours=program.send_by_hours)
        when = self._timing(row, program, policy, where, now)
        if when is not None:
            target, reason = when
            if target > deadline:
                return self._close(
                    row,
                    "suppressed",
                    f"{reason}_expired" if reason == "quiet_hours" else "expired",
                    now,
                    **tz,
                )
            return self._defer(row, target, reason, now, **tz)
        channel, address, refusal = self._channel(profile, program, history)
        if channel is None or address is None:
            return self._close(row, "suppressed", refusal, now, **tz)
        # The customer's facts are read once, and only when a variant is chosen by them.
        facts = self._facts(profile) if any(v.when for v in program.variants) else None
        variant = choose_variant(row.program_id, program.variants, facts or {}, row.profile_id)
        content = variant.content[channel]  # type: ignore[index]
        names = placeholders(content)  # the context reads only what the content uses
        dispatch_key = row.key

        def context_for(*, issue_coupon: bool) -> dict[str, Any]:
            return {
                **self.personaliser.context(
                    profile,
                    program,
                    channel,
                    dispatch_key=dispatch_key,
                    issue_coupon=issue_coupon,
                    names=names,
                    facts=facts,
                ),
                **row.values,
            }

        try:  # a first render with a stand-in coupon: a broken template never takes a slot or a coupon
            context = context_for(issue_coupon=False)
            self._render(content, {**context, "coupon_code": "COUPON"})
        except RenderError as error:
            return self._close(
                row,
                "failed",
                "render_error",
                now,
                channel=channel,
                variant=variant.variant_id,
                provider_id=",".join(error.missing),
                **tz,
            )
        sending = Contact(
            program_id=row.program_id,
            run_key=row.run_key,
            at=now,
            channel=channel,
            variant=variant.variant_id,
            counted=not program.exempt,
        )
        refused = self._revise(
            history,
            lambda latest: (
                self._within_caps(row, program, policy, sending, where, latest)
                or latest.with_contact(sending, now=now)
            ),
        )
        if refused is not None:
            until, reason = refused
            if program.deferrable and until <= deadline:
                return self._defer(row, until, reason, now, channel=channel, **tz)
            return self._close(row, "suppressed", reason, now, channel=channel, **tz)
        # Counted in the caps and marked under way in one write: from here a crash is recovered.
        if program.coupon_definition_id:
            context = context_for(issue_coupon=True)
        try:
            rendered = self._render(content, context)
        except RenderError as error:
            self._forget(row)
            return self._close(
                row, "failed", "render_error", now, channel=channel, provider_id=",".join(error.missing), **tz
            )
        row = row.model_copy(update={"channel": channel, "variant": variant.variant_id, **tz})
        return self._send(row, self._message(row, channel, address, rendered), now)

    def _revise(
        self,
        history: ContactHistory,
        change: Callable[[ContactHistory], ContactHistory | tuple[datetime, str] | None],
    ) -> tuple[datetime, str] | None:
        """Write `change` of the customer's history, decided on the history as it is when written:
        a concurrent send to the same customer makes us read and decide again. `change` answers
        the revised history, a refusal (when a slot frees, why), which is returned, or None when
        there is nothing to write."""
        for _ in range(CONTACT_ATTEMPTS):
            revised = change(history)
            if revised is None or isinstance(revised, tuple):
                return revised
            if self.store.save_contact_history(revised, expected_version=history.version):
                return None
            history = self.store.contact_history(history.profile_id)
        raise DispatchBusyError("The customer's contact history kept changing")

    def _forget(self, row: LedgerRow) -> None:
        """Take a send that did not happen out of the history (its caps' slots free again)."""
        self._revise(
            self.store.contact_history(row.profile_id),
            lambda latest: (
                latest.without(row.program_id, row.run_key)
                if latest.find(row.program_id, row.run_key)
                else None
            ),
        )

    def _send(self, row: LedgerRow, message: OutboundMessage, now: datetime) -> str:
        sender = self.senders[message.channel]
        try:
            provider_id = sender.send(message)
        except ThrottledError:
            self._forget(row)  # not sent: the retry decides again
            self._save(row, row.model_copy(update={"status": "processing", "lease_until": None}))
            raise
        except PermanentSendError as error:
            self._forget(row)
            return self._close(row, "failed", error.reason, now)
        status = "delivered" if message.channel == "inbox" else "sent"
        return self._close(row, status, None, now, sent_at=now, provider_id=provider_id)

    def _recover(
        self, row: LedgerRow, program: Program, profile: Profile, under_way: Contact, now: datetime
    ) -> str:
        """The history says this send was under way and its worker is gone. An idempotent provider
        is asked again with the same key (it will not send twice); otherwise we cannot know, and
        say so."""
        channel = under_way.channel or ""
        row = row.model_copy(update={"channel": channel, "variant": under_way.variant})
        sender = self.senders.get(channel)
        if sender is None or not sender.idempotent:
            return self._close(row, "failed", "unconfirmed_after_crash", now)
        address = address_of(profile, channel)
        variant = next(
            (v for v in program.variants if v.variant_id == under_way.variant), program.variants[0]
        )
        content = variant.content[channel]  # type: ignore[index]
        try:
            context = self.personaliser.context(
                profile,
                program,
                channel,
                dispatch_key=row.key,
                issue_coupon=bool(program.coupon_definition_id),
            )
            context.update(row.values)
            rendered = self._render(content, context)
        except RenderError:
            return self._close(row, "failed", "render_error", now)
        message = self._message(row, channel, address or row.profile_id, rendered)
        return self._send(row, message, now)

    def _message(
        self, row: LedgerRow, channel: str, address: str, rendered: dict[str, Any]
    ) -> OutboundMessage:
        return OutboundMessage(
            idempotency_key=row.key,
            channel=channel,
            address=address,
            profile_id=row.profile_id,
            program_id=row.program_id,
            unsubscribe_url=self.unsubscribe_url(row.profile_id, channel, row.program_id),
            **rendered,
        )

    # ---------------------------------------------------------- the decisions
    def _timing(
        self, row: LedgerRow, program: Program, policy: FrequencyPolicy, where: LocalTime, now: datetime
    ) -> tuple[datetime, str] | None:
        """When the message may go, if not now: the customer's best hour, quiet hours, store hours."""
        if program.send_at_local and row.status != "deferred":
            target = next_local_time(row.planned_at, program.send_at_local, where)
            if target > now:
                return target, "best_hour"
        if not program.exempt and policy.quiet_hours and policy.quiet_hours.contains(where.local(now)):
            return policy.quiet_hours.end_after(now, where), "quiet_hours"
        if program.store_hours and not program.store_hours.contains(where.local(now)):
            return program.store_hours.next_start(now, where), "store_hours"
        return None

    def _channel(
        self, profile: Profile, program: Program, history: ContactHistory
    ) -> tuple[str | None, str | None, str]:
        refusals: list[str] = []
        for channel in program.channels:
            if history.suppresses(channel):
                refusals.append("unsubscribed")
                continue
            if not consent_allows(profile, channel, transactional=program.exempt):
                refusals.append("consent")
                continue
            address = address_of(profile, channel)
            if address is None:
                refusals.append("no_address")
                continue
            return channel, address, ""
        for reason in ("unsubscribed", "consent", "no_address"):
            if reason in refusals:
                return None, None, reason
        return None, None, "no_address"

    def _facts(self, profile: Profile) -> dict[str, set[str]]:
        return self.personaliser.facts(profile)

    def _within_caps(
        self,
        row: LedgerRow,
        program: Program,
        policy: FrequencyPolicy,
        sending: Contact,
        where: LocalTime,
        history: ContactHistory,
    ) -> tuple[datetime, str] | None:
        """When a slot frees and why, if a cap that applies has no room for this send; else None.
        Exempt (transactional) programs are recorded but neither counted nor refused."""
        if program.exempt:
            return None
        channel, now = sending.channel or "", sending.at
        if program.contact_plan_id:
            plan_ends = plan_refusal(self.store.contact_plan(program.contact_plan_id), history, channel, now)
            if plan_ends is not None:
                return plan_ends, "plan"
        caps: list[tuple[Cap, str | None]] = [(cap, None) for cap in policy.caps if cap.applies(channel)]
        caps += [(cap, row.program_id) for cap in program.caps if cap.applies(channel)]
        for cap, only in caps:
            window = window_of(cap, now, where)
            used = history.counted(cap, window, program_id=only)
            if used >= cap.count:
                return window.ends_at, "cap"
            if (
                cap.window != "rolling"
                and used == cap.count - 1
                and self.rivals.higher_priority_waiting(
                    row.profile_id, program.priority, now=now, until=window.ends_at
                )
            ):
                return window.ends_at, "cap_priority"
        return None

    @staticmethod
    def _render(content: Any, context: dict[str, Any]) -> dict[str, Any]:
        return render_content(content, context)

"""The engagement table (campaigns, journeys, dispatch ledger, frequency counters, outcomes,
attribution).

| entity           | pk                          | sk                          | notes                       |
|------------------|-----------------------------|-----------------------------|-----------------------------|
| policy           | POLICY                      | POLICY                      | the frequency policy        |
| campaign         | CAMPAIGN                    | <campaign_id>               | body; version               |
| active campaign  | ACTIVE                      | <campaign_id>               | priority, segment_id        |
| run              | RUN#<campaign_id>           | <run_id>                    | paging cursor; version      |
| ledger row       | LEDGER#<program>#<shard>    | <run_key>|<profile_id>      | one per dispatch key        |
| deferral         | DEFER#<day>                 | <minute>|<program>|<run>|.. | the task, due that minute   |
| parked send      | PARKED#<program>            | <run_key>|<profile_id>      | waiting for a resume        |
| unsubscribe      | PERSON#<profile_id>         | SUPPRESS#<channel>          | from a one-click link       |
| booking index    | PERSON#<profile_id>         | BOOKING#<booking_id>        | appointments_table.py       |
| contact history  | PERSON#<profile_id>         | CONTACTS                    | recent sends: caps, last    |
|                  |                             |                             | message; version            |
| inbox message    | INBOX#<profile_id>          | <dispatch key hash>         | the in-app inbox; at        |
| conversion       | CONV#<program>              | <order_id>|<profile_id>     | attributed orders           |
| stored report    | REPORT                      | <campaign_id>               | body; stale, generation     |
| journey          | JOURNEY                     | <journey_id>                | body; version               |
| instance         | JI#<profile_id>             | <journey_id>|<key>          | body; version; waiting_*   |
| timer            | JTIMER#<day>                | <profile>|<journey>|<key>   |                             |
| cursor           | CURSOR                      | DEFER / JTIMER              | the sweeps' minute          |
| contact plan     | PLAN                        | <plan_id>                   | body                        |
| plan report      | PLANREPORT#<plan_id>        | <period key>                | body (tallies, syncs); TTL  |
| synced hash      | MATCH#<sha256>              | MATCH                       | profile_id; TTL 35 days     |
| its person's copy| PERSON#<profile_id>         | MATCH#<sha256>              | for erasure; TTL            |
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from shared.adapters.dynamo.low_level import LowLevelTable, dump, epoch, iso
from shared.domain.engagement.frequency import LAST_CONTACT_KEPT, Contact, ContactHistory, FrequencyPolicy
from shared.domain.engagement.journeys import Instance, Journey
from shared.domain.engagement.messaging import OutboundMessage
from shared.domain.engagement.models import (
    LEDGER_SHARDS,
    Campaign,
    DispatchTask,
    LedgerRow,
    Run,
    ledger_shard,
    stable_bucket,
)
from shared.domain.engagement.plans import ContactPlan, PlanReport

KEEP_LEDGER = timedelta(days=400)
PLAN_REPORT_KEPT = timedelta(days=400)
MATCH_KEPT = timedelta(days=35)  # a synced hash is matched to its person this long after a sync
MATCH_RENEW = timedelta(days=7)
WAITING_SHARDS = 4  # a step's waiting customers spread over four index partitions


def _task_sk(task: DispatchTask) -> str:
    return f"{task.program_id}|{task.run_key}|{task.profile_id}"


class DynamoEngagement(LowLevelTable):
    """Implements EngagementStore, CampaignStore, JourneyStore, the inbox and the attribution records."""

    name = "engagement"

    # ------------------------------------------------------------ policy
    def policy(self) -> FrequencyPolicy:
        def load_policy() -> FrequencyPolicy:
            item = self._get("POLICY", "POLICY")
            return FrequencyPolicy.model_validate_json(item["body"]) if item else FrequencyPolicy()

        return self._cached(("policy", ""), load_policy)

    def save_policy(self, policy: FrequencyPolicy) -> None:
        self._put({"pk": "POLICY", "sk": "POLICY", "body": policy.model_dump_json()})
        self._cache.pop(("policy", ""), None)

    # ------------------------------------------------------------ versioned bodies
    def _save_versioned(self, pk: str, sk: str, body: str, version: int, expected: int, **extra: Any) -> bool:
        item = {"pk": pk, "sk": sk, "body": body, "version": version, **extra}
        if expected == 0:
            return self._put(item, condition="attribute_not_exists(pk)")
        return self._put(item, condition="version = :expected", values={":expected": expected})

    # ------------------------------------------------------------ campaigns and runs
    def campaigns(self) -> list[Campaign]:
        return [
            Campaign.model_validate({**json.loads(item["body"]), "version": int(item["version"])})
            for item in self._query_all("CAMPAIGN", consistent=True)
        ]

    def campaign(self, campaign_id: str) -> Campaign | None:
        item = self._get("CAMPAIGN", campaign_id)
        return (
            Campaign.model_validate({**json.loads(item["body"]), "version": int(item["version"])})
            if item
            else None
        )

    def save_campaign(self, campaign: Campaign, *, expected_version: int) -> bool:
        saved = self._save_versioned(
            "CAMPAIGN",
            campaign.campaign_id,
            campaign.model_dump_json(exclude={"version"}),
            campaign.version,
            expected_version,
        )
        if saved:
            self.index_active(campaign)
        return saved

    def index_active(self, campaign: Campaign) -> None:
        """The active campaigns' index (what the last-slot priority check reads): this campaign
        in it while active, out of it otherwise."""
        if campaign.status == "active":
            self._put(
                {
                    "pk": "ACTIVE",
                    "sk": campaign.campaign_id,
                    "priority": campaign.priority,
                    "segment_id": campaign.segment_id,
                }
            )
        else:
            self._delete("ACTIVE", campaign.campaign_id)

    def active_campaigns(self) -> list[tuple[str, int, str]]:
        return [
            (str(item["sk"]), int(item["priority"]), str(item["segment_id"]))
            for item in self._query_all("ACTIVE")
        ]

    def create_run(self, run: Run) -> bool:
        return self._save_versioned(
            f"RUN#{run.program_id}", run.run_id, run.model_dump_json(exclude={"version"}), 1, 0
        )

    def run(self, run_id: str) -> Run | None:
        program_id = run_id.split("@", 1)[0]
        item = self._get(f"RUN#{program_id}", run_id)
        return (
            Run.model_validate({**json.loads(item["body"]), "version": int(item["version"])})
            if item
            else None
        )

    def save_run(self, run: Run, *, expected_version: int) -> bool:
        return self._save_versioned(
            f"RUN#{run.program_id}",
            run.run_id,
            run.model_dump_json(exclude={"version"}),
            run.version,
            expected_version,
        )

    def runs(self, program_id: str) -> list[Run]:
        return [
            Run.model_validate({**json.loads(item["body"]), "version": int(item["version"])})
            for item in self._query_all(f"RUN#{program_id}", consistent=True)
        ]

    # ------------------------------------------------------------ stored reports
    def stored_report(self, campaign_id: str) -> tuple[dict[str, Any] | None, int | None]:
        item = self._get("REPORT", campaign_id)
        if item is None:
            return None, None
        generation = int(item.get("generation", 0))
        if item.get("stale") or not item.get("body"):
            return None, generation
        return dict(json.loads(item["body"])), generation

    def store_report(
        self, campaign_id: str, report: dict[str, Any] | None, *, generation: int | None
    ) -> bool:
        if report is None:  # the item, stale and empty: a change from now on is counted
            return self._put(
                {"pk": "REPORT", "sk": campaign_id, "stale": True, "generation": 0},
                condition="attribute_not_exists(pk)",
            )
        return self._put(
            {
                "pk": "REPORT",
                "sk": campaign_id,
                "body": json.dumps(report, separators=(",", ":"), default=str),
                "generation": generation or 0,
            },
            condition="attribute_not_exists(pk) OR generation = :seen",
            values={":seen": generation or 0},
        )

    def report_changed(self, program_id: str) -> None:
        # only a stored report is marked (one conditional write; nothing when there is none)
        with contextlib.suppress(ClientError):
            self._call(
                "update_item",
                Key=dump({"pk": "REPORT", "sk": program_id}),
                UpdateExpression="SET stale = :yes ADD generation :one",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues=dump({":yes": True, ":one": 1}),
            )

    # ------------------------------------------------------------ the ledger
    @staticmethod
    def _row_key(program_id: str, run_key: str, profile_id: str) -> tuple[str, str]:
        return f"LEDGER#{program_id}#{ledger_shard(profile_id):02d}", f"{run_key}|{profile_id}"

    def row(self, program_id: str, run_key: str, profile_id: str) -> LedgerRow | None:
        item = self._get(*self._row_key(program_id, run_key, profile_id))
        return (
            LedgerRow.model_validate({**json.loads(item["body"]), "version": int(item["version"])})
            if item
            else None
        )

    def rows_of(self, sends: Sequence[tuple[str, str]], profile_id: str) -> dict[tuple[str, str], LedgerRow]:
        """One customer's ledger rows for (program, run key) pairs, in one batch read."""
        keys = [
            dict(zip(("pk", "sk"), self._row_key(program_id, run_key, profile_id), strict=True))
            for program_id, run_key in dict.fromkeys(sends)
        ]
        rows = (
            LedgerRow.model_validate({**json.loads(item["body"]), "version": int(item["version"])})
            for item in self._batch_get(keys)
        )
        return {(row.program_id, row.run_key): row for row in rows}

    def _row_item(self, row: LedgerRow) -> tuple[str, str, str, dict[str, Any]]:
        pk, sk = self._row_key(row.program_id, row.run_key, row.profile_id)
        body = row.model_dump_json(exclude={"version"}, exclude_none=True, exclude_defaults=True)
        return pk, sk, body, {"expires_at": epoch(row.planned_at + KEEP_LEDGER)}

    def create_row(self, row: LedgerRow) -> bool:
        pk, sk, body, extra = self._row_item(row)
        return self._save_versioned(pk, sk, body, row.version, 0, **extra)  # one row per dispatch key

    def save_row(self, row: LedgerRow, *, expected_version: int) -> bool:
        pk, sk, body, extra = self._row_item(row)
        return self._save_versioned(pk, sk, body, row.version, expected_version, **extra)

    def rows(self, program_id: str) -> Iterator[LedgerRow]:
        for shard in range(LEDGER_SHARDS):
            for item in self._query_all(f"LEDGER#{program_id}#{shard:02d}"):
                yield LedgerRow.model_validate({**json.loads(item["body"]), "version": int(item["version"])})

    def run_rows(self, program_id: str, run_key: str) -> Iterator[LedgerRow]:
        """One run's rows (a campaign's runs share its partitions, sorted by run)."""
        for shard in range(LEDGER_SHARDS):
            for item in self._query_all(
                f"LEDGER#{program_id}#{shard:02d}", start=f"{run_key}|", end=f"{run_key}|~"
            ):
                yield LedgerRow.model_validate({**json.loads(item["body"]), "version": int(item["version"])})

    def count_final_rows(self, program_id: str, *, shard: int) -> int:
        """Rows of one shard that have their outcome (a cheap progress figure: keys and a filter)."""
        total, after = 0, None
        while True:
            kwargs: dict[str, Any] = {
                "KeyConditionExpression": "pk = :pk",
                "FilterExpression": "NOT contains(body, :open)",
                "ExpressionAttributeValues": dump(
                    {":pk": f"LEDGER#{program_id}#{shard:02d}", ":open": '"status":"processing"'}
                ),
                "Select": "COUNT",
            }
            if after:
                kwargs["ExclusiveStartKey"] = after
            response = self._call("query", **kwargs)
            total += int(response.get("Count", 0))
            after = response.get("LastEvaluatedKey")
            if not after:
                return total

    # ------------------------------------------------------------ contact histories
    def contact_history(self, profile_id: str) -> ContactHistory:
        # one query reads the history and every unsubscribe: the person's partition
        items, _ = self._query(f"PERSON#{profile_id}", consistent=True)
        suppressed = frozenset(
            item["sk"].removeprefix("SUPPRESS#") for item in items if item["sk"].startswith("SUPPRESS#")
        )
        stored = next((item for item in items if item["sk"] == "CONTACTS"), None)
        if stored is None:
            return ContactHistory(profile_id=profile_id, suppressed=suppressed)
        return ContactHistory(
            profile_id=profile_id,
            contacts=[Contact.model_validate(entry) for entry in json.loads(stored["body"])],
            suppressed=suppressed,
            version=int(stored["version"]),
        )

    def save_contact_history(self, history: ContactHistory, *, expected_version: int) -> bool:
        body = json.dumps(
            [
                contact.model_dump(mode="json", by_alias=True, exclude_defaults=True)
                for contact in history.contacts
            ],
            separators=(",", ":"),
        )
        newest = max((contact.at for contact in history.contacts), default=None)
        extra = {"expires_at": epoch(newest + LAST_CONTACT_KEPT)} if newest else {}
        # Invariant: decided on the history as stored; a concurrent send makes the writer decide again.
        return self._save_versioned(
            f"PERSON#{history.profile_id}", "CONTACTS", body, expected_version + 1, expected_version, **extra
        )

    def contact_histories(self, profile_ids: Sequence[str]) -> dict[str, ContactHistory]:
        items = self._batch_get([{"pk": f"PERSON#{p}", "sk": "CONTACTS"} for p in dict.fromkeys(profile_ids)])
        return {
            profile_id: ContactHistory(
                profile_id=profile_id,
                contacts=[Contact.model_validate(entry) for entry in json.loads(item["body"])],
                version=int(item["version"]),
            )
            for item in items
            for profile_id in [str(item["pk"]).removeprefix("PERSON#")]
        }

    # ------------------------------------------------------------ contact plans
    def contact_plan(self, plan_id: str) -> ContactPlan | None:
        def load_plan() -> ContactPlan | None:
            item = self._get("PLAN", plan_id)
            return ContactPlan.model_validate_json(item["body"]) if item else None

        return self._cached(("plan", plan_id), load_plan)

    def contact_plans(self) -> list[ContactPlan]:
        return [
            ContactPlan.model_validate_json(item["body"]) for item in self._query_all("PLAN", consistent=True)
        ]

    def save_contact_plan(self, plan: ContactPlan) -> None:
        self._put({"pk": "PLAN", "sk": plan.plan_id, "body": plan.model_dump_json()})
        self._cache.pop(("plan", plan.plan_id), None)

    def save_plan_report(self, report: PlanReport) -> None:
        self._put(
            {
                "pk": f"PLANREPORT#{report.plan_id}",
                "sk": report.period.key,
                "body": report.model_dump_json(),
                "expires_at": epoch(report.period.ends_at + PLAN_REPORT_KEPT),
            }
        )

    def plan_report(self, plan_id: str, period_key: str) -> PlanReport | None:
        item = self._get(f"PLANREPORT#{plan_id}", period_key)
        return PlanReport.model_validate_json(item["body"]) if item else None

    def remember_matches(self, matches: dict[str, str], *, now: datetime) -> int:
        """Written only when missing, for another person, or within `MATCH_RENEW` of expiring: a
        daily refresh reads them (half a unit each) and rewrites each about once a month."""
        if not matches:
            return 0
        stored = {
            str(item["pk"]).removeprefix("MATCH#"): item
            for item in self._batch_get([{"pk": f"MATCH#{h}", "sk": "MATCH"} for h in matches])
        }
        renew_before = epoch(now + MATCH_KEPT - MATCH_RENEW)
        expires = epoch(now + MATCH_KEPT)
        items: list[dict[str, Any]] = []
        for value, profile_id in sorted(matches.items()):
            found = stored.get(value)
            if (
                found
                and found.get("profile_id") == profile_id
                and int(found.get("expires_at", 0)) > renew_before
            ):
                continue
            items.append(
                {"pk": f"MATCH#{value}", "sk": "MATCH", "profile_id": profile_id, "expires_at": expires}
            )
            # the person's own copy: an erasure finds (and deletes) the hashes through it
            items.append({"pk": f"PERSON#{profile_id}", "sk": f"MATCH#{value}", "expires_at": expires})
        self._batch_put(items)
        return len(items) // 2

    def matches(self, hashes: Sequence[str], *, now: datetime) -> dict[str, str]:
        return {
            str(item["pk"]).removeprefix("MATCH#"): str(item["profile_id"])
            for item in self._batch_get([{"pk": f"MATCH#{h}", "sk": "MATCH"} for h in dict.fromkeys(hashes)])
            if int(item.get("expires_at", 0)) > epoch(now)
        }

    # ------------------------------------------------------------ deferrals and parking
    def defer(self, task: DispatchTask, until: datetime) -> None:
        self.put_due(
            "DEFER",
            until,
            _task_sk(task),
            body=task.model_dump_json(),
            expires_at=epoch(until + timedelta(days=30)),
        )

    def due_deferred(self, until: datetime, *, limit: int) -> list[tuple[str, DispatchTask]]:
        return [
            (handle, DispatchTask.model_validate_json(item["body"]))
            for handle, _, item in self.due_items("DEFER", until, limit=limit)
        ]

    def undefer(self, handle: str, task: DispatchTask) -> None:
        self.delete_due(handle)

    def park(self, task: DispatchTask) -> None:
        self._put(
            {
                "pk": f"PARKED#{task.program_id}",
                "sk": f"{task.run_key}|{task.profile_id}",
                "body": task.model_dump_json(),
            }
        )

    def parked(self, program_id: str) -> list[DispatchTask]:
        return [
            DispatchTask.model_validate_json(item["body"])
            for item in self._query_all(f"PARKED#{program_id}", consistent=True)
        ]

    def unpark(self, task: DispatchTask) -> None:
        self._delete(f"PARKED#{task.program_id}", f"{task.run_key}|{task.profile_id}")

    # ------------------------------------------------------------ consent, inbox, attribution
    def suppress(self, profile_id: str, channel: str, *, reason: str, at: datetime) -> None:
        self._put(
            {"pk": f"PERSON#{profile_id}", "sk": f"SUPPRESS#{channel}", "reason": reason, "at": iso(at)}
        )

    def add_to_inbox(self, message: OutboundMessage, *, at: datetime) -> None:
        digest = hashlib.sha256(message.idempotency_key.encode()).hexdigest()[:24]
        self._put(  # keyed by the dispatch key: delivering it again replaces it, never adds a second
            {
                "pk": f"INBOX#{message.profile_id}",
                "sk": digest,
                "at": iso(at),
                "body": message.model_dump_json(include={"title", "body", "url", "program_id"}),
                "expires_at": epoch(at + timedelta(days=90)),
            },
        )

    def inbox(self, profile_id: str, *, limit: int) -> list[dict[str, Any]]:
        items = self._query_all(f"INBOX#{profile_id}")  # 90 days of messages: a short list
        items.sort(key=lambda item: item["at"], reverse=True)
        return [{"at": item["at"], **json.loads(item["body"])} for item in items[:limit]]

    def add_conversion(self, program_id: str, record: dict[str, Any]) -> bool:
        return self._put(
            {
                "pk": f"CONV#{program_id}",
                "sk": f"{record['order_id']}|{record['profile_id']}",
                "body": json.dumps(record),
            },
            condition="attribute_not_exists(pk)",  # an order converts once per program
        )

    def conversions(self, program_id: str) -> list[dict[str, Any]]:
        return [json.loads(item["body"]) for item in self._query_all(f"CONV#{program_id}")]

    # ------------------------------------------------------------ journeys
    def journeys(self) -> list[Journey]:
        return self._cached(
            ("journeys", ""),
            lambda: [
                Journey.model_validate({**json.loads(i["body"]), "version": int(i["version"])})
                for i in self._query_all("JOURNEY", consistent=True)
            ],
        )

    def journey(self, journey_id: str) -> Journey | None:
        return next((journey for journey in self.journeys() if journey.journey_id == journey_id), None)

    def save_journey(self, journey: Journey, *, expected_version: int) -> bool:
        saved = self._save_versioned(
            "JOURNEY",
            journey.journey_id,
            journey.model_dump_json(exclude={"version"}, by_alias=True),
            journey.version,
            expected_version,
        )
        self._cache.pop(("journeys", ""), None)
        return saved

    def forget_person(self, profile_id: str) -> int:
        removed = 0
        for item in self._query_all(f"JI#{profile_id}", consistent=True):
            instance = Instance.model_validate_json(item["body"])
            self.delete_due(
                self.due_handle(
                    "JTIMER", instance.wake_at, f"{profile_id}|{instance.journey_id}|{instance.key}"
                )
            )
            self._delete(item["pk"], item["sk"])
            removed += 1
        for partition in (f"INBOX#{profile_id}", f"PERSON#{profile_id}"):
            for item in self._query_all(partition, consistent=True):
                if str(item["sk"]).startswith("MATCH#"):  # the hash a paid channel reports back
                    self._delete(str(item["sk"]), "MATCH")
                self._delete(item["pk"], item["sk"])
                removed += 1
        return removed

    @staticmethod
    def _waiting(instance: Instance) -> dict[str, Any]:
        """A waiting instance's place in the by_waiting_step index (four shards a journey)."""
        if instance.status != "waiting":
            return {}
        shard = stable_bucket("waiting", instance.profile_id, buckets=WAITING_SHARDS)
        return {"waiting_in": f"{instance.journey_id}#{shard}", "waiting_step": instance.step}

    def create_instance(self, instance: Instance) -> bool:
        return self._save_versioned(
            f"JI#{instance.profile_id}",
            f"{instance.journey_id}|{instance.key}",
            instance.model_dump_json(exclude={"version"}),
            instance.version,
            0,
            **self._waiting(instance),
        )

    def instance(self, profile_id: str, journey_id: str, key: str) -> Instance | None:
        item = self._get(f"JI#{profile_id}", f"{journey_id}|{key}")
        return (
            Instance.model_validate({**json.loads(item["body"]), "version": int(item["version"])})
            if item
            else None
        )

    def instances(self, profile_id: str) -> list[Instance]:
        return [
            Instance.model_validate({**json.loads(i["body"]), "version": int(i["version"])})
            for i in self._query_all(f"JI#{profile_id}", consistent=True)
        ]

    def save_instance(self, instance: Instance, *, expected_version: int) -> bool:
        return self._save_versioned(
            f"JI#{instance.profile_id}",
            f"{instance.journey_id}|{instance.key}",
            instance.model_dump_json(exclude={"version"}),
            instance.version,
            expected_version,
            **self._waiting(instance),
        )

    def waiting_at(self, journey_id: str, step: int) -> int:
        """How many customers wait at a journey's step: a Query COUNT per shard of the index."""
        total = 0
        for shard in range(WAITING_SHARDS):
            kwargs: dict[str, Any] = {
                "IndexName": "by_waiting_step",
                "KeyConditionExpression": "waiting_in = :j AND waiting_step = :s",
                "ExpressionAttributeValues": dump({":j": f"{journey_id}#{shard}", ":s": step}),
                "Select": "COUNT",
            }
            while True:
                response = self._call("query", **kwargs)
                total += int(response.get("Count", 0))
                if not response.get("LastEvaluatedKey"):
                    break
                kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return total

    def set_timer(self, instance: Instance) -> None:
        self.put_due(
            "JTIMER",
            instance.wake_at,
            f"{instance.profile_id}|{instance.journey_id}|{instance.key}",
            expires_at=epoch(instance.wake_at + timedelta(days=30)),
        )

    def due_timers(self, until: datetime, *, limit: int) -> list[tuple[str, str, str, str]]:
        found = []
        for handle, item_id, _ in self.due_items("JTIMER", until, limit=limit):
            profile_id, journey_id, instance_key = item_id.split("|", 2)
            found.append((handle, profile_id, journey_id, instance_key))
        return found

    def clear_timer(self, handle: str, profile_id: str, journey_id: str, key: str) -> None:
        self.delete_due(handle)

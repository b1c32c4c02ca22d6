"""Activity counters and the queue monitor's latest reading, in the touchpoints table.

| entity         | pk                  | sk                 | notes                                         |
|----------------|---------------------|--------------------|-----------------------------------------------|
| hour's tally   | ACTIVITY#<shard 0-3>| <YYYY-MM-DDTHH>    | `t_<channel>`, `profiles`, `merges`; 35 days |
| queue snapshot | OPERATIONS          | QUEUES             | body = the monitor's last reading             |

(`kind` is `activity` and `queue_snapshot`, as every item of the table names its kind.)

A batch's tally is one UpdateItem of ADDs on a random shard's item for the hour: four shards keep
the hour's counters off one hot partition (each takes about 1,000 writes a second, and a write
counts a whole batch). Reading a window is one Query per shard.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import UTC, datetime, timedelta

from shared.adapters.dynamo.low_level import LowLevelTable, dump, epoch
from shared.domain.kernel.activity import HourlyActivity, QueueSnapshot

SHARDS = 4
KEPT = timedelta(days=35)
_HOUR_FORMAT = "%Y-%m-%dT%H"
_chooser = random.Random()  # noqa: S311 - spreading writes, not a secret


class DynamoActivityLog(LowLevelTable):
    """Implements ActivityLog."""

    name = "touchpoints"

    def record(self, activity: HourlyActivity) -> None:
        if activity.empty:
            return
        names: dict[str, str] = {"#x": "expires_at", "#k": "kind"}
        values: dict[str, int | str] = {":x": epoch(activity.hour + KEPT), ":k": "activity"}
        adds = []
        counts = {f"t_{channel}": n for channel, n in activity.touchpoints.items() if n}
        counts |= {"profiles": activity.profiles_created, "merges": activity.merges}
        for index, (attribute, count) in enumerate(sorted(counts.items())):
            if count:
                names[f"#a{index}"] = attribute
                values[f":a{index}"] = count
                adds.append(f"#a{index} :a{index}")
        self._call(
            "update_item",
            Key=dump(
                {
                    "pk": f"ACTIVITY#{_chooser.randrange(SHARDS)}",
                    "sk": activity.hour.astimezone(UTC).strftime(_HOUR_FORMAT),
                }
            ),
            UpdateExpression="SET #x = :x, #k = :k ADD " + ", ".join(adds),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=dump(values),
        )

    def hours(self, start: datetime, end: datetime) -> list[HourlyActivity]:
        first = start.astimezone(UTC).strftime(_HOUR_FORMAT)
        last = (end - timedelta(hours=1)).astimezone(UTC).strftime(_HOUR_FORMAT)
        by_hour: dict[str, HourlyActivity] = {}
        for shard in range(SHARDS):
            for item in self._query_all(f"ACTIVITY#{shard}", start=first, end=last):
                hour = by_hour.setdefault(
                    item["sk"],
                    HourlyActivity(hour=datetime.strptime(item["sk"], _HOUR_FORMAT).replace(tzinfo=UTC)),
                )
                hour.add(
                    HourlyActivity(
                        hour=hour.hour,
                        touchpoints=Counter(
                            {key[2:]: int(value) for key, value in item.items() if key.startswith("t_")}
                        ),
                        profiles_created=int(item.get("profiles", 0)),
                        merges=int(item.get("merges", 0)),
                    )
                )
        return [by_hour[key] for key in sorted(by_hour)]

    def save_queue_snapshot(self, snapshot: QueueSnapshot) -> None:
        body = {"observed_at": snapshot.observed_at.isoformat(), "queues": snapshot.queues}
        self._put(
            {
                "pk": "OPERATIONS",
                "sk": "QUEUES",
                "kind": "queue_snapshot",
                "body": json.dumps(body, separators=(",", ":")),
            }
        )

    def queue_snapshot(self) -> QueueSnapshot | None:
        item = self._get("OPERATIONS", "QUEUES", consistent=False)
        if item is None:
            return None
        body = json.loads(item["body"])
        return QueueSnapshot(observed_at=datetime.fromisoformat(body["observed_at"]), queues=body["queues"])

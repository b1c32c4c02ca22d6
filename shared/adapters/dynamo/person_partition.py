"""A person's partition in the customers table (`PROFILE#<profile_id>`) and the items elsewhere
in the table that it points to, found by reading raw items.

Raw, because the partition holds items of several capabilities (profile, merge log, segment
state, loyalty account, ledger, coupon index) and a function that erases a person loads only the
customers capability: a typed query would meet item kinds it never imported. The layout of the
items it follows is loyalty's (docs/data.md): the member's coupons' code items, their referral
code, and their places in the expiry, tier-review and birthday schedules.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from shared.adapters.aws_clients import client as aws_client
from shared.domain.kernel.errors import DependencyUnavailableError

SCHEDULE_SHARDS = 16  # a month's first orders spread their schedule writes over 16 partitions


def shard_of(profile_id: str) -> int:
    return int(hashlib.sha256(profile_id.encode()).hexdigest()[:8], 16) % SCHEDULE_SHARDS


def pointed_to(profile_id: str, item: dict[str, Any]) -> list[tuple[str, str]]:
    """The keys outside the partition that one raw partition item names."""
    kind = item.get("kind", {}).get("S")
    body = item.get("body", {}).get("S")
    if not body:
        return []
    if kind == "member_coupon":
        return [(f"COUPON#{json.loads(body)['coupon']['code']}", "COUPON")]
    if kind != "loyalty_account":
        return []
    account = json.loads(body)
    keys = []
    if account.get("referral_code"):
        keys.append((f"REFERRAL#{account['referral_code']}", "REFERRAL"))
    buckets = [("EXPIRY", lot) for lot in account.get("lots") or {}]
    if account.get("review_month"):
        buckets.append(("TIERREVIEW", account["review_month"]))
    if account.get("birthday"):
        buckets.append(("BIRTHDAY", account["birthday"]))
    shard = shard_of(profile_id)
    return keys + [(f"{kind_}#{bucket}#{shard}", profile_id) for kind_, bucket in buckets]


def person_partition_keys(table_name: str, profile_id: str, *, client: Any = None) -> list[tuple[str, str]]:
    """The keys of the partition's items and of what they point to (those first), read raw."""
    dynamodb = client or aws_client("dynamodb")
    keys: list[tuple[str, str]] = []
    pointed: list[tuple[str, str]] = []
    try:
        pages = dynamodb.get_paginator("query").paginate(
            TableName=table_name,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": f"PROFILE#{profile_id}"}},
            ConsistentRead=True,
        )
        for page in pages:
            for item in page.get("Items", []):
                keys.append((item["pk"]["S"], item["sk"]["S"]))
                pointed += pointed_to(profile_id, item)
    except (BotoCoreError, ClientError) as error:
        raise DependencyUnavailableError("The customers table did not answer") from error
    return list(dict.fromkeys([*pointed, *keys]))

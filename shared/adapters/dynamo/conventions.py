"""PynamoDB conventions shared by every table model.

- One table per bounded context, single-table design inside it: string keys `pk` and `sk`,
  upper-case entity prefixes (`TOUCHPOINT#<id>`), a `kind` discriminator, `expires_at` as TTL.
- Physical table names come from template.yaml through Settings, so models are bound at run
  time with `bind_table` rather than by a name fixed at import.
- Creates state their invariant with a condition; `is_condition_failure` turns the SDK's
  error into a yes/no the repository maps to a domain outcome.
- Expired items are filtered by the code: TTL deletion lags.
"""

from __future__ import annotations

from typing import Any

from pynamodb.exceptions import PynamoDBException
from pynamodb.models import Model


def bind_table(model: type[Model], table_name: str) -> None:
    """Point `model` (and its discriminated subclasses) at `table_name`."""
    model.Meta.table_name = table_name
    pending: list[type[Any]] = [model]
    while pending:
        cls = pending.pop()
        cls._connection = None
        pending.extend(cls.__subclasses__())


def is_condition_failure(error: PynamoDBException) -> bool:
    return error.cause_response_code in {"ConditionalCheckFailedException", "TransactionCanceledException"}

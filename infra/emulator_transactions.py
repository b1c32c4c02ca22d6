"""DynamoDB transactions in the emulator at the cost of the items they touch.

moto's `transact_write_items` deep-copies every table a transaction names before it starts, so
it can swap the copies back if one action fails. Each transaction then costs time and memory in
proportion to all the data in those tables: a local stack that had taken a few thousand
touchpoints spent seconds per transaction and grew by gigabytes. The replacement keeps an undo
log instead, the prior state of each item an action is about to change, and puts those back on
failure. What a transaction means is unchanged: the actions are checked and applied in order,
all or none, with the same errors and cancellation reasons as moto's own.

`install()` replaces the method on moto's DynamoDB backend class, once per process; every backend
(the served emulator and `mock_aws` in tests and the bench) then uses it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    ConditionalCheckFailed,
    MockValidationException,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import Table

MAX_ACTIONS = 100
# moto's own method, kept so a test can compare the two on the same transactions.
snapshot_transact_write_items = DynamoDBBackend.transact_write_items
_ACTIONS = frozenset({"ConditionCheck", "Put", "Delete", "Update"})


@dataclass
class _PriorItem:
    """An item as it was before a transaction's action changed it (`item` None: it did not exist)."""

    table: Table
    hash_value: DynamoType
    range_value: DynamoType | None
    item: Item | None

    def restore(self) -> None:
        # Straight into the table's storage: a rollback is not a change anyone may observe.
        if self.range_value is not None:
            if self.item is None:
                self.table.items[self.hash_value].pop(self.range_value, None)
            else:
                self.table.items[self.hash_value][self.range_value] = self.item
        elif self.item is None:
            self.table.items.pop(self.hash_value, None)
        else:
            self.table.items[self.hash_value] = self.item  # type: ignore[assignment]  # moto types the hash-only map as its range map


def _key_of(table: Table, op_type: str, op: dict[str, Any]) -> dict[str, Any]:
    if op_type != "Put":
        return dict(op["Key"])
    attrs = op["Item"]
    key = {table.hash_key_attr: attrs[table.hash_key_attr]}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = attrs[table.range_key_attr]
    return key


def _remember(table: Table, key: dict[str, Any]) -> _PriorItem:
    hash_value = DynamoType(key[table.hash_key_attr])
    range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr is not None else None
    current = table.get_item(hash_value, range_value)
    # An update changes the stored item in place, so the log keeps a copy of that one item.
    return _PriorItem(table, hash_value, range_value, copy.deepcopy(current))


def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    if len(transact_items) > MAX_ACTIONS:
        raise TooManyTransactionsException()
    undo_log: list[_PriorItem] = []
    targets: set[tuple[str, str]] = set()

    def roll_back() -> None:
        for prior in reversed(undo_log):
            prior.restore()

    errors: list[tuple[str | None, str | None, dict[str, Any] | None]] = []
    for action in transact_items:
        if len(action) > 1:
            roll_back()
            raise TransactWriteSingleOpException
        old_image: dict[str, Any] | None = None
        try:
            op_type, op = next(iter(action.items()))
            if op_type not in _ACTIONS:
                raise ValueError("Unsupported transaction operation")
            table_name = op["TableName"]
            table = self.get_table(table_name)
            key = _key_of(table, op_type, op)
            target = (str(table_name), str(dict(sorted(key.items()))))
            if target in targets:
                raise MultipleTransactionsException()
            targets.add(target)

            names = op.get("ExpressionAttributeNames")
            values = op.get("ExpressionAttributeValues")
            condition = op.get("ConditionExpression")
            current = self.get_item(table_name, key)
            if condition is not None and not get_filter_expression(condition, names, values).expr(current):
                if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                    old_image = current.to_json()["Attributes"]
                raise ConditionalCheckFailed(item=old_image)

            if op_type != "ConditionCheck":
                undo_log.append(_remember(table, key))
            if op_type == "Put":
                self.put_item(
                    table_name,
                    op["Item"],
                    condition_expression=condition,
                    expression_attribute_names=names,
                    expression_attribute_values=values,
                )
            elif op_type == "Delete":
                self.delete_item(
                    table_name,
                    key,
                    condition_expression=condition,
                    expression_attribute_names=names,
                    expression_attribute_values=values,
                )
            elif op_type == "Update":
                self.update_item(
                    table_name,
                    key,
                    update_expression=op["UpdateExpression"],
                    condition_expression=condition,
                    expression_attribute_names=names,
                    expression_attribute_values=values,
                )
            errors.append((None, None, None))
        except (MultipleTransactionsException, MockValidationException):
            roll_back()
            raise
        except ConditionalCheckFailed as failed:
            errors.append(("ConditionalCheckFailed", str(failed.message), old_image))
        except Exception as failed:
            errors.append((type(failed).__name__, str(failed), old_image))

    if any(code is not None for code, _, _ in errors):
        roll_back()
        raise TransactionCanceledException(errors)


def install() -> None:
    if DynamoDBBackend.transact_write_items is not transact_write_items:
        DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]

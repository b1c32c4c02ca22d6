"""What the local stack keeps across a restart, in its data directory.

On a clean stop the stack writes `state.pickle` (atomically: a new file renamed over the old):
every item of every table the template declares, the messages on every queue (with their
receive counts and visibility), the emulator's KMS keys (the sealed signing secrets of sources
and channels stay readable), the clock's offset and the secret unsubscribe links are sealed
with. On the next start the template is deployed afresh and that data is put back into the
resources of the same logical id, so a changed port, key or template still starts; a table
whose key schema changed starts empty (and says so). Exported files (S3) are not kept.

moto has no persistence of its own; this reads and writes its backends' objects directly, while
holding the emulator's lock, so what is saved is one consistent moment.
"""

from __future__ import annotations

import copy
import os
import pickle
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from infra.emulator import EMULATOR_LOCK, DeployedStack
from infra.template import resources_of

ACCOUNT = "123456789012"
STATE_FILE = "state.pickle"
FORMAT = 1


@dataclass
class SavedState:
    saved_at: str
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)  # logical id -> key schema, items
    queues: dict[str, bytes] = field(default_factory=dict)  # logical id -> moto's messages, pickled
    kms_keys: dict[str, bytes] = field(default_factory=dict)  # key id -> key material
    clock_offset_seconds: float = 0.0
    link_signing_secret: str = ""
    format: int = FORMAT


def _backends(region: str) -> tuple[Any, Any, Any]:
    from moto.dynamodb.models import dynamodb_backends
    from moto.kms.models import kms_backends
    from moto.sqs.models import sqs_backends

    return dynamodb_backends[ACCOUNT][region], sqs_backends[ACCOUNT][region], kms_backends[ACCOUNT][region]


def _queue_name(physical_id: str) -> str:
    return physical_id.rsplit("/", 1)[-1]


def _key_schema(table: Any) -> list[tuple[str, str]]:
    return sorted((str(k["AttributeName"]), str(k["KeyType"])) for k in table.schema)


def _frozen(value: Any) -> bytes:
    """A copy of the moment (taken under the lock; the rest of the save runs without it)."""
    return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


def capture(
    template: dict[str, Any],
    stack: DeployedStack,
    *,
    region: str,
    clock_offset_seconds: float,
    link_signing_secret: str,
) -> SavedState:
    dynamodb, sqs, kms = _backends(region)
    state = SavedState(
        saved_at=datetime.now(UTC).isoformat(),
        clock_offset_seconds=clock_offset_seconds,
        link_signing_secret=link_signing_secret,
    )
    with EMULATOR_LOCK:
        for logical_id in resources_of(template, "AWS::DynamoDB::Table"):
            table = dynamodb.tables.get(stack.resources.get(logical_id, ""))
            if table is not None:
                state.tables[logical_id] = {"schema": _key_schema(table), "items": _frozen(table.items)}
        for logical_id in resources_of(template, "AWS::SQS::Queue"):
            queue = sqs.queues.get(_queue_name(stack.resources.get(logical_id, "")))
            if queue is not None:
                state.queues[logical_id] = _frozen(list(queue._messages))
        state.kms_keys = {key_id: bytes(key.key_material) for key_id, key in kms.keys.items()}
    return state


def write(state: SavedState, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / STATE_FILE
    partial = path.with_suffix(".partial")
    with partial.open("wb") as file:
        pickle.dump(state, file, protocol=pickle.HIGHEST_PROTOCOL)
        file.flush()
        os.fsync(file.fileno())
    partial.replace(path)
    return path


def read(directory: Path) -> SavedState | None:
    """The saved state, or None (none saved, or saved by an incompatible version: reported by
    the caller as a fresh start)."""
    path = directory / STATE_FILE
    if not path.exists():
        return None
    with path.open("rb") as file:
        state = pickle.load(file)  # noqa: S301 - the stack's own file, in the developer's checkout
    return state if isinstance(state, SavedState) and state.format == FORMAT else None


def restore(state: SavedState, stack: DeployedStack, *, region: str) -> dict[str, Any]:
    """Put the saved data into the freshly deployed stack (same logical ids)."""
    dynamodb, sqs, kms = _backends(region)
    restored: dict[str, Any] = {"items": 0, "messages": 0, "tables_skipped": []}
    with EMULATOR_LOCK:
        for logical_id, saved in state.tables.items():
            table = dynamodb.tables.get(stack.resources.get(logical_id, ""))
            if table is None or _key_schema(table) != saved["schema"]:
                restored["tables_skipped"].append(logical_id)
                continue
            table.items = pickle.loads(saved["items"])  # noqa: S301 - written by capture()
            restored["items"] += sum(
                len(value) if table.range_key_attr else 1 for value in table.items.values()
            )
        for logical_id, messages in state.queues.items():
            queue = sqs.queues.get(_queue_name(stack.resources.get(logical_id, "")))
            if queue is None:
                continue
            saved_messages = pickle.loads(messages)  # noqa: S301 - written by capture()
            queue._messages = saved_messages + list(queue._messages)
            restored["messages"] += len(saved_messages)
        template_key = next(iter(kms.keys.values()), None)
        for key_id, material in state.kms_keys.items():
            if key_id in kms.keys or template_key is None:
                continue
            kept = copy.copy(template_key)
            kept.id, kept.key_material = key_id, material
            kept.arn = template_key.arn.rsplit("/", 1)[0] + f"/{key_id}"
            kept.grants, kept.aliases = {}, {}
            kms.keys[key_id] = kept
    return restored

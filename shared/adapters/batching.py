"""Chunking for AWS batch APIs: at most `max_entries` per call and `max_bytes` per call."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

T = TypeVar("T")


def chunks(items: Sequence[tuple[T, int]], *, max_entries: int, max_bytes: int) -> Iterator[list[T]]:
    """`items` are (entry, size in bytes). An entry larger than max_bytes goes alone (the API rejects it)."""
    chunk: list[T] = []
    size = 0
    for entry, entry_size in items:
        if chunk and (len(chunk) == max_entries or size + entry_size > max_bytes):
            yield chunk
            chunk, size = [], 0
        chunk.append(entry)
        size += entry_size
    if chunk:
        yield chunk

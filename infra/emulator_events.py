"""EventBridge in the emulator without rebuilding a parser per event.

Upstream (moto 5): a rule target with an input transformer parses each of its JSONPath
expressions for every event it delivers, and `jsonpath_ng.ext.parse` builds a new parser (its
PLY grammar tables) on each call: about 5 ms per expression, which made publishing a touchpoint's
events the largest cost of folding it. The expressions of a stack's rules are few and fixed, so
the parsed expression is kept per text; a parsed expression is not changed by `find`.

`install()` replaces `jsonpath_ng.ext.parse`, which moto imports when it delivers an event.
"""

from __future__ import annotations

import functools
from typing import Any

import jsonpath_ng.ext

upstream_parse = jsonpath_ng.ext.parse  # type: ignore[attr-defined]


@functools.lru_cache(maxsize=1024)
def parse_once(expression: str) -> Any:
    return upstream_parse(expression)


def install() -> None:
    jsonpath_ng.ext.parse = parse_once  # type: ignore[attr-defined]

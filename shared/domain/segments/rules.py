"""The segment rule language: declarative JSON over profile fields, scores, stage, tier,
consent and behaviour in a window, validated on save with errors that name the path.

    {"all": [rule, ...]}  {"any": [rule, ...]}  {"not": rule}
    {"field": "orders", "op": "gte", "value": 2}          ops: eq ne gt gte lt lte in not_in
                                                           exists not_exists contains
    {"did": {"event": "Product Viewed", "sku": "TEA-01", "within_days": 7}}
    {"bought": {"sku": "TEA-01", "within_days": 30}}   {"bought": {"channels": ["pos"]}}
    {"consent": {"channel": "email", "purpose": "marketing"}}
    {"birthday": "this_month" | "today" | "next_7_days"}   (in the customer's timezone)
    {"bought_in_months": [3, 4, 5]}                         (any year: spring shoppers)

Evaluation also says when time alone may change the answer (`changes_at`), so membership that
depends on a window is re-checked then, not only when something happens.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.domain.customers.profiles import Profile, consent_key
from shared.domain.ingest.touchpoints import Channel, ConsentStatus
from shared.domain.kernel.errors import InvalidInputError
from shared.domain.segments.classification import Classification

MAX_RULE_NODES = 100
Op = Literal["eq", "ne", "gt", "gte", "lt", "lte", "in", "not_in", "exists", "not_exists", "contains"]
_PROFILE_FIELDS = {
    "orders",
    "revenue",
    "average_order_value",
    "currency",
    "refunds",
    "refunded",
    "discounted_orders",
    "purchase_interval_days",
    "preferred_channel",
    "best_hour_utc",
    "advocacy",
    "birthday",
    "timezone",
    "locale",
    "home_store",
}
_CLASS_FIELDS = {
    "stage",
    "tier",
    "price_sensitivity",
    "scores.r",
    "scores.f",
    "scores.m",
    "scores.c",
    "scores.l",
}
_DAY_FIELDS = {
    "days_since_last_purchase",
    "days_since_first_purchase",
    "days_since_first_seen",
    "days_since_last_seen",
}
_MAP_FIELD = re.compile(
    r"^(traits|purchases_by_channel|touches_by_channel|identifiers)\.[A-Za-z0-9_:\-. ]{1,100}$"
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Compare(_Strict):
    field: str = Field(min_length=1, max_length=120)
    op: Op
    value: Any = None


class DidSpec(_Strict):
    event: str = Field(min_length=1, max_length=100)
    sku: str | None = Field(default=None, min_length=1, max_length=100)
    within_days: int | None = Field(default=None, ge=1, le=3650)


class BoughtSpec(_Strict):
    sku: str | None = Field(default=None, min_length=1, max_length=100)
    within_days: int | None = Field(default=None, ge=1, le=3650)
    channels: list[Channel] | None = Field(default=None, min_length=1)


class ConsentSpec(_Strict):
    channel: Channel
    purpose: str = Field(default="marketing", pattern=r"^[a-z][a-z0-9_]{0,39}$")


@dataclass(frozen=True)
class All:
    rules: tuple[Rule, ...]


@dataclass(frozen=True)
class AnyOf:
    rules: tuple[Rule, ...]


@dataclass(frozen=True)
class Not:
    rule: Rule


@dataclass(frozen=True)
class Did:
    spec: DidSpec


@dataclass(frozen=True)
class Bought:
    spec: BoughtSpec


@dataclass(frozen=True)
class Consent:
    spec: ConsentSpec


@dataclass(frozen=True)
class Birthday:
    when: Literal["today", "this_month", "next_7_days"]


@dataclass(frozen=True)
class BoughtInMonths:
    months: frozenset[int]


Rule = All | AnyOf | Not | Compare | Did | Bought | Consent | Birthday | BoughtInMonths
_KINDS = ("all", "any", "not", "field", "did", "bought", "consent", "birthday", "bought_in_months")


class _Problems:
    def __init__(self) -> None:
        self.items: list[dict[str, str]] = []
        self.nodes = 0

    def add(self, path: str, message: str) -> None:
        self.items.append({"path": path or "$", "message": message})


def parse_rule(raw: Any) -> Rule:
    """The rule, or InvalidInputError listing every problem with its path (`all.0.did.event`)."""
    problems = _Problems()
    rule = _parse(raw, "", problems)
    if problems.nodes > MAX_RULE_NODES:
        problems.add("", f"a rule has at most {MAX_RULE_NODES} conditions")
    if problems.items or rule is None:
        raise InvalidInputError("The segment rule is not valid", details=problems.items)
    return rule


def _join(path: str, part: str | int) -> str:
    return f"{path}.{part}" if path else str(part)


def _parse(raw: Any, path: str, problems: _Problems) -> Rule | None:
    problems.nodes += 1
    if not isinstance(raw, dict):
        problems.add(path, f"a rule is an object with one of: {', '.join(_KINDS)}")
        return None
    kinds = [kind for kind in _KINDS if kind in raw]
    if len(kinds) != 1 or (kinds != ["field"] and len(raw) != 1):
        problems.add(path, f"a rule has exactly one of: {', '.join(_KINDS)} (got {sorted(raw)})")
        return None
    kind = kinds[0]
    value = raw[kind]
    if kind in ("all", "any"):
        if not isinstance(value, list) or not value:
            problems.add(_join(path, kind), "a non-empty list of rules")
            return None
        parsed = [_parse(item, _join(_join(path, kind), i), problems) for i, item in enumerate(value)]
        rules = tuple(rule for rule in parsed if rule is not None)
        return All(rules) if kind == "all" else AnyOf(rules)
    if kind == "not":
        inner = _parse(value, _join(path, "not"), problems)
        return None if inner is None else Not(inner)
    if kind == "field":
        compare = _model(Compare, raw, path, problems)
        if compare is not None:
            _check_compare(compare, path, problems)
        return compare
    if kind == "did":
        did = _model(DidSpec, value, _join(path, kind), problems)
        return None if did is None else Did(did)
    if kind == "bought":
        bought = _model(BoughtSpec, value, _join(path, kind), problems)
        if bought is not None and bought.channels and (bought.within_days or bought.sku):
            problems.add(_join(path, kind), "channels can't be combined with sku or within_days")
        return None if bought is None else Bought(bought)
    if kind == "consent":
        consent = _model(ConsentSpec, value, _join(path, kind), problems)
        return None if consent is None else Consent(consent)
    if kind == "birthday":
        if value not in ("today", "this_month", "next_7_days"):
            problems.add(_join(path, kind), "one of: today, this_month, next_7_days")
            return None
        return Birthday(value)
    months = value if isinstance(value, list) else None
    if not months or not all(isinstance(m, int) and not isinstance(m, bool) and 1 <= m <= 12 for m in months):
        problems.add(_join(path, kind), "a non-empty list of months 1 to 12")
        return None
    return BoughtInMonths(frozenset(months))


M = TypeVar("M", bound=BaseModel)


def _model(model: type[M], raw: Any, path: str, problems: _Problems) -> M | None:
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        for issue in error.errors(include_url=False, include_input=False):
            problems.add(_join(path, ".".join(str(p) for p in issue["loc"])), issue["msg"])
        return None


def _check_compare(compare: Compare, path: str, problems: _Problems) -> None:
    name = compare.field
    if not (
        name in _PROFILE_FIELDS or name in _CLASS_FIELDS or name in _DAY_FIELDS or _MAP_FIELD.match(name)
    ):
        problems.add(
            _join(path, "field"),
            "unknown field; use a profile field ("
            + ", ".join(sorted(_PROFILE_FIELDS))
            + "), traits.<name>, purchases_by_channel.<channel>, touches_by_channel.<channel>, "
            "identifiers.<type>, stage, tier, price_sensitivity, scores.<r|f|m|c|l> or "
            "days_since_<last_purchase|first_purchase|first_seen|last_seen>",
        )
    if compare.op in ("in", "not_in") and not isinstance(compare.value, list):
        problems.add(_join(path, "value"), f"{compare.op} needs a list")
    if compare.op in ("gt", "gte", "lt", "lte") and (
        isinstance(compare.value, bool) or not isinstance(compare.value, int | float | str)
    ):
        problems.add(_join(path, "value"), f"{compare.op} needs a number or a text")
    if compare.op in ("exists", "not_exists") and compare.value is not None:
        problems.add(_join(path, "value"), f"{compare.op} takes no value")


# --------------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class Subject:
    profile: Profile
    classification: Classification


@dataclass(frozen=True)
class Verdict:
    matched: bool
    changes_at: datetime | None  # the answer may change by itself at this time


def _earliest(*moments: datetime | None) -> datetime | None:
    present = [m for m in moments if m is not None]
    return min(present) if present else None


def evaluate(rule: Rule, subject: Subject, now: datetime) -> Verdict:
    if isinstance(rule, All | AnyOf):
        verdicts = [evaluate(inner, subject, now) for inner in rule.rules]
        matched = (
            all(v.matched for v in verdicts) if isinstance(rule, All) else any(v.matched for v in verdicts)
        )
        return Verdict(matched, _earliest(*(v.changes_at for v in verdicts)))
    if isinstance(rule, Not):
        inner = evaluate(rule.rule, subject, now)
        return Verdict(not inner.matched, inner.changes_at)
    if isinstance(rule, Compare):
        return _compare(rule, subject, now)
    if isinstance(rule, Did):
        key = f"{rule.spec.event}|{rule.spec.sku}" if rule.spec.sku else rule.spec.event
        last = subject.profile.last_did.get(key)
        return _within(
            None if last is None else datetime.fromtimestamp(last, UTC), rule.spec.within_days, now
        )
    if isinstance(rule, Bought):
        return _bought(rule.spec, subject.profile, now)
    if isinstance(rule, Consent):
        state = subject.profile.consent.get(consent_key(rule.spec.channel.value, rule.spec.purpose))
        return Verdict(state is not None and state.status is ConsentStatus.GRANTED, None)
    if isinstance(rule, Birthday):
        return _birthday(rule.when, subject.profile, now)
    months = subject.profile.purchases_by_month
    return Verdict(any(months[m - 1] > 0 for m in rule.months), None)


def _within(last: datetime | None, days: int | None, now: datetime) -> Verdict:
    if last is None:
        return Verdict(False, None)
    if days is None:
        return Verdict(True, None)
    until = last + timedelta(days=days)
    return Verdict(now < until, until if until > now else None)


def _bought(spec: BoughtSpec, profile: Profile, now: datetime) -> Verdict:
    if spec.channels:
        return Verdict(any(profile.purchases_by_channel.get(c.value, 0) > 0 for c in spec.channels), None)
    if spec.sku:
        at = profile.last_bought.get(spec.sku)
        return _within(None if at is None else datetime.fromtimestamp(at, UTC), spec.within_days, now)
    return _within(profile.last_purchase_at if profile.orders > 0 else None, spec.within_days, now)


def zone_named(name: Any, fallback: str = "UTC") -> ZoneInfo:
    """The IANA zone `name`, or `fallback` when it is missing or unknown."""
    try:
        return ZoneInfo(name) if isinstance(name, str) and name else ZoneInfo(fallback)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(fallback)


def _zone(profile: Profile) -> ZoneInfo:
    return zone_named(profile.trait("timezone"))


def birthday_month_day(raw: Any) -> tuple[int, int] | None:
    """(month, day) from `YYYY-MM-DD`, `MM-DD` or an ISO datetime."""
    if not isinstance(raw, str):
        return None
    match = re.match(r"^(?:\d{4}-)?(\d{2})-(\d{2})", raw.strip())
    if not match:
        return None
    month, day = int(match.group(1)), int(match.group(2))
    return (month, day) if 1 <= month <= 12 and 1 <= day <= 31 else None


def _birthday(when: str, profile: Profile, now: datetime) -> Verdict:
    birthday = birthday_month_day(profile.trait("birthday"))
    zone = _zone(profile)
    local = now.astimezone(zone)
    tomorrow = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), zone)
    if when == "this_month":
        next_month = date(local.year + local.month // 12, local.month % 12 + 1, 1)
        changes = datetime.combine(next_month, datetime.min.time(), zone)
        return Verdict(birthday is not None and birthday[0] == local.month, changes.astimezone(UTC))
    if birthday is None:
        return Verdict(False, tomorrow.astimezone(UTC))
    days = range(1) if when == "today" else range(7)
    coming = {
        ((local.date() + timedelta(days=d)).month, (local.date() + timedelta(days=d)).day) for d in days
    }
    return Verdict(birthday in coming, tomorrow.astimezone(UTC))


def _field_value(name: str, subject: Subject, now: datetime) -> tuple[Any, datetime | None]:
    """The field's value, and for a day count the moment it was zero (its base)."""
    profile, classification = subject.profile, subject.classification
    if name in _DAY_FIELDS:
        base = {
            "days_since_last_purchase": profile.last_purchase_at,
            "days_since_first_purchase": profile.first_purchase_at,
            "days_since_first_seen": profile.created_at,
            "days_since_last_seen": profile.last_seen_at,
        }[name]
        return (None if base is None else (now - base).total_seconds() / 86400), base
    if name.startswith("scores."):
        return getattr(classification.scores, name.removeprefix("scores.")), None
    if name in ("stage", "tier", "price_sensitivity"):
        return getattr(classification, name).value, None
    prefix, _, key = name.partition(".")
    if prefix == "traits" and key:
        trait = profile.traits.get(key)
        return (None if trait is None else trait.value), None
    if prefix in ("purchases_by_channel", "touches_by_channel") and key:
        return getattr(profile, prefix).get(key, 0), None
    if prefix == "identifiers" and key:
        values = [i.value for i in profile.identifiers if i.type.value == key]
        return (values or None), None
    view = profile.view()
    return view.get(name), None


_NUMERIC: dict[str, Callable[[float, float], bool]] = {
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
}


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _compare(rule: Compare, subject: Subject, now: datetime) -> Verdict:
    value, base = _field_value(rule.field, subject, now)
    changes = None
    if base is not None and rule.op in ("gt", "gte", "lt", "lte", "eq", "ne"):
        threshold = _number(rule.value)
        if threshold is not None:  # a day count crosses the threshold at base + threshold days
            candidates = [base + timedelta(days=threshold), base + timedelta(days=math.floor(threshold) + 1)]
            changes = _earliest(*(c for c in candidates if c > now))
    op = rule.op
    if op == "exists":
        return Verdict(value not in (None, "", []), changes)
    if op == "not_exists":
        return Verdict(value in (None, "", []), changes)
    if op in _NUMERIC:
        left, right = _number(value), _number(rule.value)
        if left is not None and right is not None:
            return Verdict(_NUMERIC[op](left, right), changes)
        if isinstance(value, str) and isinstance(rule.value, str):
            return Verdict(_NUMERIC[op](value, rule.value), changes)  # type: ignore[arg-type]
        return Verdict(False, changes)
    if rule.field in _DAY_FIELDS and isinstance(value, float):
        value = math.floor(value)
    if op == "eq":
        return Verdict(_same(value, rule.value), changes)
    if op == "ne":
        return Verdict(not _same(value, rule.value), changes)
    if op in ("in", "not_in"):
        found = any(_same(value, option) for option in rule.value)
        return Verdict(found if op == "in" else not found, changes)
    # contains: text contains text, or a list contains the value
    if isinstance(value, str) and isinstance(rule.value, str):
        return Verdict(rule.value.lower() in value.lower(), changes)
    if isinstance(value, list):
        return Verdict(any(_same(item, rule.value) for item in value), changes)
    return Verdict(False, changes)


def _same(left: Any, right: Any) -> bool:
    """Equal as numbers when both read as numbers (a trait "3" equals 3), else as values."""
    a, b = _number(left), _number(right)
    if a is not None and b is not None:
        return a == b
    return bool(left == right)

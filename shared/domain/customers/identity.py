"""Deterministic identity resolution with merge protection.

The graph: an identity record per (type, normalised value), keyed by its SHA-256 so no raw PII
sits in a key, pointing at a profile; the profile lists its identifiers. For each touchpoint:

- junk values (the blocklist) and quarantined shared devices never link anyone;
- 0 matching profiles → a new profile; 1 → attach; ≥ 2 → merge into the oldest;
- a link that would break a rule (more identifiers of a type than its limit — so two different
  `user_id`s never meet —, two profiles an operator separated, a merge too large for one
  transaction) drops the touchpoint's lowest-priority identifier and resolves again, as Segment
  Unify does; the touchpoint still lands on the profile its remaining identifiers name;
- a device or anonymous id seen with more than N distinct `user_id`s (a store iPad, a POS
  terminal) is quarantined: it stops linking people.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field

from shared.domain.customers.profiles import Profile
from shared.domain.kernel.identifiers import Identifier, IdentifierType

DEVICE_TYPES = frozenset({IdentifierType.ANONYMOUS_ID, IdentifierType.DEVICE_ID})
# Segment's suggested blocklist and the junk PostHog refuses, beyond what ingest already drops.
DEFAULT_BLOCKED_VALUES = frozenset(
    {
        "distinctid",
        "distinct_id",
        "id",
        "email",
        "true",
        "false",
        "not_authenticated",
        "void",
        "abc123",
        "test",
        "user",
        "00000000-0000-0000-0000-000000000000",
    }
)
DEFAULT_PRIORITY = (
    IdentifierType.USER_ID,
    IdentifierType.EMAIL,
    IdentifierType.PHONE,
    IdentifierType.WECHAT_UNIONID,
    IdentifierType.SHOP_CUSTOMER_ID,
    IdentifierType.POS_CUSTOMER_ID,
    IdentifierType.LOYALTY_CARD,
    IdentifierType.WECHAT_OPENID,
    IdentifierType.DEVICE_ID,
    IdentifierType.ANONYMOUS_ID,
)
DEFAULT_LIMITS = {
    IdentifierType.USER_ID: 1,
    IdentifierType.WECHAT_UNIONID: 1,
    IdentifierType.EMAIL: 5,
    IdentifierType.PHONE: 5,
    IdentifierType.SHOP_CUSTOMER_ID: 5,
    IdentifierType.POS_CUSTOMER_ID: 5,
    IdentifierType.LOYALTY_CARD: 5,
    IdentifierType.WECHAT_OPENID: 5,
    IdentifierType.DEVICE_ID: 5,
    IdentifierType.ANONYMOUS_ID: 10,
}
# One merge is one DynamoDB transaction (≤ 100 items): the loser's identity records are repointed
# in it, so a profile holds at most this many identifiers.
MAX_IDENTIFIERS_PER_PROFILE = 60


class IdentityPolicy(BaseModel):
    """Merge protection, configurable through Settings (`IDENTITY_*`)."""

    model_config = ConfigDict(frozen=True)

    priority: tuple[IdentifierType, ...] = DEFAULT_PRIORITY
    limits: dict[IdentifierType, int] = Field(default_factory=lambda: dict(DEFAULT_LIMITS))
    blocked_values: frozenset[str] = DEFAULT_BLOCKED_VALUES
    shared_device_user_limit: int = Field(default=1, ge=1, le=100)
    max_identifiers: int = Field(default=MAX_IDENTIFIERS_PER_PROFILE, ge=2, le=MAX_IDENTIFIERS_PER_PROFILE)

    def blocks(self, identifier: Identifier) -> bool:
        return identifier.value.strip().lower() in self.blocked_values

    def rank(self, identifier_type: IdentifierType) -> int:
        return (
            self.priority.index(identifier_type) if identifier_type in self.priority else len(self.priority)
        )

    def limit(self, identifier_type: IdentifierType) -> int:
        return self.limits.get(identifier_type, 5)


def identity_key(identifier: Identifier) -> str:
    """The record's key: SHA-256 of `type:value`. Lookups normalise first, then hash."""
    return hashlib.sha256(f"{identifier.type.value}:{identifier.value}".encode()).hexdigest()


def short_hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:16]


@dataclass
class IdentityRecord:
    """One node of the graph. `version` 0 means not stored yet."""

    key: str
    type: IdentifierType
    profile_id: str | None = None
    version: int = 0
    suppressed: bool = False  # erased person: touchpoints bearing it are dropped
    shared: bool = False  # quarantined shared device: links nobody
    seen_user_ids: list[str] = field(default_factory=list)  # short hashes, devices only

    @classmethod
    def new(cls, identifier: Identifier) -> IdentityRecord:
        return cls(key=identity_key(identifier), type=identifier.type)


def note_device_users(
    identifiers: Sequence[Identifier], records: Mapping[str, IdentityRecord], policy: IdentityPolicy
) -> list[IdentityRecord]:
    """Record which user ids each device on the touchpoint was seen with; quarantine a device
    past the limit. Returns the records that changed (to be saved)."""
    user_hashes = [short_hash(i.value) for i in identifiers if i.type is IdentifierType.USER_ID]
    changed = []
    for identifier in identifiers:
        if identifier.type not in DEVICE_TYPES or not user_hashes or policy.blocks(identifier):
            continue
        record = records[identity_key(identifier)]
        new = [h for h in user_hashes if h not in record.seen_user_ids]
        if not new or record.shared:
            continue
        record.seen_user_ids = [*record.seen_user_ids, *new][: policy.shared_device_user_limit + 1]
        record.shared = len(record.seen_user_ids) > policy.shared_device_user_limit
        changed.append(record)
    return changed


@dataclass(frozen=True)
class Dropped:
    identifier: Identifier
    reason: str  # blocked · shared_device · limit:<type> · separated · merge_too_large


@dataclass(frozen=True)
class Resolution:
    linked: list[Identifier]  # the identifiers this touchpoint links to its profile
    matched: list[str]  # live profiles its linked identifiers point at (merge if > 1)
    dropped: list[Dropped]
    suppressed: bool = False


def resolve(
    identifiers: Sequence[Identifier],
    *,
    records: Mapping[str, IdentityRecord],
    profiles: Mapping[str, Profile],
    policy: IdentityPolicy,
) -> Resolution:
    """`records` holds a record for every identifier (new ones with version 0); `profiles` the
    live profile each stored record points at (tombstones already followed)."""
    if any(records[identity_key(i)].suppressed for i in identifiers):
        return Resolution(linked=[], matched=[], dropped=[], suppressed=True)
    dropped: list[Dropped] = []
    usable: list[Identifier] = []
    for identifier in identifiers:
        if policy.blocks(identifier):
            dropped.append(Dropped(identifier, "blocked"))
        elif records[identity_key(identifier)].shared:
            dropped.append(Dropped(identifier, "shared_device"))
        else:
            usable.append(identifier)
    # `profiles` is keyed by the id a record points at; `matched` holds live ids. They differ when
    # the records were read just before a merge repointed them and the profiles just after: the
    # record still names the loser, whose live profile is the survivor.
    live_by_id = {profile.profile_id: profile for profile in profiles.values()}
    while True:
        matched = _matched(usable, records, profiles)
        violation = _violation(usable, [live_by_id[p] for p in matched], policy)
        if violation is None or not usable:
            return Resolution(linked=usable, matched=matched, dropped=dropped)
        victim = max(reversed(usable), key=lambda i: policy.rank(i.type))
        usable.remove(victim)
        dropped.append(Dropped(victim, violation))


def _matched(
    usable: Sequence[Identifier], records: Mapping[str, IdentityRecord], profiles: Mapping[str, Profile]
) -> list[str]:
    matched: dict[str, None] = {}
    for identifier in usable:
        profile_id = records[identity_key(identifier)].profile_id
        if profile_id is not None:
            matched.setdefault(profiles[profile_id].profile_id, None)
    return list(matched)


def _violation(
    usable: Sequence[Identifier], matched: Sequence[Profile], policy: IdentityPolicy
) -> str | None:
    union = {i for profile in matched for i in profile.identifiers} | set(usable)
    for identifier_type in IdentifierType:
        if sum(1 for i in union if i.type is identifier_type) > policy.limit(identifier_type):
            return f"limit:{identifier_type.value}"
    ids = {profile.profile_id for profile in matched}
    if any(set(profile.separated_from) & ids for profile in matched):
        return "separated"
    if len(matched) > 1 and len(union) > policy.max_identifiers:
        return "merge_too_large"
    return None


def parse_policy(
    *,
    blocked_values: str = "",
    limits: str = "",
    priority: str = "",
    shared_device_user_limit: int = 1,
    max_identifiers: int = MAX_IDENTIFIERS_PER_PROFILE,
) -> IdentityPolicy:
    """The policy from its settings text: `blocked_values` and `priority` comma-separated,
    `limits` as `type=n` pairs. Configured values extend (blocklist) or override (limits) the
    defaults. Raises ValueError naming what is wrong."""
    types = {t.value: t for t in IdentifierType}

    def identifier_type(name: str) -> IdentifierType:
        if name not in types:
            raise ValueError(f"unknown identifier type {name!r}; known: {', '.join(types)}")
        return types[name]

    parsed_limits = dict(DEFAULT_LIMITS)
    for pair in filter(None, (part.strip() for part in limits.split(","))):
        name, _, count = pair.partition("=")
        if not count.strip().isdigit() or int(count) < 1:
            raise ValueError(f"identity limit {pair!r} must be type=n with n ≥ 1")
        parsed_limits[identifier_type(name.strip())] = int(count)
    ranked = [identifier_type(name.strip()) for name in priority.split(",") if name.strip()]
    order = tuple(dict.fromkeys([*ranked, *DEFAULT_PRIORITY]))
    extra = {value.strip().lower() for value in blocked_values.split(",") if value.strip()}
    return IdentityPolicy(
        priority=order,
        limits=parsed_limits,
        blocked_values=DEFAULT_BLOCKED_VALUES | extra,
        shared_device_user_limit=shared_device_user_limit,
        max_identifiers=max_identifiers,
    )

"""Customers' composition root: the identity graph, personal data, erasure jobs, the identity policy."""

from __future__ import annotations

from shared.adapters.dynamo.conventions import bind_table
from shared.adapters.dynamo.customers_table import CustomersTableItem, DynamoCustomerGraph, DynamoPersonalData
from shared.adapters.sqs.customers import SqsErasureJobs
from shared.domain.customers.identity import IdentityPolicy, parse_policy
from shared.domain.customers.privacy import ErasureJobs, PersonalData
from shared.domain.kernel.errors import ConfigurationError
from shared.settings import get_settings
from shared.wiring import built_once


@built_once
def bind_customers_table() -> None:
    """The customers table holds profiles, identities, memberships and segment state."""
    bind_table(CustomersTableItem, get_settings().require("customers_table"))


@built_once
def get_customer_graph() -> DynamoCustomerGraph:
    bind_customers_table()
    return DynamoCustomerGraph()


@built_once
def get_personal_data() -> PersonalData:
    bind_customers_table()
    return DynamoPersonalData()


@built_once
def get_erasure_jobs() -> ErasureJobs:
    return SqsErasureJobs(get_settings().require("privacy_queue_url"))


@built_once
def get_identity_policy() -> IdentityPolicy:
    settings = get_settings()
    try:
        return parse_policy(
            blocked_values=settings.identity_blocked_values,
            limits=settings.identity_limits,
            priority=settings.identity_priority,
            shared_device_user_limit=settings.identity_shared_device_user_limit,
            max_identifiers=settings.identity_max_identifiers,
        )
    except ValueError as error:
        raise ConfigurationError(f"IDENTITY_* settings: {error}") from error

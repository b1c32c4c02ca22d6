"""Commerce's composition root: the catalog, inventory, outbound sync and its endpoints."""

from __future__ import annotations

from collections.abc import Sequence

from shared import wiring
from shared.adapters.channel_endpoints import HttpChannelEndpoints
from shared.adapters.dynamo.catalog_table import DynamoCatalog
from shared.adapters.sqs.commerce import SqsSyncRequests
from shared.domain.commerce.channel_sync import ChannelEndpoints, ChannelSync, SyncFanOut
from shared.domain.commerce.inventory import Inventory
from shared.domain.commerce.ports import ChangeListener
from shared.domain.commerce.pricing import effective_price
from shared.domain.commerce.sales_channels import RegistryDirectory
from shared.domain.kernel.errors import ConfigurationError
from shared.settings import get_settings
from shared.wiring import built_once


@built_once
def get_catalog() -> DynamoCatalog:
    settings = get_settings()
    return DynamoCatalog(
        settings.require("catalog_table"),
        cache_seconds=settings.catalog_cache_seconds,
        sealer=wiring.get_secret_sealer(),
    )


@built_once
def get_sync_requests() -> SqsSyncRequests:
    return SqsSyncRequests(get_settings().require("channel_sync_queue_url"))


@built_once
def get_channel_endpoints() -> ChannelEndpoints:
    return HttpChannelEndpoints(sealer=wiring.get_secret_sealer())


def get_sync_fan_out() -> SyncFanOut:
    return SyncFanOut(registry=get_catalog(), requests=get_sync_requests())


def get_inventory() -> Inventory:
    return _inventory(get_sync_fan_out())


class _ReadingOnly:
    """The listener of an inventory that only reads levels: it changes no stock to announce."""

    def stock_changed(self, keys: Sequence[tuple[str, str]]) -> None:
        raise ConfigurationError("This inventory reads stock levels only")


def get_stock_levels() -> Inventory:
    """Inventory for reading levels (recommendations, message content): no sync queue needed."""
    return _inventory(_ReadingOnly())


def _inventory(listener: ChangeListener) -> Inventory:
    catalog = get_catalog()
    return Inventory(
        stock=catalog,
        reservations=catalog,
        directory=RegistryDirectory(catalog),
        clock=wiring.get_clock(),
        listener=listener,
    )


def get_channel_sync() -> ChannelSync:
    catalog = get_catalog()
    return ChannelSync(
        registry=catalog,
        inventory=get_inventory(),
        prices=catalog,
        store=catalog,
        endpoints=get_channel_endpoints(),
        requests=get_sync_requests(),
        clock=wiring.get_clock(),
    )


class CatalogPrices:
    """A product's effective price on a channel now (for message content); None without a catalog."""

    def price(self, sku: str, channel: str) -> tuple[str, str] | None:
        if not get_settings().catalog_table:
            return None
        catalog = get_catalog()
        entry = catalog.entry(sku)
        if entry is None:
            return None
        found = effective_price(entry, catalog.promotions(), channel, wiring.get_clock().now())
        return str(found.price), found.currency

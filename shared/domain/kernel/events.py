"""The bus's event names that cross capabilities: what ingest, the touchpoint pipeline and privacy
announce, and segments, loyalty, commerce and engagement consume."""

from __future__ import annotations

TOUCHPOINT_RECORDED = "TouchpointRecorded"
PROFILE_CHANGED = "ProfileChanged"
ORDER_PLACED = "OrderPlaced"
ORDER_REFUNDED = "OrderRefunded"
CART_UPDATED = "CartUpdated"
CONSENT_CHANGED = "ConsentChanged"
PROFILES_MERGED = "ProfilesMerged"
PROFILES_UNMERGED = "ProfilesUnmerged"
PROFILE_ERASED = "ProfileErased"

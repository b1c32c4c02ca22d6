"""The activity log's composition root: the console's overview figures, in the touchpoints table.
Its own module, so only the functions that count or show activity (the touchpoint consumer, the
queue monitor, the API) load it."""

from __future__ import annotations

from shared.adapters.dynamo.activity_table import DynamoActivityLog
from shared.domain.kernel.activity import ActivityLog
from shared.settings import get_settings
from shared.wiring import built_once


@built_once
def get_activity_log() -> ActivityLog:
    return DynamoActivityLog(get_settings().require("touchpoints_table"))

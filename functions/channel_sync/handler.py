"""Channel sync worker (ChannelSyncQueue): pushes the current availability and price of a SKU to a
channel's endpoint. A failed push comes back with exponential backoff and jitter (10 s doubling up
to 15 min; 20 receives ≈ 4 hours of outage) and then ends on the DLQ, which the queue monitor
alarms on. Because each push reads the truth when it runs, the first one after an outage sends
the latest value."""

from __future__ import annotations

import json
import random
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.domain.commerce.channel_sync import EndpointError
from shared.domain.kernel.errors import NotFoundError, OmnireachError
from shared.observability import logger, metrics, tracer
from shared.triggers import backoff_seconds
from shared.wiring import commerce as commerce_wiring


@metrics.log_metrics
@tracer.capture_lambda_handler
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    sync = commerce_wiring.get_channel_sync()
    requests = commerce_wiring.get_sync_requests()
    chooser = random.Random()  # noqa: S311 - jitter
    failed: list[str] = []
    counts: dict[str, int] = {}
    for record in event["Records"]:
        try:
            body = json.loads(record["body"])
            channel_id, sku, force = str(body["channel_id"]), str(body["sku"]), bool(body.get("force"))
        except (ValueError, KeyError, TypeError):
            logger.error("unreadable sync request", extra={"message_id": record.get("messageId")})
            failed.append(record["messageId"])
            continue
        try:
            outcome = sync.push(channel_id, sku, force=force)
        except NotFoundError:
            outcome = "channel_gone"
        except (EndpointError, OmnireachError) as error:
            receives = int(record.get("attributes", {}).get("ApproximateReceiveCount", "1"))
            delay = backoff_seconds(receives, chooser)
            logger.warning(
                "push retried",
                extra={
                    "channel_id": channel_id,
                    "sku": sku,
                    "reason": str(error),
                    "receives": receives,
                    "in": delay,
                },
            )
            requests.retry_later(record["receiptHandle"], delay)
            failed.append(record["messageId"])
            continue
        counts[outcome] = counts.get(outcome, 0) + 1
    for outcome, count in counts.items():
        metrics.add_metric(
            name=f"ChannelPush{outcome.title().replace('_', '')}", unit=MetricUnit.Count, value=count
        )
    metrics.add_metric(name="ChannelPushFailed", unit=MetricUnit.Count, value=len(failed))
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}

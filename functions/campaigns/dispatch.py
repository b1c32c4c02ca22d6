"""Dispatch worker (DispatchQueue): each record carries up to 20 sends. Each send is decided and
made by the dispatcher, once per dispatch key. A provider's throttling or a send another worker
holds brings the record back with backoff (10 s doubling to 15 min, with jitter): never a
failure, never a second send (sends already made answer `duplicate`)."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from shared.domain.engagement.messaging import ThrottledError
from shared.domain.engagement.models import DispatchTask
from shared.domain.engagement.programs import ProgramsReadOnce
from shared.domain.kernel.errors import OmnireachError
from shared.observability import logger, metrics, tracer
from shared.triggers import backoff_seconds
from shared.wiring import engagement as engagement_wiring


@metrics.log_metrics
@tracer.capture_lambda_handler
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    dispatcher = engagement_wiring.get_dispatcher()
    queue = engagement_wiring.get_dispatch_queue()
    chooser = random.Random()  # noqa: S311 - jitter
    failed: list[str] = []
    counts: dict[str, int] = {}
    for record in event["Records"]:
        try:
            tasks = [DispatchTask.model_validate(task) for task in json.loads(record["body"])["tasks"]]
        except (ValueError, KeyError, TypeError, ValidationError):
            logger.error("unreadable dispatch message", extra={"message_id": record.get("messageId")})
            failed.append(record["messageId"])
            continue
        sending = replace(dispatcher, programs=ProgramsReadOnce(dispatcher.programs))
        try:
            for task in tasks:
                outcome = sending.dispatch(task)
                counts[outcome] = counts.get(outcome, 0) + 1
        except (ThrottledError, OmnireachError) as error:
            receives = int(record.get("attributes", {}).get("ApproximateReceiveCount", "1"))
            delay = backoff_seconds(receives, chooser)
            logger.warning(
                "dispatch retried", extra={"reason": str(error), "receives": receives, "in": delay}
            )
            queue.retry_later(record["receiptHandle"], delay)
            failed.append(record["messageId"])
            metrics.add_metric(
                name="DispatchThrottled" if isinstance(error, ThrottledError) else "DispatchRetried",
                unit=MetricUnit.Count,
                value=1,
            )
    for outcome, count in counts.items():
        status = outcome.split(":", 1)[0]
        metrics.add_metric(name=f"Messages{status.title()}", unit=MetricUnit.Count, value=count)
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}

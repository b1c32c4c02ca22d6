"""Contact plans (PlanQueue and a daily schedule): the schedule queues one refresh per enabled
plan; a refresh job writes the period's report and each paid channel's audience sync (the
segment's members still under their target there) to the exports bucket."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, Field, Json

from shared import wiring
from shared.domain.engagement.plans import refresh_all, refresh_plan
from shared.observability import logger, metrics, tracer
from shared.wiring import customers as customers_wiring
from shared.wiring import engagement as engagement_wiring
from shared.wiring import segments as segments_wiring


class PlanJob(BaseModel):
    plan_id: str = Field(min_length=1, max_length=100)


class PlanJobRecord(SqsRecordModel):
    body: Json[PlanJob]


processor = BatchProcessor(event_type=EventType.SQS, model=PlanJobRecord)


def record_handler(record: PlanJobRecord) -> None:
    report = refresh_plan(
        record.body.plan_id,
        store=engagement_wiring.get_engagement(),
        segments=segments_wiring.get_segment_store(),
        graph=customers_wiring.get_customer_graph(),
        files=segments_wiring.get_export_files(),
        now=wiring.get_clock().now(),
        picks=engagement_wiring.get_personaliser().recommendations,
    )
    metrics.add_metric(name="PlanMembersCounted", unit=MetricUnit.Count, value=report.members)
    logger.info(
        "contact plan refreshed",
        extra={"plan_id": report.plan_id, "period": report.period.key, "members": report.members},
    )


@metrics.log_metrics
@tracer.capture_lambda_handler
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> Any:
    if "Records" in event:
        return process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    queued = refresh_all(store=engagement_wiring.get_engagement(), queue=engagement_wiring.get_plan_queue())
    logger.info("contact plan refreshes queued", extra={"plans": len(queued)})
    return {"queued": queued}

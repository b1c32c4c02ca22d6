"""The operator's alarms in template.yaml, written from the template's own functions and queues.

`python -m infra.alarms` rewrites the block between the markers; a template test fails when the
block is not what this renders, so a new function or queue never goes unwatched. Every alarm
notifies the `AlarmTopicArn` parameter's SNS topic (none when it is empty):

- each function: any error, any throttle (5 minutes);
- each dead-letter queue: any message waiting;
- each work queue: its oldest message older than `OLDEST_MESSAGE_SECONDS`;
- the API: any 5xx, and p99 latency over `API_P99_MILLIS` (5 minutes each).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from infra.template import TEMPLATE_PATH, load_template

BEGIN = "  # ---------------------------------------------------------------- alarms (python -m infra.alarms)"
END = "  # ---------------------------------------------------------------- end of alarms"
OLDEST_MESSAGE_SECONDS = 900
API_P99_MILLIS = 5000
API_ID = "!Ref Api"  # an HTTP API's metrics are per ApiId
ACTIONS = "!If [HasAlarmTopic, [!Ref AlarmTopicArn], !Ref AWS::NoValue]"


def _alarm(
    name: str, description: str, namespace: str, metric: str, dimension: tuple[str, str], **how: Any
) -> str:
    statistic = how.get("statistic", "Sum")
    lines = [
        f"  {name}:",
        "    Type: AWS::CloudWatch::Alarm",
        "    Properties:",
        f"      AlarmDescription: {json.dumps(description)}",
        f"      Namespace: {namespace}",
        f"      MetricName: {metric}",
        "      Dimensions:",
        f"        - Name: {dimension[0]}",
        f"          Value: {dimension[1]}",
        f"      {'ExtendedStatistic' if statistic.startswith('p') else 'Statistic'}: {statistic}",
        f"      Period: {how.get('period', 300)}",
        "      EvaluationPeriods: 1",
        f"      Threshold: {how.get('threshold', 0)}",
        "      ComparisonOperator: GreaterThanThreshold",
        "      TreatMissingData: notBreaching",
        f"      AlarmActions: {ACTIONS}",
        f"      OKActions: {ACTIONS}",
    ]
    return "\n".join(lines)


def render(template: dict[str, Any] | None = None) -> str:
    resources = (template or load_template())["Resources"]
    functions = [name for name, r in resources.items() if r["Type"] == "AWS::Serverless::Function"]
    queues = [name for name, r in resources.items() if r["Type"] == "AWS::SQS::Queue"]
    dead_letter = [name for name in queues if name.endswith("DeadLetterQueue")]
    work = [name for name in queues if name not in dead_letter]
    alarms = []
    for function in functions:
        for metric in ("Errors", "Throttles"):
            alarms.append(
                _alarm(
                    f"{function}{metric}Alarm",
                    f"{function} {metric.lower()} (see its log group)",
                    "AWS/Lambda",
                    metric,
                    ("FunctionName", f"!Ref {function}"),
                )
            )
    for queue in dead_letter:
        alarms.append(
            _alarm(
                f"{queue}DepthAlarm",
                f"Messages wait on {queue}: look at them, fix the cause, redrive",
                "AWS/SQS",
                "ApproximateNumberOfMessagesVisible",
                ("QueueName", f"!GetAtt {queue}.QueueName"),
                statistic="Maximum",
                period=60,
            )
        )
    for queue in work:
        alarms.append(
            _alarm(
                f"{queue}AgeAlarm",
                f"The oldest message on {queue} is older than {OLDEST_MESSAGE_SECONDS} s: "
                "its consumer is behind or failing",
                "AWS/SQS",
                "ApproximateAgeOfOldestMessage",
                ("QueueName", f"!GetAtt {queue}.QueueName"),
                statistic="Maximum",
                period=60,
                threshold=OLDEST_MESSAGE_SECONDS,
            )
        )
    alarms.append(_alarm("Api5xxAlarm", "The API answered 5xx", "AWS/ApiGateway", "5xx", ("ApiId", API_ID)))
    alarms.append(
        _alarm(
            "ApiLatencyAlarm",
            f"The API's p99 latency is over {API_P99_MILLIS} ms",
            "AWS/ApiGateway",
            "Latency",
            ("ApiId", API_ID),
            statistic="p99",
            threshold=API_P99_MILLIS,
        )
    )
    return "\n".join([BEGIN, *alarms, END])


def written(text: str, block: str) -> str:
    """The template text with its alarms block replaced (or inserted before Outputs)."""
    if BEGIN in text:
        head, _, rest = text.partition(BEGIN)
        _, _, tail = rest.partition(END)
        return head + block + tail
    head, _, tail = text.partition("\nOutputs:")
    return head.rstrip("\n") + "\n\n" + block + "\n\nOutputs:" + tail


def main() -> None:
    path = Path(TEMPLATE_PATH)
    path.write_text(written(path.read_text(), render()))
    print(f"wrote the alarms of {path}")


if __name__ == "__main__":
    main()

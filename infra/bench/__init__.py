"""`make bench`: what one touchpoint costs.

- AWS requests per touchpoint (API, SQS incl. the event source's receives/deletes, DynamoDB,
  EventBridge), counted at botocore for boto3 and PynamoDB alike, on the template deployed into
  moto; DynamoDB request units computed from item sizes (moto's ReturnConsumedCapacity is wrong);
- our own CPU per touchpoint in the API and the consumer, with in-memory ports so the emulator's
  time is not counted; log bytes written per touchpoint;
- cold-start import time of each function;
- cost per million touchpoints at AWS list prices (us-east-1, on-demand, arm64).

One module per measurement; `python -m infra.bench` (make bench) runs them all."""

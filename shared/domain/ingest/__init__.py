"""Ingest: every channel's touchpoints, verified, validated, deduplicated and normalised into one
`Touchpoint` schema, and enqueued.

Owns: the schema and the sources it comes from (`touchpoints`), the source registry
(`sources`), accepting Segment calls (`intake`), channel webhooks (`webhooks`) with their
signature standards (`signatures`, `credentials`) and payloads (`payloads`, `channels/`), and
the ports for the registry, the touchpoint queue and archive, and SNS (`ports`).

May use: kernel.
"""

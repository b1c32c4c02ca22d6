"""Engagement: the right message, at the right time, on the right channel, exactly as often as
the strategy says.

Owns: programs and what they record (`models`), the dispatch of one send (`dispatch`) and the
ports it needs (`ports`), campaigns' lifecycle and scheduler (`campaigns`), lifecycle journeys
(`journeys`), frequency caps, quiet hours and windows (`frequency`), content and the sender
port (`messaging`), personalisation (`personalisation`), the glue between stores and dispatch
(`programs`), and measured results (`measurement`).

May use: kernel, ingest, customers, segments. Loyalty points, coupons and catalogue prices
reach it through its own ports (`engagement.personalisation`), wired by the composition root.
"""

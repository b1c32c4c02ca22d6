"""Segments: who is who, kept up to date.

Owns: value and lifecycle classification, RFMCL (`classification`), the rule language
(`rules`), segment definitions and membership kept live (`live`), the nightly recompute
(`recompute`) and hashed audience exports (`export`).

May use: kernel, ingest, customers.
"""

"""Adapters: the SDK side of the domain's ports."""

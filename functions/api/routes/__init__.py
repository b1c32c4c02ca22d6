"""Chalice blueprints, one per area of the public contract."""

"""Customers: one person across channels, and their profile.

Owns: identity resolution and merge protection (`identity`), the profile and its order-free fold
(`profiles`), folding a batch of touchpoints into graph and profiles (`folding`), the graph's
port and merge records (`ports`), a profile's history chain (`history`), reading profiles and
undoing merges (`admin`), and erasure and export (`privacy`).

May use: kernel, ingest (the `Touchpoint` it folds).
"""

"""Loyalty: one points ledger, tier and set of coupons per member across every channel.

Owns: the ledger's models and pure rules (`ledger`), the book that commits changes and its use
cases (`book`), the ports they need (`ports`), coupons (`coupons`), and where points and coupons
meet: exchange, birthday perks, the member summary (`perks`).

May use: kernel, ingest, customers, segments (a perk's audience rule).
"""

"""The shared kernel: what every capability speaks.

Owns: the error types (`errors`), typed and normalised customer identifiers (`identifiers`), the
bus's event names that cross capabilities (`events`), and the two ports everyone needs: the
clock and the event publisher (`ports`).

May use: nothing else in the domain.
"""

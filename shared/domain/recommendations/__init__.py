"""Recommendations: the products that fit each customer ("a thousand faces"), from every
channel's orders.

Owns: the co-purchase model with popularity damping, repurchase cycles, the ranking with its
exclusions, and the leave-last-out evaluation (`scoring`).

May use: kernel.
"""

"""Recommendations: the products that fit each customer ("a thousand faces"), from every
channel's orders.

Owns: the co-purchase model with popularity damping, repurchase cycles, the ranking with its
exclusions, and the leave-last-out evaluation (`scoring`); each customer's purchase history, the
nightly rebuild, and the ranking weighed by price sensitivity and value tier with what the shelf
(inventory, prices) says is available (`service`).

May use: kernel.
"""

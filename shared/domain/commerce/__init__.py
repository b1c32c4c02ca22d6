"""Commerce: one truth of stock and price, never oversold, identical on every channel.

Owns: stock and reservation records (`stock`), the rules that move them (`inventory`), the ports
they need (`ports`), the price book (`pricing`), sales channels and locations (`sales_channels`),
and the outbound sync and reconciliation (`channel_sync`).

May use: kernel.
"""

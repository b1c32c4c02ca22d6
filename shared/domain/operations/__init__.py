"""Operations: the health of the system itself, so nothing fails unseen.

Owns: queue and dead-letter health (`queue_health`), the check that raises the alarm
(`monitoring`) and the port that reads queue depths (`ports`).

May use: kernel.
"""

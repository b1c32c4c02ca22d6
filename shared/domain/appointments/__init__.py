"""Appointments: services given at locations (an installation after an online order, an eye
test, a fitting, a pickup), their slots in each location's own hours and timezone, and bookings
that never take a slot's last place twice.

Owns: service types, locations' opening hours, closures and capacity, and the slots that follow
(`schedule`); bookings, their changes and the rules on them (`bookings`). Reminders and
follow-ups are engagement's journeys, started by the touchpoints a booking's changes record.

May use: kernel.
"""

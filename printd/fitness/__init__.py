"""Printer fitness: the start-of-day check (transfer temperature, cleaning, settings) and the duty cycle."""

"""Tests of printd/cards/."""

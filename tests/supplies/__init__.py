"""Tests of printd/supplies/."""

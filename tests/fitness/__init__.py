"""Tests of printd/fitness/."""

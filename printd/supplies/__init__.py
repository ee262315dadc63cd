"""Ribbon and film: the rolls received, lent, installed on and removed from each printer, their yield."""

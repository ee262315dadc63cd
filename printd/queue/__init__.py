"""Durable state: the job queue, attempts, the ledger tables and who prints next."""

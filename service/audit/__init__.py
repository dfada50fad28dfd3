"""Audit: the adherence indicators over the event log; `api` is the auditors' routes (event
log, its hash-chain check, access log, indicators)."""

"""Audit: the adherence indicators and the conformance of episodes' paths over the event log;
`api` is the auditors' routes (event log, its hash-chain check, access log, indicators,
conformance)."""

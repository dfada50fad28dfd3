"""carepath service: CLI now; HTTP API, pages and persistence later."""

"""carepath service: the HTTP API and pages, persistence, accounts and access, the timer worker
and the command line, around the domain in pathways/."""

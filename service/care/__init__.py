"""Care: episodes, tasks and their completion, timers, the worklist and the clinician's pages,
with their JSON twins. The write side is `service`, queries and writes `repository`, the
read side `views`; `api_*` and `pages` are the routes."""

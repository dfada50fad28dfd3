"""The patient's pages (today, progress, exercise, education, questionnaires) and their JSON
twins: the read side `views`, `progress`, saved questionnaire drafts, the self-management
plan; `api` and `pages` are the routes."""

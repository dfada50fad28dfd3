"""People: users and patients' logins, passwords, tokens and page sessions, accounts, login
limits; `api` (tokens, users, me) and `pages` (login, logout, account) are the routes."""

"""What every domain of the service stands on: the request context, errors and their one
table of status codes, settings, the database and its tables, the unit of work (deps), who
may do what (access), and the pages' shared rendering and forms. Only `core` opens and
commits transactions."""

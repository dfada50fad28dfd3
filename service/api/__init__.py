"""JSON API routes: parse, call a service function, return a schema."""

"""Demo data: a clinic, users of every role and patients at every stage (`data`), and what
each demo patient does (`plans`)."""

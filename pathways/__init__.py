"""carepath domain: pathway engine wrapper, sandbox, instruments, education and exercises.

No web, database or service imports here (a test enforces it)."""

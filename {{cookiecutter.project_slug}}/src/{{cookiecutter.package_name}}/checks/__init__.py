"""Recipe checks, one module per stage. Each check is a function that returns verdicts."""

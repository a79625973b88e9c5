"""API plumbing shared by every app: envelope, errors, pagination, sorting, throttling, schema."""

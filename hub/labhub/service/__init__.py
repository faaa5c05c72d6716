"""The kit labhub's managed services share (sessions, gpu, metrics, submissions): today the schema
versions of their stores (schema.py)."""

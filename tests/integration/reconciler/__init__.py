"""Integration tests of the reconciler's schedule on the real PostgreSQL."""

"""PostgreSQL adapters: the tables, the repository the use case writes through, the outbox relay."""

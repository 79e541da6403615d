"""Unit tests of the operator command line (no Kafka, no database)."""

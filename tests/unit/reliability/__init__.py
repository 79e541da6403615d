"""Unit tests of the fault suite's ledger."""

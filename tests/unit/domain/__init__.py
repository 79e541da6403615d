"""Unit tests of the pure domain: wire contracts and derivation of state changes."""

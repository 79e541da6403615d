"""End-to-end operability: the operator CLI and the health endpoints on the real stack."""

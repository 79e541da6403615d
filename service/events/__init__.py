"""Derived events: what the service publishes when a user's report changes.

`data` holds one exact model per type, `envelope` the CloudEvents types, ids and schemas (pure),
`kafka` the binary-mode Kafka binding by the CloudEvents SDK, `schemas` the JSON Schema files.
"""

"""Personal data: erasure (Art. 17), retention (Art. 5(1)(e)), subject access (Art. 15/20), audit.

- `audit.py`: the append-only audit table: record an operation, list them since a time.
- `predicates.py`: the SQL that finds a user's rows in every table (one place, shared by
  erasure and export, so they can never disagree on what "the user's data" is).
- `erasure.py`: the erasure use case (CLI and input topic), its tombstone and notice.
- `retention.py`: what is due for deletion, counted or deleted in bounded batches; the
  periodic task.
- `export.py`: everything held on one user, as JSON.
- `actor.py`: who runs a command (`--actor`, else the OS user).

Crypto-shredding (service/crypto/): `Erasure.erase` destroys the user's data key first, in a
committed transaction of its own (the `KeyShredder` port), and `export` decrypts through
`service.crypto.Unsealer`; minimisation happens before storage, in the ingest path, and changes
nothing here.
"""

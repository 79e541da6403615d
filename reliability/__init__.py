"""The fault suite: `make reliability` (`python -m reliability [--quick] [--only NAME...]`).

Each scenario runs the real pipeline as separate OS processes (the Alice emulator, one or more
`python -m service run`) against real Kafka and PostgreSQL, publishes a known set of records,
breaks something for a bounded time (a process, a server, Alice, the input itself), lets the
pipeline finish, and then checks a ledger read from the broker and the database (see
`reliability.ledger`): every input record processed or dead-lettered with a reason, exactly
once; no derived event id with two contents; derived events in order per user; duplicate
deliveries counted; recovery within 10 s of the end of an outage; no unexpected exit.

Scenarios that stop or cut a server use their own (a dedicated broker or PostgreSQL cluster
from `deploy/local` on free ports, a proxy, or a dedicated database), never the shared stack.
Figures go to `reliability/results.json`; RELIABILITY.md explains each row.
"""

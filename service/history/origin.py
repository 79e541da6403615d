"""Why a snapshot was fetched, read from the id its inbox row and snapshot carry. Pure.

No column records the origin: the inbox id does (`service/messages.py`,
`service/reconciler/schedule.py`):

- `reconcile:<user>:<n>`: the reconciler's n-th check of the user (inbox topic `reconcile`);
- an id the quarantine also holds, read this time at another place than the dead letter was
  (another offset or topic): `replay-dlq` re-published the dead letter;
- `event:backfill:...`: an event published by the `backfill` command;
- anything else (`event:`, `ce:`, `offset:`, `ce-bytes:`): an onboarding-completed input event.

The same record redelivered after a crash (same place as its dead letter) is an input event.
Inbox rows are kept INBOX_RETENTION_DAYS and dead letters QUARANTINE_RETENTION_DAYS: past that
a replay reads as an input event and the source location is unknown (null).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from service.history.records import Location

INPUT_EVENT: Final = "input_event"
RECONCILER: Final = "reconciler"
REPLAY: Final = "replay"
BACKFILL: Final = "backfill"
RECONCILE_PREFIX: Final = "reconcile:"
BACKFILL_PREFIX: Final = "event:backfill:"


@dataclass(frozen=True, slots=True)
class Origin:
    """Why a snapshot was fetched, and where the record that asked for it was read."""

    kind: str
    message_id: str
    source: Location | None


def origin_of(
    message_id: str,
    *,
    inbox: Mapping[str, Location],
    dead_letters: Mapping[str, frozenset[Location]],
) -> Origin:
    """The origin of the snapshot stored for inbox id `message_id`."""
    source = inbox.get(message_id)
    if message_id.startswith(RECONCILE_PREFIX):
        return Origin(RECONCILER, message_id, source)
    dead = dead_letters.get(message_id)
    if dead and (source is None or source not in dead):
        return Origin(REPLAY, message_id, source)
    if message_id.startswith(BACKFILL_PREFIX):
        return Origin(BACKFILL, message_id, source)
    return Origin(INPUT_EVENT, message_id, source)

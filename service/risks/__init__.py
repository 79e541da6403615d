"""The risk causes a report holds, one per cause and per object (see the README's mapping table).

Pure. `causes` holds the thresholds, a cause with its stable key and the date helpers; `fields`
the causes of field checks; `objects` those of selfies, documents and the summary, and
`open_causes`, the entry point.
"""

from service.risks.causes import Cause, Thresholds, age_on, iso_date
from service.risks.objects import NFC_CHECK, duplicate_ids, open_causes

__all__ = ["NFC_CHECK", "Cause", "Thresholds", "age_on", "duplicate_ids", "iso_date", "open_causes"]

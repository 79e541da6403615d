"""Report minimisation (GDPR Art. 5(1)(c)): the parts of a report that are never stored.

Pure: imports the standard library, pydantic-core, `service.errors` and the report's
constants. `REPORT_MINIMISATION` names the rules (`rules.RULES`); `Minimiser(rules).body(raw)`
is applied to every fetched report before it is hashed for change detection, validated,
derived from and stored, so a report that differs from the stored one only in a removed part
(a refreshed media link) is unchanged.

    minimiser = Minimiser(RECOMMENDED_RULES)
    stored = minimiser.body(raw)      # the same bytes object when nothing was removed
"""

from service.minimise.rules import RECOMMENDED_RULES, RULES, parse_rules
from service.minimise.transform import Minimiser

__all__ = ["RECOMMENDED_RULES", "RULES", "Minimiser", "parse_rules"]

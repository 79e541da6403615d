"""The Alice Onboarding report: a typed, lenient-where-Alice-evolves, strict-where-it-matters model.

Pure: imports only the standard library, pydantic and `service.errors`.

    parsed = parse_report(body)          # raises InvalidReport, never a pydantic error
    parse_report(body, expected_user_id=user_id)  # + ReportForOtherUser if it names another
    parsed.raw                           # the exact bytes received
    parsed.report.user_state             # "TO_REVIEW", ... ("INPROGRESS" reads "IN_PROGRESS")
    failed_checks(parsed.report)         # checks below 50, with where they were found

Every report Alice's SDK models (alice-onboarding 5.1.2) accept is accepted, except where Alice
documents a stricter rule that is kept: UUID report and user ids, check and face scores 0-100.

Modules: `constants` (known values of the open sets), `base` (base class, value types),
`common`, `summary`, `captures`, `model` (the objects), `queries` (helpers), `parse`.
"""

from service.report.base import AliceModel
from service.report.captures import (
    OTD,
    Document,
    DocumentMeta,
    DocumentSide,
    DocumentSideMeta,
    DocumentSides,
    OTDMeta,
    Selfie,
    UserEvent,
)
from service.report.common import BoundingBox, Check, Device, DocumentField, Href
from service.report.constants import PASS_THRESHOLD
from service.report.model import Report, ReportEnvelope
from service.report.parse import ParsedReport, describe_validation_error, parse_report
from service.report.queries import FailedCheck, best_user_data, document_number, failed_checks
from service.report.summary import (
    ExternalUserData,
    FaceMatching,
    FaceMatchingMeta,
    Result,
    Summary,
    UserState,
)

__all__ = [
    "OTD",
    "PASS_THRESHOLD",
    "AliceModel",
    "BoundingBox",
    "Check",
    "Device",
    "Document",
    "DocumentField",
    "DocumentMeta",
    "DocumentSide",
    "DocumentSideMeta",
    "DocumentSides",
    "ExternalUserData",
    "FaceMatching",
    "FaceMatchingMeta",
    "FailedCheck",
    "Href",
    "OTDMeta",
    "ParsedReport",
    "Report",
    "ReportEnvelope",
    "Result",
    "Selfie",
    "Summary",
    "UserEvent",
    "UserState",
    "best_user_data",
    "describe_validation_error",
    "document_number",
    "failed_checks",
    "parse_report",
]

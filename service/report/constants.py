"""Known values of the Alice report's open sets, offered as constants.

Every set here is OPEN: Alice adds values over time, so the model types them as plain `str`
and nothing ever fails because a value is missing from these tuples. Use them to compare
against, never to validate.
"""

from __future__ import annotations

from typing import Final

# --- User state (summary.state.value) --------------------------------------------------------
STATE_NOT_STARTED: Final = "NOT_STARTED"
STATE_IN_PROGRESS: Final = "IN_PROGRESS"
STATE_TO_REVIEW: Final = "TO_REVIEW"
STATE_ACCEPTED: Final = "ACCEPTED"
STATE_REJECTED: Final = "REJECTED"
KNOWN_USER_STATES: Final = (
    STATE_NOT_STARTED,
    STATE_IN_PROGRESS,
    STATE_TO_REVIEW,
    STATE_ACCEPTED,
    STATE_REJECTED,
)
# The documentation page spells the in-progress state without the underscore; the API and the
# SDK use IN_PROGRESS. The model normalises the alias to the canonical spelling.
USER_STATE_ALIASES: Final = {"INPROGRESS": STATE_IN_PROGRESS}

# --- Summary result (summary.result.*) -------------------------------------------------------
RESULT_OK: Final = "ok"
RESULT_KO: Final = "ko"
RESULT_NOT_APPLICABLE: Final = "n/a"
KNOWN_RESULT_VALUES: Final = (RESULT_OK, RESULT_KO, RESULT_NOT_APPLICABLE)
RESULT_DIMENSIONS: Final = (
    "selfie_security",
    "document_security",
    "document_read",
    "process_security",
)

# --- Scores and checks -----------------------------------------------------------------------
# A check or score at or above this passes; below it fails; null means "does not apply".
PASS_THRESHOLD: Final = 50.0
SCORE_MIN: Final = 0.0
SCORE_MAX: Final = 100.0

# Check keys as Alice's SDK (alice-onboarding 5.1.2, `models/report/checks/`) names them, per
# scope. Open sets: a key missing here is still read, kept and judged by its value.
SUMMARY_CHECK_KEYS: Final = ("only_one_device_check", "only_one_ip_check")
SELFIE_CHECK_KEYS: Final = ("liveness", "only_one_face")
DOCUMENT_CHECK_KEYS: Final = (
    "authentic_nfc_chip",
    "checked_info_code",
    "coherent_document_dates",
    "consistent_document",
    "expected_document",
    "face_in_front_side",
    "face_matching",
    "not_a_printed_document",
    "not_a_screen_document",
    "not_a_synthetic_document",
    "uncompromised_document",
    "unexpired_document",
)
# Seen only in the synthetic example (`report-example.json`), not in the SDK nor Alice's docs:
# unconfirmed, so neither emulated by default nor relied upon.
UNCONFIRMED_DOCUMENT_CHECK_KEYS: Final = ("not_a_forged_document",)
FIELD_CHECK_KEYS: Final = (
    "checked_field",
    "complete_mrz_name",
    "consistent_field",
    "expected_field",
    "over_18",
    "unexpired_date",
    "valid_date_format",
    "valid_date_range",
)

# --- Documents -------------------------------------------------------------------------------
DOCUMENT_IDCARD: Final = "idcard"
DOCUMENT_DRIVER_LICENSE: Final = "driverlicense"
DOCUMENT_RESIDENCE_PERMIT: Final = "residencepermit"
DOCUMENT_PASSPORT: Final = "passport"
DOCUMENT_HEALTH_INSURANCE_CARD: Final = "healthinsurancecard"
KNOWN_DOCUMENT_TYPES: Final = (
    DOCUMENT_IDCARD,
    DOCUMENT_DRIVER_LICENSE,
    DOCUMENT_RESIDENCE_PERMIT,
    DOCUMENT_PASSPORT,
    DOCUMENT_HEALTH_INSURANCE_CARD,
)

SIDE_FRONT: Final = "front"
SIDE_BACK: Final = "back"
SIDE_INTERNAL: Final = "internal"
KNOWN_SIDES: Final = (SIDE_FRONT, SIDE_BACK, SIDE_INTERNAL)

# The document number's field name depends on the document type.
DOCUMENT_NUMBER_FIELDS: Final = {
    DOCUMENT_IDCARD: "id_number",
    DOCUMENT_RESIDENCE_PERMIT: "id_number",
    DOCUMENT_PASSPORT: "passport_number",
    DOCUMENT_DRIVER_LICENSE: "license_number",
    DOCUMENT_HEALTH_INSURANCE_CARD: "health_insurance_number",
}
KNOWN_DOCUMENT_NUMBER_FIELDS: Final = (
    "id_number",
    "passport_number",
    "license_number",
    "health_insurance_number",
)

# --- Media keys ------------------------------------------------------------------------------
SELFIE_MEDIA_KEYS: Final = ("video", "preview", "cropped_face")
DOCUMENT_SIDE_MEDIA_KEYS: Final = ("document", "cropped_document", "cropped_thumbnail")

# --- Event types seen in the (synthetic) example ---------------------------------------------
EVENT_USER_CREATED: Final = "user_created"
EVENT_SELFIE_ADDED: Final = "selfie_added"
EVENT_DOCUMENT_CREATED: Final = "document_created"
EVENT_DOCUMENT_SIDE_ADDED: Final = "document_side_added"
EVENT_ONBOARDING_COMPLETED: Final = "onboarding_completed"
KNOWN_EVENT_TYPES: Final = (
    EVENT_USER_CREATED,
    EVENT_SELFIE_ADDED,
    EVENT_DOCUMENT_CREATED,
    EVENT_DOCUMENT_SIDE_ADDED,
    EVENT_ONBOARDING_COMPLETED,
)

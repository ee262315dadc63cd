"""Every `error.code` the API can answer, in one place: the OpenAPI document publishes them as an enum.

A test (tests/api/test_openapi.py) finds every code the package raises and checks it is listed here, so a
new error cannot reach a client undocumented. The page translates these codes (printd/web/i18n/*.json).
"""
from __future__ import annotations

import enum


class ErrorCode(enum.StrEnum):
    """Machine-readable error codes, grouped by who must act."""

    # the request itself (400, 405, 406, 408, 413, 415, 422, 429)
    BAD_REQUEST = "bad_request"
    INVALID_JSON = "invalid_json"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    NOT_ACCEPTABLE = "not_acceptable"
    REQUEST_TIMEOUT = "request_timeout"
    TOO_LARGE = "too_large"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    TOO_MANY_REQUESTS = "too_many_requests"
    TOO_MANY_STREAMS = "too_many_streams"
    INVALID = "invalid"
    VALIDATION_ERROR = "validation_error"
    INVALID_NIK = "invalid_nik"
    INVALID_NAME = "invalid_name"
    INVALID_CARD_TYPE = "invalid_card_type"
    INVALID_IMAGE = "invalid_image"
    UNSUPPORTED_IMAGE_TYPE = "unsupported_image_type"
    IMAGE_TOO_LARGE = "image_too_large"
    IMAGE_TOO_LARGE_DIMENSIONS = "image_too_large_dimensions"
    INVALID_ASPECT = "invalid_aspect"
    INVALID_CALLBACK_URL = "invalid_callback_url"
    CALLBACK_NOT_ALLOWED = "callback_not_allowed"
    INVALID_CURSOR = "invalid_cursor"
    INVALID_DATE = "invalid_date"
    FUTURE_DATE = "future_date"
    INVALID_COUNT = "invalid_count"
    INVALID_DELTA = "invalid_delta"
    INVALID_WHEN = "invalid_when"
    INVALID_FAULT_KIND = "invalid_fault_kind"
    INVALID_COMMAND = "invalid_command"
    INVALID_ROLE = "invalid_role"
    MISSING_REASON = "missing_reason"
    MISSING_REFERENCE = "missing_reference"
    WEAK_PASSWORD = "weak_password"
    # who is calling (401, 403)
    UNAUTHORIZED = "unauthorized"
    INVALID_CREDENTIALS = "invalid_credentials"
    FORBIDDEN = "forbidden"
    CSRF = "csrf"
    # what was asked for does not exist (404)
    NOT_FOUND = "not_found"
    JOB_NOT_FOUND = "job_not_found"
    PRINTER_NOT_FOUND = "printer_not_found"
    DELIVERY_NOT_FOUND = "delivery_not_found"
    LOCATION_NOT_FOUND = "location_not_found"
    ATTEMPT_NOT_FOUND = "attempt_not_found"
    TOKEN_NOT_FOUND = "token_not_found"
    USER_NOT_FOUND = "user_not_found"
    # the station's state does not allow it now (409)
    CONFLICT = "conflict"
    REQUEST_ID_CONFLICT = "request_id_conflict"
    DUPLICATE_OPEN_JOB = "duplicate_open_job"
    ILLEGAL_STATE = "illegal_state"
    CANCELED = "canceled"
    PURGED = "purged"
    ATTEMPT_ENDED = "attempt_ended"
    CARD_IN_FLIGHT = "card_in_flight"
    INSUFFICIENT_STOCK = "insufficient_stock"
    HOPPER_CARD_TYPE = "hopper_card_type"
    UNFIT_PRINTER = "unfit_printer"
    PRINTER_BUSY = "printer_busy"
    PRINTER_OFFLINE = "printer_offline"
    NOT_SIMULATED = "not_simulated"
    RAW_NOT_SUPPORTED = "raw_not_supported"
    TEST_PRINT_FAILED = "test_print_failed"
    TOKEN_EXISTS = "token_exists"
    USER_EXISTS = "user_exists"
    # the station cannot do it now: retry after Retry-After (503), or a fault of ours (500)
    STORE_UNAVAILABLE = "store_unavailable"
    PRINTER_UNAVAILABLE = "printer_unavailable"
    INTERNAL = "internal"

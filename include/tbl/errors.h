/*
 * Client-facing errors: one list for the enum, the HTTP status, the
 * contract's code and the error "type" in each API's shape (DESIGN.md
 * section 7).
 * TG_ERROR(enum suffix, status, code, OpenAI type, Anthropic type)
 */
TG_ERROR(INVALID_REQUEST, 400, "invalid_request",
    "invalid_request_error", "invalid_request_error")
TG_ERROR(INVALID_API_KEY, 401, "invalid_api_key",
    "authentication_error", "authentication_error")
TG_ERROR(MODEL_NOT_ALLOWED, 403, "model_not_allowed",
    "permission_error", "permission_error")
TG_ERROR(NOT_FOUND, 404, "not_found",
    "invalid_request_error", "not_found_error")
TG_ERROR(METHOD_NOT_ALLOWED, 405, "method_not_allowed",
    "invalid_request_error", "invalid_request_error")
TG_ERROR(BODY_TOO_LARGE, 413, "request_too_large",
    "invalid_request_error", "request_too_large")
TG_ERROR(HEADERS_TOO_LARGE, 431, "request_too_large",
    "invalid_request_error", "request_too_large")
TG_ERROR(BUDGET_EXCEEDED, 429, "budget_exceeded",
    "insufficient_quota", "rate_limit_error")
TG_ERROR(RATE_LIMITED, 429, "rate_limited",
    "rate_limit_error", "rate_limit_error")
TG_ERROR(UPSTREAM_ERROR, 502, "upstream_error",
    "api_error", "api_error")
TG_ERROR(COUNTERS_UNAVAILABLE, 503, "counters_unavailable",
    "api_error", "overloaded_error")
TG_ERROR(LEDGER_UNAVAILABLE, 503, "ledger_unavailable",
    "api_error", "overloaded_error")
TG_ERROR(SHUTTING_DOWN, 503, "shutting_down",
    "api_error", "overloaded_error")
TG_ERROR(UPSTREAM_TIMEOUT, 504, "upstream_timeout",
    "api_error", "timeout_error")

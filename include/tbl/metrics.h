/*
 * Metric families (DESIGN.md section 10): one list for the enum, the name,
 * the type, the help text and the label names (comma-separated, "" none).
 * TG_METRIC(enum suffix, name, type, help, labels)
 */
TG_METRIC(REQUESTS, "tollgate_requests_total", "counter",
    "Requests answered, by app, model and HTTP status.", "app,model,code")
TG_METRIC(TOKENS, "tollgate_tokens_total", "counter",
    "Tokens metered, by app, model and token class.", "app,model,kind")
TG_METRIC(COST, "tollgate_cost_usd_total", "counter",
    "Cost metered in USD, by app and model.", "app,model")
TG_METRIC(DENIED, "tollgate_denied_total", "counter",
    "Requests refused by tollgate, by app and reason.", "app,reason")
TG_METRIC(BUDGET_RATIO, "tollgate_budget_used_ratio", "gauge",
    "Used and leased share of each limit at the last admission.",
    "app,limit")
TG_METRIC(ALERTS, "tollgate_budget_alerts_total", "counter",
    "Budget threshold alerts fired, by app.", "app")
TG_METRIC(DURATION, "tollgate_request_duration_seconds", "histogram",
    "Time from request to the end of the answer.", "")
TG_METRIC(TTFT, "tollgate_upstream_ttft_seconds", "histogram",
    "Time from request to the first byte relayed to the client.", "")
TG_METRIC(ACTIVE_STREAMS, "tollgate_active_streams", "gauge",
    "Streams being relayed now.", "")
TG_METRIC(LEDGER_QUEUE, "tollgate_ledger_queue_depth", "gauge",
    "Ledger rows waiting to be committed.", "")
TG_METRIC(LEDGER_ERRORS, "tollgate_ledger_errors_total", "counter",
    "Ledger commits that failed (and were retried).", "")
TG_METRIC(LEDGER_DROPPED, "tollgate_ledger_dropped_total", "counter",
    "Refused requests whose ledger row was dropped: the queue was half "
    "full.", "")
TG_METRIC(STORE_ERRORS, "tollgate_counter_store_errors_total", "counter",
    "Counter store steps that failed (Redis unreachable, timeouts).", "")
TG_METRIC(RELOADS, "tollgate_config_reloads_total", "counter",
    "Configuration reloads, by result.", "result")
TG_METRIC(UPSTREAM_HEALTH, "tollgate_upstream_health", "gauge",
    "Provider endpoints: 1 in service, 0 ejected after failures.",
    "provider,endpoint")
TG_METRIC(FALLBACKS, "tollgate_fallbacks_total", "counter",
    "Requests moved to a fallback model, by models and reason.",
    "from,to,reason")

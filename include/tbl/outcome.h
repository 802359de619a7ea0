/*
 * Ledger outcomes: one list for the enum, the ledger text and the log text.
 * TG_OUTCOME(enum suffix, ledger/log name)
 */
TG_OUTCOME(OK,			"ok")
TG_OUTCOME(DENIED,		"denied")
TG_OUTCOME(CLIENT_ABORTED,	"client_aborted")
TG_OUTCOME(UPSTREAM_ERROR,	"upstream_error")
TG_OUTCOME(CUT_AT_BUDGET,	"cut_at_budget")
TG_OUTCOME(TIMEOUT,		"timeout")

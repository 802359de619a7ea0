#!/bin/sh
# Budgets, rate limits and model policies with the local counter store:
# a budget that pays for exactly 10 requests serves at most 10 of 300
# concurrent streams; a per-minute limit admits exactly its number; team
# limits bind apps together; caps are lowered instead of refusing; a
# restart (even kill -9) rebuilds the counters from the ledger.
. "${top_srcdir:-.}/tests/e2e/lib.sh"
e2e_init budgets
mock_start
tg_config ", \"alerts\": {\"webhook\": \"$MOCK_URL/hook?from=tollgate\"}"
key() { printf 'tg_%s_%s' "$1" "$2"; }
SEC=BudgetSecretBudgetSecretBudgetSecret00
SECRETS_EXTRA=$SEC
cat >"$T/budgets/e2e.json" <<JSON
{
  "team": "e2e-team",
  "cost_center": "CC-E2E",
  "limits": [{"requests": 3, "per": "day"}],
  "apps": {
    "shared-a": {"keys": [{"id": "sharedaa", "hmac": "$(hmac "$SEC")"}]},
    "shared-b": {"keys": [{"id": "sharedbb", "hmac": "$(hmac "$SEC")"}]}
  }
}
JSON
cat >"$T/budgets/solo.json" <<JSON
{
  "team": "solo",
  "apps": {
    "ten": {"keys": [{"id": "tenxxxxx", "hmac": "$(hmac "$SEC")"}],
            "limits": [{"usd": 0.00093, "per": "month"}]},
    "burst": {"keys": [{"id": "burstxxx", "hmac": "$(hmac "$SEC")"}],
              "limits": [{"requests": 5, "per": "minute"}]},
    "alerty": {"keys": [{"id": "alertyxx", "hmac": "$(hmac "$SEC")"}],
               "limits": [{"usd": 0.001, "per": "day", "alert_at": [0.5, 0.9]}]},
    "down": {"keys": [{"id": "downxxxx", "hmac": "$(hmac "$SEC")"}],
             "limits": [{"usd": 0.01, "per": "day"}],
             "models": {"allow": ["gpt-4o", "gpt-4o-mini"],
                        "downgrade": [{"when_used": 0.5, "from": "gpt-4o", "to": "gpt-4o-mini"}]}},
    "cut": {"keys": [{"id": "cutxxxxx", "hmac": "$(hmac "$SEC")"}],
            "limits": [{"usd": 1, "per": "day"}]},
    "capped": {"keys": [{"id": "cappedxx", "hmac": "$(hmac "$SEC")"}],
               "limits": [{"usd": 0.0005, "per": "day"}],
               "models": {"max_output_tokens": 50}}
  }
}
JSON
tg_start

call() {	# call KEYID BODY [curl args]
	k=$(key "$1" "$SEC"); b=$2; shift 2
	curl -s -H "Authorization: Bearer $k" -H 'Content-Type: application/json' \
	    --data-binary "$b" "$@" "$TG_URL/v1/chat/completions"
}

# A request whose worst case is known exactly: the body is B bytes (the
# reserve prices B input tokens, a token being at least a byte) and asks
# for 100 output tokens; the mock reports exactly B and 100, so each
# served request costs its whole reserve: B*150 + 100*600 nano-USD.
# "ten" may spend 930000 nano-USD: ten requests when B = 220.
worst_case_body
body=$BODY
is "${#body}" 220 "the test body is 220 bytes"

mkdir -p "$T/ten" "$T/burst"
i=0
cpids=
while [ $i -lt 300 ]; do
	call tenxxxxx "$body" -N -o "$T/ten/t$i" -w '%{http_code}\n' >"$T/ten/c$i" &
	cpids="$cpids $!"
	i=$((i + 1))
done
wait $cpids
served=$(cat "$T"/ten/c* | grep -c '^200$')
denied=$(cat "$T"/ten/c* | grep -c '^429$')
is "$served" 10 "exactly 10 of 300 concurrent streams served"
is "$denied" 290 "the other 290 refused with 429"
d=$(grep -l budget_exceeded "$T"/ten/t* | head -1)
like "$(cat "$d")" '"code":"budget_exceeded","param":null,"scope":"app","unit":"usd","per":"month","limit":0.00093,"used":0.00093,"resets_at":"[0-9T:-]+Z"' \
    "denial says which limit, how much, when it resets"
wait_rows 300 || true
is "$(sql "SELECT count(*) || ':' || sum(cost_nusd) FROM usage WHERE app = 'ten' AND outcome = 'ok'")" "10:930000" \
    "ledger: 10 served, total equal to the limit"
is "$(sql "SELECT count(*) FROM usage WHERE app = 'ten' AND outcome = 'denied' AND status = 429")" 290 "ledger: 290 denied rows"
h=$(call tenxxxxx "$body" -D - -o /dev/null)
like "$h" "retry-after: [0-9]+" "retry-after on budget_exceeded"
like "$h" "x-should-retry: false" "x-should-retry: false on budget_exceeded"

# Per-minute request limit under a burst (not across a minute boundary).
[ "$(date +%S)" -lt 50 ] || sleep $((61 - $(date +%S)))
i=0
cpids=
while [ $i -lt 20 ]; do
	call burstxxx '{"model":"gpt-4o-mini","messages":[]}' -o "$T/burst/b$i" -w '%{http_code}\n' >"$T/burst/r$i" &
	cpids="$cpids $!"
	i=$((i + 1))
done
wait $cpids
is "$(cat "$T"/burst/r* | grep -c '^200$')" 5 "a burst of 20 against 5/minute admits exactly 5"
like "$(cat "$T"/burst/b* | grep -m1 rate_limited)" '"code":"rate_limited".*"unit":"requests","per":"minute","limit":5' "rate_limited names the limit"

# A team limit binds its apps together: 3 requests a day for a and b.
n=0
for k in sharedaa sharedbb sharedaa sharedbb sharedaa; do
	c=$(call $k '{"model":"gpt-4o-mini","messages":[]}' -o "$T/s" -w '%{http_code}')
	[ "$c" = 200 ] && n=$((n + 1))
done
is "$n" 3 "team limit shared by two apps"
like "$(cat "$T/s")" '"scope":"team"' "the refusal names the team scope"

# Caps: the policy cap (50) is applied; a cap the budget cannot pay is
# lowered to what it can pay, and the answer says so.
call cappedxx '{"model":"gpt-4o-mini","max_tokens":1000,"messages":[]}' -o /dev/null
like "$(mock_stats)" '\\"max_tokens\\": ?50[,}]' "policy max_output_tokens caps the request"
h=$(call cappedxx '{"model":"gpt-4o-mini","max_tokens":40,"messages":[],"mock":{"usage":{"input":1,"output":1}}}' -D - -o /dev/null)
like "$h" "x-tollgate-budget-remaining-usd: 0\\.[0-9]{6}" "remaining budget header"

# Alerts: each request costs exactly 150000 nano-USD (1000 input tokens);
# 0.5 of 0.001 USD is crossed by the 4th, 0.9 by the 6th; each fires once.
i=0
while [ $i -lt 7 ]; do
	call alertyxx '{"model":"gpt-4o-mini","max_tokens":1,"messages":[],"mock":{"usage":{"input":1000,"output":0}}}' -o /dev/null
	i=$((i + 1))
	[ $i -eq 3 ] && n3=$(grep -c '"msg":"budget alert"' "$T/tollgate.log")
done
sleep 0.3
is "${n3:-x}" 0 "no alert before the threshold"
is "$(grep -c '"msg":"budget alert"' "$T/tollgate.log")" 2 "two thresholds, two alerts, once each"
like "$(grep -m1 '"msg":"budget alert"' "$T/tollgate.log")" '"app":"alerty".*"threshold":0.5' "the alert names app and threshold"
like "$(mock_stats)" '"/hook": ?2' "the webhook got both alerts"

# Downgrade: gpt-4o costs 2500000 nano-USD here (1000 input tokens), so
# after two requests half of 0.01 USD is used and gpt-4o-mini serves.
for i in 1 2 3 4; do
	call downxxxx '{"model":"gpt-4o","max_tokens":1,"messages":[],"mock":{"usage":{"input":1000,"output":0}}}' -o /dev/null
done
sleep 0.3
is "$(sql "SELECT group_concat(model_requested || '>' || model || ':' || cost_nusd, ' ') FROM (SELECT * FROM usage WHERE app = 'down' ORDER BY ts_start, rowid)")" \
    "gpt-4o>gpt-4o:2500000 gpt-4o>gpt-4o:2500000 gpt-4o>gpt-4o-mini:150000 gpt-4o>gpt-4o-mini:150000" \
    "downgraded past when_used, priced as the model served"

# A provider that ignores the cap: the stream is cut once its output
# passes what the lease pays for (10 tokens + margin), billed as produced.
call cutxxxxx '{"model":"gpt-4o-mini","stream":true,"max_tokens":10,"messages":[],"mock":{"chunks":60}}' -N -o "$T/cut"
like "$(tail -n 3 "$T/cut")" 'exceeded the output this request' "the client gets an error event"
is "$(grep -c '"content":"tok' "$T/cut")" 14 "cut after 14 deltas (28 estimated tokens > 10 + 2 + 16)"
sleep 0.3
is "$(sql "SELECT outcome || ':' || output_tokens || ':' || usage_source FROM usage WHERE app = 'cut'")" \
    "cut_at_budget:30:estimated" "billed for what was produced, marked as an estimate"

# Anthropic callers get the refusal in Anthropic's shape.
code=$(curl -s -o "$T/a429" -w '%{http_code}' -H "x-api-key: $(key tenxxxxx "$SEC")" \
    -H 'anthropic-version: 2023-06-01' -H 'Content-Type: application/json' \
    --data-binary '{"model":"claude-haiku-4-5","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}' \
    "$TG_URL/v1/messages")
is "$code" 429 "budget refusal on /v1/messages"
like "$(cat "$T/a429")" '^\{"type":"error","error":\{"type":"rate_limit_error","message":"app budget exceeded[^"]*","code":"budget_exceeded","scope":"app","unit":"usd","per":"month"' \
    "in Anthropic's error shape"

# Restart: counters come back from the ledger, so "ten" stays spent.
tg_stop
tg_start
code=$(call tenxxxxx "$body" -o /dev/null -w '%{http_code}')
is "$code" 429 "after a restart the spent budget is still spent"

# kill -9 with leases open: the leases die with the process; the budget
# counts only what the ledger has.
sqlite3 "$T/ledger.db" "DELETE FROM usage WHERE app = 'ten'"
cpids=
for i in 1 2 3; do
	call tenxxxxx "$body" -N -o /dev/null &
	cpids="$cpids $!"
done
sleep 0.4
kill -9 "$TG_PID"
wait "$TG_PID" 2>/dev/null
wait $cpids 2>/dev/null
tg_start
i=0
ok10=0
while [ $i -lt 10 ]; do
	c=$(call tenxxxxx "$body" -o /dev/null -w '%{http_code}')
	[ "$c" = 200 ] && ok10=$((ok10 + 1))
	i=$((i + 1))
done
is "$ok10" 10 "after kill -9 the whole budget is available again"
is "$(call tenxxxxx "$body" -o /dev/null -w '%{http_code}')" 429 "and no more than that"

# Reload keeps the counters.
kill -HUP "$TG_PID"
sleep 0.3
is "$(call tenxxxxx "$body" -o /dev/null -w '%{http_code}')" 429 "counters survive a reload"
tg_stop
e2e_done

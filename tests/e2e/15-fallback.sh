#!/bin/sh
# Fallback endpoints and models: a refused endpoint is skipped and then
# ejected; a model answering 429/503 falls back to another, priced and
# budgeted as that model; a stream that already started is never retried;
# ejection and recovery show in the metrics.
. "${top_srcdir:-.}/tests/e2e/lib.sh"
e2e_init fallback
mock_start
MAIN_URL=$MOCK_URL
# A port with nothing listening: bind, note, close.
DEAD=$(( 20000 + ($$ * 13) % 30000 ))
while curl -s -o /dev/null "http://127.0.0.1:$DEAD/"; do DEAD=$((DEAD + 1)); done
tg_config
# Two providers: "multi" tries a dead endpoint first; models with fallbacks.
sed -i "s#\"mock\": {\"api\": \"openai\", \"base_url\": \"$MAIN_URL\"#\"mock\": {\"api\": \"openai\", \"endpoints\": [\"http://127.0.0.1:$DEAD\", \"$MAIN_URL\"], \"eject_after\": 2, \"eject_ms\": 800#" "$T/tollgate.json"
cat >"$T/models.json" <<JSON
{
  "version": "e2e-fb",
  "models": {
    "gpt-4o": {"provider": "mock", "fallback": ["gpt-4.1", "gpt-4o-mini"],
               "usd_per_mtok": {"input": 2.50, "output": 10.00}},
    "gpt-4.1": {"provider": "mock", "usd_per_mtok": {"input": 50.00, "output": 80.00}},
    "gpt-4o-mini": {"provider": "mock", "usd_per_mtok": {"input": 0.15, "output": 0.60}},
    "text-embedding-3-small": {"provider": "mock", "usd_per_mtok": {"input": 0.02}},
    "claude-haiku-4-5": {"provider": "mock-anthropic", "usd_per_mtok": {"input": 1.00, "output": 5.00}}
  }
}
JSON
cat >"$T/budgets/e2e.json" <<JSON
{
  "team": "e2e-team",
  "apps": {
    "e2e-app": {"keys": [{"id": "e2ekey01", "hmac": "$(hmac "$APP_SECRET")"}],
                "limits": [{"usd": 0.05, "per": "day"}],
                "models": {"allow": ["gpt-4o", "gpt-4o-mini"]}},
    "poor": {"keys": [{"id": "poorxxxx", "hmac": "$(hmac "$APP_SECRET")"}],
             "limits": [{"usd": 0.01, "per": "day"}]}
  }
}
JSON
tg_start

# The first endpoint refuses connections: served by the second.
for i in 1 2 3 4; do
	chat '{"model":"gpt-4o-mini","messages":[]}' -o /dev/null -w '%{http_code}\n' >>"$T/codes"
done
is "$(grep -c '^200$' "$T/codes")" 4 "every request served despite the dead endpoint"
wait_rows 4
is "$(sql "SELECT group_concat(attempts || '@' || upstream, ' ') FROM (SELECT * FROM usage ORDER BY ts_start, rowid)")" \
    "2@$MAIN_URL 2@$MAIN_URL 1@$MAIN_URL 1@$MAIN_URL" \
    "two attempts until the dead endpoint is ejected, then one; the row names the endpoint that served"
like "$(grep '"msg":"endpoint ejected"' "$T/tollgate.log")" "127.0.0.1:$DEAD" "ejection logged"
like "$(admin /metrics)" "tollgate_upstream_health\\{provider=\"mock\",endpoint=\"http://127.0.0.1:$DEAD\"\\} 0" "ejected endpoint at 0 in the metrics"

# The primary model answers 503, then 429: gpt-4.1 is not allowed for the
# app, so gpt-4o-mini serves, priced as gpt-4o-mini.
for st in 503 429; do
	h=$(chat "{\"model\":\"gpt-4o\",\"max_tokens\":10,\"messages\":[],\"mock\":{\"status\":$st,\"status_models\":[\"gpt-4o\"],\"usage\":{\"input\":1000,\"output\":10}}}" -D - -o "$T/fb$st")
	like "$h" "HTTP/1.1 200" "primary answering $st: served"
	like "$h" "x-tollgate-model: gpt-4o-mini" "x-tollgate-model names the fallback"
done
sleep 0.3
is "$(sql "SELECT group_concat(model_requested || '>' || model || ':' || cost_nusd || ':' || outcome, ' ') FROM (SELECT * FROM usage WHERE model_requested = 'gpt-4o' ORDER BY ts_start, rowid)")" \
    "gpt-4o>gpt-4o-mini:156000:ok gpt-4o>gpt-4o-mini:156000:ok" \
    "one row each, priced at the fallback's prices (1000*150 + 10*600)"
like "$(admin /metrics)" 'tollgate_fallbacks_total\{from="gpt-4o",to="gpt-4o-mini",reason="5xx"\} 1' "fallback counted (5xx)"
like "$(admin /metrics)" 'tollgate_fallbacks_total\{from="gpt-4o",to="gpt-4o-mini",reason="429"\} 1' "fallback counted (429)"
b=$(admin /admin/apps/e2e-app/budget)
spent=$(sql "SELECT sum(cost_nusd) FROM usage")
like "$b" "\"unit\":\"usd\",\"per\":\"day\",\"limit\":0.05,\"used\":$(awk "BEGIN { printf \"%.7g\", $spent / 1e9 }"),\"leased\":0" \
    "the budget holds exactly what the ledger has, no lease left behind"

# For "poor", gpt-4.1 is allowed but its worst case (this 250-byte body
# at 50 and 80 USD/Mtok) costs more than the day's 0.01 USD: the next
# fallback serves.
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer tg_poorxxxx_$APP_SECRET" \
    -H 'Content-Type: application/json' \
    --data-binary '{"model":"gpt-4o","max_tokens":10,"messages":[{"role":"user","content":"padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding"}],"mock":{"status":503,"status_models":["gpt-4o"]}}' \
    "$TG_URL/v1/chat/completions")
is "$code" 200 "an unaffordable fallback is skipped"
sleep 0.3
is "$(sql "SELECT model_requested || '>' || model FROM usage WHERE app = 'poor'")" "gpt-4o>gpt-4o-mini" "served by the next, affordable fallback"
like "$(admin /admin/apps/poor/budget)" '"leased":0' "no lease left from the skipped fallback"

# Every candidate fails: the client gets the provider's first answer.
code=$(chat '{"model":"gpt-4o","messages":[],"mock":{"status":503}}' -o "$T/all" -w '%{http_code}')
is "$code" 503 "no candidate left: the primary's 503 is relayed"

# A stream that already sent bytes is never retried.
nreq() { mock_stats | sed -n 's/.*"requests": *\([0-9]*\).*/\1/p'; }
n0=$(nreq)
chat '{"model":"gpt-4o","stream":true,"messages":[],"mock":{"chunks":10,"reset_after":2}}' -N -o "$T/st"
like "$(tail -n 3 "$T/st")" '"code":"upstream_error"' "mid-stream failure: error event"
sleep 0.3
is "$(sql "SELECT model || ':' || outcome FROM usage ORDER BY ts_start DESC, rowid DESC LIMIT 1")" \
    "gpt-4o:upstream_error" "no fallback after the first byte; one row"
is "$(( $(nreq) - n0 ))" 1 "the provider was asked once for that stream"

# Ejection and recovery: the second endpoint's mock fails, then heals.
curl -s -X POST --data '{"status": 503}' "$MAIN_URL/mock/config" >/dev/null
sleep 1
for i in 1 2 3; do chat '{"model":"gpt-4o-mini","messages":[]}' -o /dev/null; done
like "$(admin /metrics)" "tollgate_upstream_health\\{provider=\"mock\",endpoint=\"$MAIN_URL\"\\} 0" "a failing endpoint is ejected"
curl -s -X POST --data '{"status": 0}' "$MAIN_URL/mock/config" >/dev/null
sleep 1
code=$(chat '{"model":"gpt-4o-mini","messages":[]}' -o /dev/null -w '%{http_code}')
is "$code" 200 "after the cool-down it serves again (half-open probe)"
like "$(admin /metrics)" "tollgate_upstream_health\\{provider=\"mock\",endpoint=\"$MAIN_URL\"\\} 1" "and is back at 1"
like "$(cat "$T/tollgate.log")" '"msg":"endpoint recovered"' "recovery logged"
tg_stop
is "$(sql "SELECT count(*) - count(DISTINCT request_id) FROM usage")" 0 "never a row twice"
e2e_done

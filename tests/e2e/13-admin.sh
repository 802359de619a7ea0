#!/bin/sh
# The admin listener: token required (but /healthz), Prometheus metrics
# with the contract's names, readiness, usage equal to the export, an
# app's budget windows, reload with its errors.
. "${top_srcdir:-.}/tests/e2e/lib.sh"
e2e_init admin
mock_start
tg_config
SEC=AdminSecretAdminSecretAdminSecret000
SECRETS_EXTRA=$SEC
cat >"$T/budgets/e2e.json" <<JSON
{
  "team": "e2e-team",
  "limits": [{"requests": 1000, "per": "day"}],
  "apps": {
    "e2e-app": {"keys": [{"id": "e2ekey01", "hmac": "$(hmac "$APP_SECRET")"}],
                "limits": [{"usd": 1, "per": "month", "alert_at": [0.5]},
                           {"tokens": 100000, "per": "minute"}],
                "models": {"allow": ["gpt-4o-mini"]}}
  }
}
JSON
tg_start
like "$TG_ADMIN_URL" '^http://127.0.0.1:[0-9]+$' "admin listener up"

is "$(curl -s -o /dev/null -w '%{http_code}' "$TG_ADMIN_URL/healthz")" 200 "/healthz is open"
is "$(curl -s -o /dev/null -w '%{http_code}' "$TG_ADMIN_URL/metrics")" 401 "/metrics wants the token"
is "$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer wrong' "$TG_ADMIN_URL/metrics")" 401 "a wrong token is refused"
is "$(admin /readyz -o /dev/null -w '%{http_code}')" 200 "/readyz: ledger and counters fine"

chat '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello"}]}' -o /dev/null
chat '{"model":"gpt-4o-mini","stream":true,"messages":[],"mock":{"chunks":4}}' -o /dev/null
chat '{"model":"gpt-4o","messages":[]}' -o /dev/null
wait_rows 3
m=$(admin /metrics)
like "$m" '# TYPE tollgate_requests_total counter' "requests_total family"
like "$m" 'tollgate_requests_total\{app="e2e-app",model="gpt-4o-mini",code="200"\} 2' "requests counted by app, model, code"
like "$m" 'tollgate_denied_total\{app="e2e-app",reason="model_not_allowed"\} 1' "denials counted by reason"
out=$(sql "SELECT sum(output_tokens) FROM usage WHERE outcome = 'ok'")
like "$m" "tollgate_tokens_total\\{app=\"e2e-app\",model=\"gpt-4o-mini\",kind=\"output\"\\} $out" "tokens counted as the ledger"
like "$m" 'tollgate_request_duration_seconds_bucket\{le="\+Inf"\} 3' "duration histogram"
like "$m" 'tollgate_upstream_ttft_seconds_bucket\{le="300"\}' "TTFT buckets reach minutes"
like "$m" 'tollgate_budget_used_ratio\{app="e2e-app",limit="app:usd/month"\} 0\.' "budget ratio gauge"
like "$m" 'tollgate_active_streams 0' "no stream active"
like "$m" 'tollgate_ledger_queue_depth 0' "ledger queue drained"
like "$m" 'tollgate_config_reloads_total' "reloads family"
case $m in *"$APP_SECRET"*|*"$PROVIDER_KEY"*) ok 1 "no key in metrics" ;; *) ok 0 "no key in metrics" ;; esac
# The shipped Grafana dashboard only uses metrics tollgate exports.
missing=
for name in $(grep -o 'tollgate_[a-z_]*' "$top_srcdir/contrib/grafana/tollgate-dashboard.json" | sed 's/_bucket$//' | sort -u); do
	printf '%s\n' "$m" | grep -q "^# TYPE $name " || missing="$missing $name"
done
is "${missing:-none}" none "every metric of the Grafana dashboard exists"

today=$(date -u +%Y-%m-%d)
admin "/admin/usage?from=$today&to=$today&group_by=app,model&format=csv" >"$T/a.csv"
"$TOLLGATE" export -c "$T/tollgate.json" --from "$today" --to "$today" --group-by app,model >"$T/e.csv"
cmp -s "$T/a.csv" "$T/e.csv"
ok $? "/admin/usage equals tollgate export"
like "$(admin "/admin/usage?from=$today&to=$today&format=json" | tr -d ' \n')" '"model":"gpt-4o-mini","requests":2,' "/admin/usage as JSON"
is "$(admin "/admin/usage?from=bad&to=$today" -o /dev/null -w '%{http_code}')" 400 "bad dates: 400"

b=$(admin /admin/apps/e2e-app/budget)
like "$b" '^\{"app":"e2e-app","team":"e2e-team","windows":\[' "budget view"
like "$b" '\{"scope":"app","unit":"usd","per":"month","limit":1,"used":[0-9.e-]+,"leased":0,"resets_at":"[0-9-]+T[0-9:]+Z"\}' "money window with used and leased"
like "$b" '"scope":"team","unit":"requests","per":"day","limit":1000,"used":2,' "team window"
is "$(admin /admin/apps/nobody/budget -o /dev/null -w '%{http_code}')" 404 "unknown app: 404"

# W3C trace context: passed upstream and logged.
tp=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
chat '{"model":"gpt-4o-mini","messages":[]}' -H "traceparent: $tp" -o /dev/null
like "$(mock_stats)" "\"traceparent\": ?\"$tp\"" "the client's traceparent reaches the provider"
sleep 0.2
like "$(grep '"msg":"access"' "$T/tollgate.log" | tail -1)" "\"traceparent\":\"$tp\"" "and is in the access log"
chat '{"model":"gpt-4o-mini","messages":[]}' -H "traceparent: bogus" -o /dev/null
like "$(mock_stats)" '"traceparent": ?"00-[0-9a-f]{32}-[0-9a-f]{16}-01"' "a malformed one is replaced by a new trace"

printf '{"team": ' >"$T/budgets/zzz.json"
r=$(admin /admin/reload -X POST)
like "$r" '"result":"failed","errors":\["[^"]*zzz.json:1:[0-9]+: ' "reload reports the broken file"
rm "$T/budgets/zzz.json"
like "$(admin /admin/reload -X POST)" '"result":"ok"' "reload applies a good config"
like "$(admin /metrics)" 'tollgate_config_reloads_total\{result="failed"\} 1' "reload results counted"
tg_stop
e2e_done

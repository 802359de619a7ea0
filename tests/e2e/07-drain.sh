#!/bin/sh
# SIGTERM drains: streams in flight finish, new connections are refused,
# every finished request is in the ledger, exit status 0.  SIGHUP reloads
# and a broken reload keeps the running configuration.
. "${top_srcdir:-.}/tests/e2e/lib.sh"
e2e_init drain
mock_start
tg_config
tg_start

# SIGHUP with a broken budget file: still serving on the old generation.
cp "$T/budgets/e2e.json" "$T/e2e.json.good"
printf '{"team": "e2e-team", "apps": {' >"$T/budgets/e2e.json"
kill -HUP "$TG_PID"
sleep 0.3
like "$(cat "$T/tollgate.log")" 'reload failed' "broken reload logged"
code=$(chat '{"model":"gpt-4o-mini","messages":[]}' -o /dev/null -w '%{http_code}')
is "$code" 200 "still serving with the previous configuration"
cp "$T/e2e.json.good" "$T/budgets/e2e.json"
kill -HUP "$TG_PID"
sleep 0.3
like "$(cat "$T/tollgate.log")" '"msg":"reloaded ' "good reload applied"

# Three slow streams (2 s each), then SIGTERM while they run.
cpids=
for i in 1 2 3; do
	chat '{"model":"gpt-4o-mini","stream":true,"messages":[],"mock":{"chunks":20,"delay_ms":100}}' -N -o "$T/d$i" &
	cpids="$cpids $!"
done
sleep 0.5
kill -TERM "$TG_PID"
sleep 0.2
code=$(chat '{"model":"gpt-4o-mini","messages":[]}' -o /dev/null -w '%{http_code}' --max-time 2)
like "$code" "^(000|503)$" "new requests refused while draining"
wait "$TG_PID"
is $? 0 "exit status 0 after the drain"
wait $cpids
is "$(cat "$T"/d1 "$T"/d2 "$T"/d3 | grep -c '^data: \[DONE\]')" 3 "streams in flight completed"
is "$(sql "SELECT count(*) FROM usage WHERE stream = 1 AND outcome = 'ok' AND output_tokens = 40")" 3 "drained streams are in the ledger"
like "$(cat "$T/tollgate.log")" '"msg":"stopped"' "logged the stop"

# A stream longer than drain_timeout_s is ended with an error event, billed
# for what was produced, and the process still exits.
tg_config ', "limits": {"drain_timeout_s": 1}'
tg_start
chat '{"model":"gpt-4o-mini","stream":true,"messages":[],"mock":{"chunks":100,"delay_ms":100}}' -N -o "$T/long" &
cpid=$!
sleep 0.5
t0=$(date +%s)
kill -TERM "$TG_PID"
wait "$TG_PID"
is $? 0 "exit status 0 after the drain timeout"
[ $(( $(date +%s) - t0 )) -le 3 ]
ok $? "drain bounded by drain_timeout_s"
wait $cpid
like "$(tail -n 3 "$T/long")" 'shutting down' "the cut stream ends with an error event"
is "$(sql "SELECT outcome || ':' || (output_tokens > 0) FROM usage ORDER BY ts_start DESC, rowid DESC LIMIT 1")" \
    "timeout:1" "the cut stream is billed for what was produced"
e2e_done

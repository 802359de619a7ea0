#!/bin/sh
# The Redis counter store: two tollgate processes sharing one real
# redis-server enforce one budget; Redis going away is answered by
# on_error (deny: 503 within timeout_ms; allow: admitted, logged);
# reconcile rebuilds the counters from the ledgers; leases of a killed
# process expire by themselves.
. "${top_srcdir:-.}/tests/e2e/lib.sh"
e2e_init redis
redis_start
mock_start
SEC=RedisSecretRedisSecretRedisSecret00
SECRETS_EXTRA=$SEC
# A generous timeout while 300 requests load one Redis on a small, shared
# machine; the outage checks below use 250 ms.  Leases live 60 s (a loaded
# machine can stretch a stream past a short TTL, and an expired lease no
# longer holds its budget), except in the kill -9 check at the end (3 s).
counters() {
	COUNTERS="\"counters\": {\"store\": \"redis\", \"url\": \"redis://127.0.0.1:$REDIS_PORT/0\", \"timeout_ms\": $1, \"on_error\": \"$2\", \"lease_ttl_s\": ${3:-60}}"
}
counters 3000 deny
budgets() {
cat >"$T/budgets/e2e.json" <<JSON
{
  "team": "e2e-team",
  "apps": {
    "ten": {"keys": [{"id": "tenxxxxx", "hmac": "$(hmac "$SEC")"}],
            "limits": [{"usd": 0.00093, "per": "month"}]},
    "burst": {"keys": [{"id": "burstxxx", "hmac": "$(hmac "$SEC")"}],
              "limits": [{"requests": 5, "per": "minute"}]}
  }
}
JSON
}
tg_config ", $COUNTERS"
budgets
sed 's/"ledger.db"/"ledger2.db"/' "$T/tollgate.json" >"$T/tollgate2.json"
tg_start
tg_start2 "$T/tollgate2.json" "$T/tollgate2.log"

call() {	# call URL KEYID BODY [curl args]
	u=$1; k=tg_$2_$SEC; b=$3; shift 3
	curl -s -H "Authorization: Bearer $k" -H 'Content-Type: application/json' \
	    --data-binary "$b" "$@" "$u/v1/chat/completions"
}

# As in 09-budgets: each served request costs exactly its 93000 nano-USD
# reserve, and "ten" may spend 930000.
worst_case_body
body=$BODY

mkdir -p "$T/ten"
i=0
cpids=
while [ $i -lt 300 ]; do
	if [ $((i % 2)) -eq 0 ]; then u=$TG_URL; else u=$TG2_URL; fi
	call "$u" tenxxxxx "$body" -N -o "$T/ten/t$i" -w '%{http_code}\n' >"$T/ten/c$i" &
	cpids="$cpids $!"
	i=$((i + 1))
done
wait $cpids
is "$(cat "$T"/ten/c* | grep -c '^200$')" 10 "two processes, one Redis: exactly 10 of 300 served"
is "$(cat "$T"/ten/c* | grep -c '^429$')" 290 "the rest refused"
# Each replica's writer commits on its own; wait for both ledgers.
wait_rows 150 || true
i=0
while [ "$(sqlite3 "$T/ledger2.db" 'SELECT count(*) FROM usage' 2>/dev/null)" != 150 ] && [ $i -lt 200 ]; do
	sleep 0.05
	i=$((i + 1))
done
a=$(sql "SELECT count(*) FROM usage WHERE outcome = 'ok'")
b=$(sqlite3 "$T/ledger2.db" "SELECT count(*) FROM usage WHERE outcome = 'ok'")
is "$((a + b))" 10 "the two ledgers hold 10 served requests together"
spent=$(( $(sql "SELECT coalesce(sum(cost_nusd),0) FROM usage") + $(sqlite3 "$T/ledger2.db" "SELECT coalesce(sum(cost_nusd),0) FROM usage") ))
[ "$spent" -le 930000 ]
ok $? "ledger total $spent <= the limit 930000"

# A burst on two processes against 5 per minute.
[ "$(date +%S)" -lt 50 ] || sleep $((61 - $(date +%S)))
mkdir -p "$T/burst"
i=0
cpids=
while [ $i -lt 20 ]; do
	if [ $((i % 2)) -eq 0 ]; then u=$TG_URL; else u=$TG2_URL; fi
	call "$u" burstxxx '{"model":"gpt-4o-mini","messages":[]}' -o /dev/null -w '%{http_code}\n' >"$T/burst/r$i" &
	cpids="$cpids $!"
	i=$((i + 1))
done
wait $cpids
is "$(cat "$T"/burst/r* | grep -c '^200$')" 5 "burst across two processes admits exactly 5"

# Counters in Redis equal the ledgers.
month=$(sed -n 's/.*"resets_at":"\([^"]*\)".*/\1/p' "$T"/ten/t* 2>/dev/null | head -1)
key=$(redis-cli -p "$REDIS_PORT" --scan --pattern 'tg:c:app/ten/month/*' | head -1)
is "$(redis-cli -p "$REDIS_PORT" hget "$key" u0)" "$spent" "Redis month counter equals the ledgers' cost"

# Redis stops: on_error deny answers 503 within timeout_ms.
tg_stop
kill "$TG2_PID"; wait "$TG2_PID" 2>/dev/null
counters 250 deny
tg_config ", $COUNTERS"
budgets
tg_start
is "$(admin /readyz -o /dev/null -w '%{http_code}')" 200 "/readyz while Redis answers"
kill -STOP "$REDIS_PID"
is "$(admin /readyz -o "$T/ready" -w '%{http_code}')" 503 "/readyz says 503 while Redis is away"
like "$(cat "$T/ready")" '"code":"counters_unavailable"' "and why"
t0=$(date +%s%N)
code=$(call "$TG_URL" burstxxx '{"model":"gpt-4o-mini","messages":[]}' -o "$T/b503" -w '%{http_code}')
t1=$(date +%s%N)
is "$code" 503 "Redis unreachable, on_error deny: 503"
like "$(cat "$T/b503")" '"code":"counters_unavailable"' "counters_unavailable"
[ $(( (t1 - t0) / 1000000 )) -lt 1500 ]
ok $? "answered within about timeout_ms ($(( (t1 - t0) / 1000000 )) ms)"
kill -CONT "$REDIS_PID"
tg_stop

# on_error allow: admitted against the in-process fallback, and logged.
counters 250 allow
tg_config ", $COUNTERS"
budgets
tg_start
kill -STOP "$REDIS_PID"
code=$(call "$TG_URL" burstxxx '{"model":"gpt-4o-mini","messages":[]}' -o /dev/null -w '%{http_code}' --max-time 5)
kill -CONT "$REDIS_PID"
like "$code" "^(200|429)$" "Redis unreachable, on_error allow: admitted against the fallback"
like "$(cat "$T/tollgate.log")" 'in-process fallback' "the fallback is logged"
tg_stop

# Redis loses everything; reconcile rebuilds the open windows from both
# ledgers.
counters 3000 deny 3
tg_config ", $COUNTERS"
budgets
redis-cli -p "$REDIS_PORT" flushall >/dev/null
"$TOLLGATE" reconcile -c "$T/tollgate.json" --ledger "$T/ledger.db" --ledger "$T/ledger2.db" >"$T/rec" 2>&1
ok $? "reconcile runs"
key=$(redis-cli -p "$REDIS_PORT" --scan --pattern 'tg:c:app/ten/month/*' | head -1)
is "$(redis-cli -p "$REDIS_PORT" hget "$key" u0)" "$spent" "reconciled counter equals the ledgers"
tg_start
is "$(call "$TG_URL" tenxxxxx "$body" -o /dev/null -w '%{http_code}')" 429 "the rebuilt budget is still spent"

# kill -9 with leases open: they stop counting after lease_ttl_s (3 s).
redis-cli -p "$REDIS_PORT" flushall >/dev/null
cpids=
for i in 1 2 3 4 5 6 7 8 9 10; do
	call "$TG_URL" tenxxxxx "$body" -N -o /dev/null &
	cpids="$cpids $!"
done
sleep 0.5
kill -9 "$TG_PID"
wait "$TG_PID" 2>/dev/null
wait $cpids 2>/dev/null
tg_start
is "$(call "$TG_URL" tenxxxxx "$body" -o /dev/null -w '%{http_code}')" 429 "leases of the killed process still count at first"
sleep 3.5
n=0
for i in 1 2 3 4 5 6 7 8 9 10; do
	c=$(call "$TG_URL" tenxxxxx "$body" -o /dev/null -w '%{http_code}')
	[ "$c" = 200 ] && n=$((n + 1))
done
is "$n" 10 "after lease expiry the whole budget is available, nothing counted twice"
tg_stop
e2e_done

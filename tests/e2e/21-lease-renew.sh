#!/bin/sh
# Lease renewal: with lease_ttl_s 2, streams that run 5.4 s keep their hold
# on the budget while they run, so requests that arrive after the leases'
# first deadline are still refused (local store; Redis store with two
# replicas; the in-process fallback while Redis is away), and the leases of
# a replica killed with -9 still stop counting after its lease_ttl_s.
. "${top_srcdir:-.}/tests/e2e/lib.sh"
e2e_init lease-renew
redis_start
mock_start
SEC=RenewSecretRenewSecretRenewSecret000
SECRETS_EXTRA=$SEC
N=4

# "four" may spend 372000 nano-USD: N = 4 requests of 93000 (lib.sh,
# worst_case_body).
budgets() {
	cat >"$T/budgets/e2e.json" <<JSON
{
  "team": "e2e-team",
  "apps": {
    "four": {"keys": [{"id": "fourxxxx", "hmac": "$(hmac "$SEC")"}],
             "limits": [{"usd": 0.000372, "per": "month"}]}
  }
}
JSON
}

call() {	# call URL BODY [curl args]
	u=$1; b=$2; shift 2
	curl -s -H "Authorization: Bearer tg_fourxxxx_$SEC" \
	    -H 'Content-Type: application/json' --max-time 30 \
	    --data-binary "$b" "$@" "$u/v1/chat/completions"
}

# The worst case of lib.sh as a 5.4 s stream (9 chunks 600 ms apart), its
# size and so its reserve unchanged.
worst_case_body
quick=$BODY
slow=$(printf '%s' "$BODY" | sed 's/"chunks":50,"delay_ms":20/"chunks":9,"delay_ms":600/')
is "${#slow}" "${#quick}" "the slow body reserves what the quick one does"

# launch DIR BODY URL...: N requests, spread over the URLs, in the
# background (CPIDS); each one's answer goes to DIR/tI, its status to DIR/cI.
launch() {
	d=$1; b=$2; shift 2
	mkdir -p "$d"
	CPIDS=
	i=0
	while [ $i -lt $N ]; do
		eval "u=\${$((i % $# + 1))}"
		call "$u" "$b" -N -o "$d/t$i" -w '%{http_code}\n' >"$d/c$i" &
		CPIDS="$CPIDS $!"
		i=$((i + 1))
	done
}

# wave DIR URL...: N slow streams; returns once each has its first bytes.
wave() {
	d=$1; shift
	launch "$d" "$slow" "$@"
	j=0
	while [ $j -lt 400 ]; do
		k=0
		for f in "$d"/t*; do [ -s "$f" ] && k=$((k + 1)); done
		[ $k -eq $N ] && return 0
		sleep 0.05
		j=$((j + 1))
	done
	bail "the first wave of streams did not start"
}

# late DIR URL...: N more requests, concurrently; waits for them.
late() {
	first=$CPIDS
	d=$1; shift
	launch "$d" "$quick" "$@"
	wait $CPIDS
	CPIDS=$first
}

served() { cat "$1"/c* | grep -c '^200$'; }

# still_streaming DIR: no stream of DIR has ended yet.
still_streaming() { ! grep -l 'DONE' "$1"/t* >/dev/null 2>&1; }

# run NAME URL...: a wave of N 5.4-s streams; 2.5 s after they all
# started (past their first deadline) N more requests; exactly N are
# served.
run() {
	name=$1; shift
	wave "$T/$name/first" "$@"
	sleep 2.5
	still_streaming "$T/$name/first"
	ok $? "$name: 2.5 s after their start, past their first deadline, the first $N streams still run"
	b=$(admin /admin/apps/four/budget)
	like "$b" '"leased":0.000372,' "$name: their leases all still count"
	if [ "$name" = redis ]; then
		is "$(redis-cli -p "$REDIS_PORT" zcount tg:leases "($(date +%s%3N)" +inf)" $N \
		    "$name: their deadlines in tg:leases are all still ahead"
	fi
	late "$T/$name/late" "$@"
	wait $CPIDS
	is "$(served "$T/$name/first")" $N "$name: the first $N streams served"
	is "$(grep -l 'data: \[DONE\]' "$T/$name/first"/t* | wc -l | tr -d ' ')" $N \
	    "$name: and none of them cut"
	is "$(served "$T/$name/late")" 0 "$name: the $N later requests refused: exactly $N admitted"
	is "$(cat "$T/$name/late"/c* | grep -c '^429$')" $N "$name: with 429"
}

# Local store.
tg_config ", \"counters\": {\"store\": \"local\", \"lease_ttl_s\": 2}"
budgets
tg_start
run local "$TG_URL"
wait_rows $((2 * N)) || true
is "$(sql "SELECT count(*) FROM usage WHERE outcome = 'ok'")" $N "local: $N served rows in the ledger"
tg_stop

# Redis store, two replicas.
counters() {	# counters TTL [TIMEOUT_MS ON_ERROR]
	COUNTERS="\"counters\": {\"store\": \"redis\", \"url\": \"redis://127.0.0.1:$REDIS_PORT/0\", \"timeout_ms\": ${2:-3000}, \"on_error\": \"${3:-deny}\", \"lease_ttl_s\": $1}"
}
counters 2
tg_config ", $COUNTERS"
budgets
sed 's/"ledger.db"/"ledger2.db"/' "$T/tollgate.json" >"$T/tollgate2.json"
tg_start
tg_start2 "$T/tollgate2.json" "$T/tollgate2.log"
run redis "$TG_URL" "$TG2_URL"

# Redis away, on_error allow: the leases are on the in-process fallback
# (seeded from its own, new ledger) and renewed there.
tg_stop
counters 2 250 allow
tg_config ", $COUNTERS"
budgets
sed -i 's/"ledger.db"/"ledger3.db"/' "$T/tollgate.json"
tg_start
kill -STOP "$REDIS_PID"
wave "$T/fallback" "$TG_URL"
sleep 2.5
late "$T/fallback-late" "$TG_URL"
wait $CPIDS
kill -CONT "$REDIS_PID"
is "$(served "$T/fallback")" $N "fallback: the first $N streams served"
is "$(served "$T/fallback-late")" 0 "fallback: the $N later requests refused: exactly $N admitted"
like "$(cat "$T/tollgate.log")" 'in-process fallback' "fallback: it was the fallback"

# kill -9 with leases open: the killed replica renews nothing, so its
# leases stop counting lease_ttl_s (here 4 s) after its last renewal.
redis-cli -p "$REDIS_PORT" flushall >/dev/null
tg_stop
counters 4
tg_config ", $COUNTERS"
budgets
tg_start
wave "$T/kill" "$TG_URL"
kill -9 "$TG_PID"
wait "$TG_PID" 2>/dev/null
t_kill=$(date +%s%N)
is "$(grep -l '^data: ' "$T/kill"/t* | wc -l | tr -d ' ')" $N \
    "kill -9: with $N streams open"
is "$(call "$TG2_URL" "$quick" -o /dev/null -w '%{http_code}')" 429 \
    "kill -9: the other replica still sees the killed one's leases"
wait $CPIDS 2>/dev/null
# Renewed at the latest just before the kill, its leases end 4 s after it.
sleep $(awk "BEGIN { s = 4.5 - ($(date +%s%N) - $t_kill) / 1e9; printf \"%.2f\", (s > 0 ? s : 0) }")
late "$T/after-kill" "$TG2_URL"
is "$(served "$T/after-kill")" $N "kill -9: 4 s later the whole budget is back"
is "$(call "$TG2_URL" "$quick" -o /dev/null -w '%{http_code}')" 429 \
    "kill -9: and counted once"
kill "$TG2_PID"
wait "$TG2_PID" 2>/dev/null
e2e_done

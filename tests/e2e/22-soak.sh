#!/bin/sh
# bench/soak, short: 20 s of the soak's mixed load (both APIs, streams,
# provider errors, resets, invalid answers, refusals, clients that give up
# mid-stream and before the headers) on the tollgate just built, so the
# soak cannot rot: RSS and descriptors flat, no socket error, a clean
# exit and, in an ASan build, no leak.  Then 15 s on the Redis counter
# store (a redis-server of its own), after which Redis must hold no lease
# and the app's month counter exactly the ledger's cost and requests.
. "${top_srcdir:-.}/tests/e2e/lib.sh"
e2e_init soak
command -v wrk >/dev/null 2>&1 ||
    bail "wrk is not installed (contrib/quickstart.sh installs it)"
SOAK_DURATION=20 SOAK_INTERVAL=2 SOAK_TOLLGATE=$TOLLGATE SOAK_MOCK=$MOCK \
    SOAK_CSV=$T/soak.csv TMPDIR=$T "$top_srcdir/bench/soak" >"$T/soak.out" 2>"$T/soak.err"
st=$?
ok $st "bench/soak passes"
sed 's/^/# /' "$T/soak.out"
[ $st -eq 0 ] || sed 's/^/# /' "$T/soak.err" | tail -30
v=$(sed -n 's/^  verdict *//p' "$T/soak.out")
if grep -q -a __asan_init "$TOLLGATE"; then
	is "$v" "rss ok, fds ok, load ok, exit 0 / leaks ok" "flat, served, no leak (LeakSanitizer)"
else
	like "$v" '^rss ok, fds ok, load ok, exit 0 / leaks ok' "flat, served, clean exit"
fi
like "$(wc -l <"$T/soak.csv")" '^ *1[1-9]$' "a sample every 2 s"
like "$(sed -n 's/^  requests *\([0-9]*\) by wrk.*/\1/p' "$T/soak.out")" '^[0-9]{3,}$' "hundreds of requests at least"

if command -v redis-server >/dev/null 2>&1; then
	mkdir -p "$T/redis"
	SOAK_STORE=redis SOAK_DURATION=15 SOAK_INTERVAL=3 SOAK_TOLLGATE=$TOLLGATE \
	    SOAK_MOCK=$MOCK SOAK_CSV=$T/redis/soak.csv TMPDIR=$T/redis \
	    "$top_srcdir/bench/soak" >"$T/redis/soak.out" 2>"$T/redis/soak.err"
	st=$?
	ok $st "bench/soak passes on the Redis store"
	sed 's/^/# /' "$T/redis/soak.out"
	[ $st -eq 0 ] || sed 's/^/# /' "$T/redis/soak.err" | tail -30
	like "$(sed -n 's/^  verdict *//p' "$T/redis/soak.out")" \
	    ', counters ok \(0 [1-9][0-9]* [1-9][0-9]* in Redis and the ledger\)$' \
	    "Redis: no lease left, the month counter equals the ledger"
else
	bail "redis-server is not installed (contrib/quickstart.sh installs it)"
fi
e2e_done

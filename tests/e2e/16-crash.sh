#!/bin/sh
# Crash consistency: kill -9 tollgate at a random moment under 200
# concurrent streams, restart it on the same ledger, and check after every
# round that
#   - PRAGMA integrity_check says ok and no request_id is there twice (nor
#     did two requests ever share an id: INSERT OR IGNORE would hide that);
#   - every request the mock provider answered in full is in the ledger or
#     was still in flight.  "In flight" is not taken on trust: a request
#     tollgate had not finished (no access line yet) was in flight; one it
#     had finished may be missing only if it finished after the last row
#     that did reach the ledger (the writer commits in order, in batches of
#     <= 50 ms), give or take CRASH_SLACK_MS of thread scheduling.  The age
#     of such rows at the kill is the group-commit window; it is measured
#     and bounded by CRASH_WINDOW_MS;
#   - the counters equal the ledger: with the local store, the admin budget
#     view (rebuilt from the ledger at start) shows the ledger's sums and no
#     lease; with Redis, after `tollgate reconcile`, every counter holds the
#     ledger's sums and, as leased, exactly the reserves of the live leases.
. "${top_srcdir:-.}/tests/e2e/lib.sh"
e2e_init crash
ROUNDS=${CRASH_ROUNDS:-20}
REDIS_ROUNDS=${CRASH_REDIS_ROUNDS:-5}
STREAMS=${CRASH_STREAMS:-200}
: "${CRASH_SLACK_MS:=100}"
: "${CRASH_WINDOW_MS:=250}"
SEC=CrashSecretCrashSecretCrashSecret0001
SECRETS_EXTRA=$SEC
redis_start
mock_start

now_ms() {
	date +%s%3N
}

# forget PID: a process that is gone leaves the cleanup list, so that its
# number, should it be reused, is never killed.
forget() {
	pids=$(printf '%s\n' $pids | grep -vx "$1" | tr '\n' ' ')
}

tg_config ", \"log\": {\"level\": \"info\", \"access\": true}"
budgets() {
	cat >"$T/budgets/crash.json" <<JSON
{
  "team": "crash-team",
  "limits": [{"usd": 100000, "per": "month"}],
  "apps": {
    "crash": {
      "keys": [{"id": "crashkey", "hmac": "$(hmac "$SEC")"}],
      "limits": [{"usd": 10000, "per": "month"},
                 {"tokens": 1000000000, "per": "month"},
                 {"requests": 100000000, "per": "month"}]
    }
  }
}
JSON
}
budgets

# One curl runs all the streams at once; they last 100 to 800 ms at the
# mock (4 to 32 deltas 25 ms apart), so at any kill some have finished and
# some have not.  Its configuration holds the app key, so it goes through
# a pipe: no file of the test may hold a secret.
i=0
while [ $i -lt 8 ]; do
	printf '{"model":"gpt-4o-mini","stream":true,"max_tokens":100,"messages":[{"role":"user","content":"crash test %d"}],"mock":{"chunks":%d,"delay_ms":25}}' \
	    $i $((4 * (i + 1))) >"$T/body$i"
	i=$((i + 1))
done
clients() {
	i=0
	while [ $i -lt "$STREAMS" ]; do
		[ $i -eq 0 ] || echo next
		cat <<CFG
url = "$TG_URL/v1/chat/completions"
header = "Authorization: Bearer tg_crashkey_$SEC"
header = "Content-Type: application/json"
data-binary = "@$T/body$((i % 8))"
output = "/dev/null"
write-out = "%{http_code}\\n"
max-time = 20
CFG
		i=$((i + 1))
	done
}

# A random number in [$1, $2) from /dev/urandom.
rand() {
	r=$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')
	echo $(( $1 + r % ($2 - $1) ))
}

bad_integrity=0 bad_dup=0 bad_lost=0 bad_window=0 bad_counters=0
bad_redis=0
total_done=0 total_rows=0 total_unfinished=0 total_uncommitted=0
max_window=0 max_unfinished=0 mid=0

# check_round N K: the ledger after the kill at K (unix ms) of round N,
# with tollgate restarted on it.
check_round() {
	n=$1 k=$2 d=$T/r$n
	# Which requests tollgate finished, and when (its access lines).
	sed -n 's/^{"ts":"\([^"]*\)","level":"info","msg":"access","request_id":"\([0-9a-f]*\)".*/\2 \1/p' \
	    "$T/tollgate-r$n.log" >"$d/acc"
	cat "$d/done" >>"$T/all-done"
	r=$(sqlite3 -batch -noheader "$T/check.db" <<SQL
DROP TABLE IF EXISTS done;
DROP TABLE IF EXISTS acc;
CREATE TABLE done (ms INTEGER, id TEXT);
CREATE TABLE acc (id TEXT PRIMARY KEY, ts TEXT);
.mode list
.separator " "
.import $d/done done
.import $d/acc acc
ATTACH '$T/ledger.db' AS l;
CREATE TEMP VIEW fin AS SELECT id, CAST(round((julianday(substr(ts, 1, 23))
    - 2440587.5) * 86400000.0) AS INTEGER) AS ms FROM acc;
CREATE TEMP VIEW theta AS SELECT coalesce(max(u.ts_end), 0) AS t
    FROM l.usage u JOIN acc ON acc.id = u.request_id;
CREATE TEMP VIEW missing AS SELECT done.id, done.ms AS done_ms, fin.ms AS fin_ms
    FROM done LEFT JOIN fin ON fin.id = done.id
    WHERE done.id NOT IN (SELECT request_id FROM l.usage);
SELECT (SELECT count(*) FROM done),
    (SELECT count(*) FROM l.usage WHERE request_id IN (SELECT id FROM acc)),
    (SELECT count(*) FROM missing WHERE fin_ms IS NULL),
    (SELECT coalesce(max($k - done_ms), 0) FROM missing WHERE fin_ms IS NULL),
    (SELECT count(*) FROM missing WHERE fin_ms IS NOT NULL),
    (SELECT coalesce(max($k - fin_ms), 0) FROM missing WHERE fin_ms IS NOT NULL),
    (SELECT count(*) FROM missing, theta WHERE fin_ms < t - $CRASH_SLACK_MS);
SQL
)
	set -- $r
	ndone=$1 nrows=$2 unfin=$3 unfin_age=$4 uncom=$5 window=$6 lost=$7
	total_done=$((total_done + ndone))
	[ "$ndone" -gt 0 ] && [ "$ndone" -lt "$STREAMS" ] && mid=$((mid + 1))
	total_rows=$((total_rows + nrows))
	total_unfinished=$((total_unfinished + unfin))
	total_uncommitted=$((total_uncommitted + uncom))
	[ "$window" -gt "$max_window" ] && max_window=$window
	[ "$unfin_age" -gt "$max_unfinished" ] && max_unfinished=$unfin_age
	echo "# round $n: killed after $kill_after ms; mock completed $ndone," \
	    "tollgate committed $nrows; in flight: $unfin unfinished" \
	    "(oldest ${unfin_age} ms), $uncom finished but uncommitted" \
	    "(oldest ${window} ms)"
	if [ "$lost" -ne 0 ]; then
		bad_lost=$((bad_lost + 1))
		echo "# round $n: $lost rows missing that finished before a committed one"
	fi
	if [ "$window" -gt "$CRASH_WINDOW_MS" ]; then
		bad_window=$((bad_window + 1))
		echo "# round $n: a finished row waited $window ms uncommitted"
	fi
	s=$(sqlite3 "$T/ledger.db" 'PRAGMA integrity_check')
	if [ "$s" != ok ]; then
		bad_integrity=$((bad_integrity + 1))
		echo "# round $n: integrity_check: $s"
	fi
	s=$(sql 'SELECT count(*) - count(DISTINCT request_id) FROM usage')
	if [ "$s" != 0 ]; then
		bad_dup=$((bad_dup + 1))
		echo "# round $n: $s request_id(s) twice"
	fi
}

# The month's sums in the ledger: nano-USD, tokens, requests.
ledger_sums() {
	sql "SELECT coalesce(sum(cost_nusd), 0) || ' ' ||
	    coalesce(sum(input_tokens + output_tokens), 0) || ' ' || count(*)
	    FROM usage WHERE app = 'crash' AND outcome != 'denied'
	    AND ts_start >= strftime('%s', 'now', 'start of month') * 1000"
}

# Local store: the budget view of the restarted tollgate is the ledger.
check_local() {
	n=$1
	admin /admin/apps/crash/budget >"$T/r$n/budget.json"
	set -- $(ledger_sums)
	s=$(sqlite3 -batch -noheader "$T/check.db" "SELECT count(*) FROM
	    json_each(readfile('$T/r$n/budget.json'), '\$.windows') w WHERE
	    json_extract(w.value, '\$.leased') != 0 OR
	    CASE json_extract(w.value, '\$.unit')
	    WHEN 'usd' THEN round(json_extract(w.value, '\$.used') * 1e9) != $1
	    WHEN 'tokens' THEN json_extract(w.value, '\$.used') != $2
	    ELSE json_extract(w.value, '\$.used') != $3 END")
	w=$(sqlite3 -batch -noheader "$T/check.db" "SELECT count(*) FROM
	    json_each(readfile('$T/r$n/budget.json'), '\$.windows')")
	if [ "$s" != 0 ] || [ "$w" != 4 ]; then
		bad_counters=$((bad_counters + 1))
		echo "# round $n: budget view $(cat "$T/r$n/budget.json")"
		echo "# round $n: ledger $*"
	fi
}

# Redis: every counter holds the ledger's sums as used and the live
# leases' reserves as leased.
REDIS_SUMS='
local sums = {}
for _, id in ipairs(redis.call("ZRANGE", "tg:leases", 0, -1)) do
  local lk = "tg:lease:" .. id
  local h = redis.call("HMGET", lk, "n", "r0", "r1", "r2")
  for i = 1, tonumber(h[1]) or 0 do
    local k = redis.call("HGET", lk, "k" .. i)
    local s = sums[k] or {0, 0, 0}
    for j = 1, 3 do s[j] = s[j] + (tonumber(h[j + 1]) or 0) end
    sums[k] = s
  end
end
local out = {}
for _, k in ipairs(redis.call("KEYS", "tg:c:*")) do
  local v = redis.call("HMGET", k, "u0", "u1", "u2", "l0", "l1", "l2")
  local s = sums[k] or {0, 0, 0}
  out[#out + 1] = string.format("%s %s %s %s %s %s %s %d %d %d", k,
    v[1] or "0", v[2] or "0", v[3] or "0", v[4] or "0", v[5] or "0",
    v[6] or "0", s[1], s[2], s[3])
end
return out'

check_redis() {
	n=$1
	# As a crash can leave it: a settle counted in Redis whose row never
	# reached the ledger, here on an app with no rows at all.
	month=$(sqlite3 :memory: "SELECT strftime('%s', 'now', 'start of month') * 1000")
	redis-cli -p "$REDIS_PORT" hincrby "tg:c:app/e2e-app/month/$month" u0 12345 >/dev/null
	"$TOLLGATE" reconcile -c "$T/tollgate.json" >"$T/r$n/reconcile" 2>&1 ||
	    { bad_redis=$((bad_redis + 1)); sed 's/^/# /' "$T/r$n/reconcile"; }
	redis-cli -p "$REDIS_PORT" --raw EVAL "$REDIS_SUMS" 0 |
	    sed 's|^tg:c:\([a-z]*\)/\([^/]*\)/\([a-z]*\)/\([0-9]*\) |\1 \2 \3 \4 |' \
	    >"$T/r$n/counters"
	# Each open window's counter against the ledger's rows in it (the
	# key names the window's start, UTC).
	r=$(sqlite3 -batch -noheader "$T/check.db" <<SQL
DROP TABLE IF EXISTS ctr;
CREATE TABLE ctr (scope TEXT, name TEXT, per TEXT, start INTEGER,
    u0 INTEGER, u1 INTEGER, u2 INTEGER, l0 INTEGER, l1 INTEGER, l2 INTEGER,
    s0 INTEGER, s1 INTEGER, s2 INTEGER);
.mode list
.separator " "
.import $T/r$n/counters ctr
ATTACH '$T/ledger.db' AS l;
CREATE TEMP VIEW win AS SELECT *, CASE per
    WHEN 'minute' THEN start + 60000 WHEN 'hour' THEN start + 3600000
    WHEN 'day' THEN start + 86400000 WHEN 'week' THEN start + 604800000
    ELSE strftime('%s', start / 1000, 'unixepoch', '+1 month') * 1000 END
    AS stop FROM ctr;
CREATE TEMP VIEW cmp AS SELECT win.*, (SELECT coalesce(sum(cost_nusd), 0)
    || ' ' || coalesce(sum(input_tokens + output_tokens), 0) || ' '
    || count(*) FROM l.usage u WHERE u.outcome != 'denied'
    AND CASE win.scope WHEN 'app' THEN u.app ELSE u.team END = win.name
    AND u.ts_start >= win.start AND u.ts_start < win.stop) AS ledger
    FROM win WHERE stop > strftime('%s', 'now') * 1000;
SELECT count(*), (SELECT count(*) FROM cmp WHERE per = 'month'
    AND name IN ('crash', 'crash-team')),
    (SELECT ledger FROM cmp WHERE per = 'month' AND name = 'crash')
    FROM cmp;
SELECT '# ' || scope || '/' || name || '/' || per || ': used ' || u0 || ' '
    || u1 || ' ' || u2 || ', ledger ' || ledger || '; leased ' || l0 || ' '
    || l1 || ' ' || l2 || ', live leases ' || s0 || ' ' || s1 || ' ' || s2
    FROM cmp WHERE u0 || ' ' || u1 || ' ' || u2 != ledger
    OR l0 != s0 OR l1 != s1 OR l2 != s2;
SQL
)
	set -- $(printf '%s\n' "$r" | head -1)
	leases=$(redis-cli -p "$REDIS_PORT" zcard tg:leases)
	echo "# round $n: after reconcile $1 open counters, the month's:" \
	    "ledger ${3:-} ${4:-} ${5:-} (nano-USD, tokens, requests), $leases live lease(s)"
	if [ "$2" != 2 ] || [ "$(printf '%s\n' "$r" | wc -l)" != 1 ]; then
		bad_redis=$((bad_redis + 1))
		printf '%s\n' "$r" | sed 1d
		[ "$2" = 2 ] ||
		    echo "# round $n: $2 month counters of crash and crash-team, want 2"
	fi
}

# round N: start, load, kill -9 at a random moment, restart, check.
round() {
	n=$1
	mkdir -p "$T/r$n"
	curl -s -X POST "$MOCK_URL/mock/reset" >/dev/null
	clients | curl -s -Z --parallel-immediate --parallel-max "$STREAMS" \
	    -K - >"$T/r$n/codes" 2>/dev/null &
	cpid=$!
	# The kill comes at a random moment within 700 ms after the first
	# stream ended at the mock: then, however slow the machine, some have
	# finished and some have not.
	t0=$(now_ms)
	i=0
	while [ -z "$(curl -s "$MOCK_URL/mock/completed" | head -c 1)" ] &&
	    [ $i -lt 1500 ]; do
		sleep 0.01
		i=$((i + 1))
	done
	kill_after=$(rand 0 700)
	sleep "$(echo "$kill_after" | awk '{ printf "%.3f", $1 / 1000 }')"
	k=$(now_ms)
	kill_after=$((k - t0))
	kill -9 "$TG_PID"
	wait "$TG_PID" 2>/dev/null
	forget "$TG_PID"
	wait "$cpid"
	curl -s "$MOCK_URL/mock/completed" >"$T/r$n/done"
	cp "$T/tollgate.log" "$T/tollgate-r$n.log"
}

n=1
tg_start
while [ $n -le "$ROUNDS" ]; do
	round $n
	tg_start
	check_round $n "$k"
	check_local $n
	n=$((n + 1))
done
tg_stop
forget "$TG_PID"

COUNTERS=", \"counters\": {\"store\": \"redis\", \"url\": \"redis://127.0.0.1:$REDIS_PORT/0\", \"timeout_ms\": 3000, \"lease_ttl_s\": 600}"
tg_config ", \"log\": {\"level\": \"info\", \"access\": true}$COUNTERS"
budgets
"$TOLLGATE" reconcile -c "$T/tollgate.json" >/dev/null 2>&1
tg_start
last=$((ROUNDS + REDIS_ROUNDS))
while [ $n -le $last ]; do
	round $n
	check_redis $n
	tg_start
	check_round $n "$k"
	n=$((n + 1))
done
tg_stop
forget "$TG_PID"

ids_seen=$(wc -l <"$T/all-done")
is "$(cut -d' ' -f2 "$T/all-done" | sort | uniq -d | wc -l)" 0 \
    "no two requests shared a request id ($ids_seen ids over $last rounds)"
[ "$mid" -ge $((last / 2)) ]
ok $? "$mid of $last kills came with some streams finished and some not ($total_done finished)"
is "$bad_integrity" 0 "PRAGMA integrity_check is ok after every kill"
is "$bad_dup" 0 "no request_id in the ledger twice"
is "$bad_lost" 0 "every completed request is in the ledger or was in flight"
echo "# $total_rows rows committed; in flight at the kills: $total_unfinished" \
    "unfinished (oldest ${max_unfinished} ms after the mock's end)," \
    "$total_uncommitted finished, uncommitted (oldest ${max_window} ms)"
is "$bad_window" 0 "no finished row waited more than $CRASH_WINDOW_MS ms uncommitted (max $max_window ms)"
is "$bad_counters" 0 "local store: the budget view equals the ledger, no leases"
is "$bad_redis" 0 "Redis: counters equal the ledger plus the live leases after reconcile"
e2e_done

#!/bin/sh
# Ledger faults: while SQLite cannot write, tollgate serves nothing it
# could not record.  The ledger sits on a 1 MB tmpfs that is filled up
# (SQLITE_FULL), then on a process whose file size limit is cut to one
# byte (EFBIG; SIGXFSZ must not kill it).  Paid requests are refused with
# 503 ledger_unavailable in both API shapes and never reach the provider,
# /readyz says 503, tollgate_ledger_errors_total counts; streams already
# running finish, and when the disk comes back every row held in memory is
# committed: each request that got a 200 (or a 503) has its row.
. "${top_srcdir:-.}/tests/e2e/lib.sh"
e2e_init diskfull
mock_start
mounted=0
LEDGER=$T/disk/ledger.db

# sql QUERY: on $LEDGER (lib.sh's sql and wait_rows use this one).
sql() {
	sqlite3 -batch -noheader "$LEDGER" "$1"
}

# unmount: keep what was on the small disk beside the scratch files, then
# take it away (tollgate must be gone: it holds the ledger open).
unmount() {
	cp -r "$T/disk" "$T/disk.copy" 2>/dev/null
	umount "$T/disk" && mounted=0
}

diskfull_cleanup() {
	if [ "$mounted" = 1 ]; then
		kill "$TG_PID" 2>/dev/null
		wait "$TG_PID" 2>/dev/null
		unmount
	fi
	e2e_cleanup
}
trap diskfull_cleanup EXIT

# wait_ready CODE: until /readyz answers CODE (up to ~10 s); prints ms.
wait_ready() {
	t0=$(date +%s%3N)
	i=0
	while [ "$(admin /readyz -o /dev/null -w '%{http_code}')" != "$1" ]; do
		i=$((i + 1))
		[ $i -le 200 ] || return 1
		sleep 0.05
	done
	echo $(( $(date +%s%3N) - t0 ))
}

# paid NAME [curl args]: a paid chat completion; headers in $T/NAME.h, body
# in $T/NAME; prints the status.
paid() {
	n=$1
	shift
	chat '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}' \
	    -D "$T/$n.h" -o "$T/$n" -w '%{http_code}' "$@"
}

# rid NAME: the x-request-id tollgate answered NAME with.
rid() {
	sed -n 's/^x-request-id: \([0-9a-f]*\).*/\1/ip' "$T/$1.h"
}

# mock_requests: how many requests the provider has seen.
mock_requests() {
	mock_stats | sed 's/^{"requests":\([0-9]*\),.*/\1/'
}

# rows_are WANT ID...: how many of the request ids have status||outcome
# WANT in the ledger, once all of them have or after ~10 s (the held rows
# commit in batches).
rows_are() {
	w=$1
	shift
	i=0
	while :; do
		c=0
		for r in "$@"; do
			[ "$(sql "SELECT status || outcome FROM usage WHERE request_id = '$r'")" = "$w" ] &&
			    c=$((c + 1))
		done
		[ $c -lt $# ] && [ $i -lt 200 ] || break
		i=$((i + 1))
		sleep 0.05
	done
	echo $c
}

# check_refused NAME: a 503 ledger_unavailable with an x-request-id.
check_refused() {
	like "$(cat "$T/$1")" '"code":"ledger_unavailable"' "$1: ledger_unavailable"
	like "$(rid "$1")" '^[0-9a-f]{32}$' "$1: x-request-id on the refusal"
}

# Part 1: a full disk.
mkdir -p "$T/disk"
if mount -t tmpfs -o size=1m tmpfs "$T/disk" 2>"$T/mount.err"; then
	mounted=1
	tg_config
	sed 's|"ledger.db"|"disk/ledger.db"|' "$T/tollgate.json" >"$T/tg.json"
	mv "$T/tg.json" "$T/tollgate.json"
	tg_start
	is "$(paid first)" 200 "a paid request on a working disk"

	# Ten streams of 2 s are running when the disk fills up.
	mkdir -p "$T/streams"
	cpids=
	for i in 0 1 2 3 4 5 6 7 8 9; do
		chat '{"model":"gpt-4o-mini","stream":true,"messages":[],"mock":{"chunks":20,"delay_ms":100}}' \
		    -N -D "$T/streams/s$i.h" -o "$T/streams/s$i" &
		cpids="$cpids $!"
	done
	i=0
	while [ "$(mock_requests)" -lt 11 ] && [ $i -lt 200 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	dd if=/dev/zero of="$T/disk/filler" bs=64k >/dev/null 2>&1
	like "$(df -P "$T/disk" | awk 'NR == 2 { print $4 }')" '^0$' "the ledger's disk is full"
	# Admitted before the writer knew: its row waits in memory.
	is "$(paid before)" 200 "a request admitted before the first failed commit"
	ms=$(wait_ready 503)
	ok $? "/readyz says 503 once a commit failed (after ${ms:-?} ms)"
	admin /readyz -o "$T/ready" >/dev/null
	like "$(cat "$T/ready")" '"code":"ledger_unavailable"' "and why"

	seen=$(mock_requests)
	is "$(paid full1)" 503 "a paid request while the disk is full: 503"
	check_refused full1
	is "$(paid full2)" 503 "another: 503"
	is "$(chat '{"model":"gpt-4o-mini","stream":true,"messages":[]}' -N -D "$T/full3.h" -o "$T/full3" -w '%{http_code}')" \
	    503 "a paid stream while the disk is full: 503"
	check_refused full3
	code=$(curl -s -H "x-api-key: $APP_KEY" -H 'anthropic-version: 2023-06-01' \
	    -H 'Content-Type: application/json' -D "$T/full4.h" -o "$T/full4" \
	    -w '%{http_code}' --data-binary '{"model":"claude-haiku-4-5","max_tokens":50,"messages":[{"role":"user","content":"hi"}]}' \
	    "$TG_URL/v1/messages")
	is "$code" 503 "an Anthropic request while the disk is full: 503"
	like "$(cat "$T/full4")" '^\{"type":"error","error":\{"type":"overloaded_error","message":"[^"]*ledger[^"]*",' \
	    "in the Anthropic error shape"
	like "$(rid full4)" '^[0-9a-f]{32}$' "full4: x-request-id on the refusal"
	is "$(mock_requests)" "$seen" "the provider saw none of the refused requests"
	is "$(curl -s -H "Authorization: Bearer $APP_KEY" -o /dev/null -w '%{http_code}' "$TG_URL/v1/models")" \
	    200 "GET /v1/models, which costs nothing, is still served"
	like "$(admin /metrics | grep '^tollgate_ledger_errors_total')" \
	    '^tollgate_ledger_errors_total [1-9]' "tollgate_ledger_errors_total counts the failures"
	like "$(admin /metrics | grep '^tollgate_ledger_queue_depth')" \
	    '^tollgate_ledger_queue_depth [1-9]' "the rows are held in memory"
	like "$(grep '"level":"error"' "$T/tollgate.log" | head -1)" 'disk is full.*rows held in memory' \
	    "the failure is logged once, with what is held"

	wait $cpids
	is "$(cat "$T"/streams/s? | grep -c '^data: \[DONE\]')" 10 \
	    "the streams that were running when the disk filled finished"

	rm -f "$T/disk/filler"
	ms=$(wait_ready 200)
	ok $? "serving resumes by itself once there is room (after ${ms:-?} ms)"
	echo "# recovery: /readyz 200 ${ms:-?} ms after the disk had room again"
	is "$(paid after)" 200 "a paid request after the recovery"
	like "$(cat "$T/tollgate.log")" 'committing again after [0-9]+ ms' "the recovery is logged"

	# Every answer the clients got has its row: 200s as served, 503s as
	# refusals.
	want=
	for n in first before after; do
		want="$want $(rid $n)"
	done
	for i in 0 1 2 3 4 5 6 7 8 9; do
		want="$want $(rid streams/s$i)"
	done
	refused="$(rid full1) $(rid full2) $(rid full3) $(rid full4)"
	is "$(rows_are 200ok $want)" 13 "every request that got a 200 is in the ledger"
	is "$(rows_are 503denied $refused)" 4 "every refusal is in the ledger too"
	is "$(sql 'PRAGMA integrity_check')" ok "the ledger is intact"
	tg_stop
	is "$TG_STATUS" 0 "exit status 0"
	cp "$T/disk/ledger.db" "$T/ledger-disk.db"
	unmount
else
	echo "# mount: $(cat "$T/mount.err")"
	ok 0 "# SKIP cannot mount a tmpfs (not root?)"
fi

# Part 2: a file size limit.  Each write past one byte fails with EFBIG,
# including tollgate's log lines; SIGXFSZ must not kill it.
if command -v prlimit >/dev/null 2>&1; then
	LEDGER=$T/ledger.db
	tg_config
	tg_start
	is "$(paid lim1)" 200 "a paid request before the limit"
	wait_rows 1
	prlimit --pid "$TG_PID" --fsize=1:
	is "$(paid lim2)" 200 "a request admitted before the first failed commit"
	ms=$(wait_ready 503)
	ok $? "/readyz says 503 once a write failed with EFBIG (after ${ms:-?} ms)"
	kill -0 "$TG_PID"
	ok $? "SIGXFSZ did not kill tollgate"
	seen=$(mock_requests)
	is "$(paid lim3)" 503 "a paid request under the limit: 503"
	check_refused lim3
	is "$(mock_requests)" "$seen" "the provider did not see it"
	prlimit --pid "$TG_PID" --fsize=unlimited:
	ms=$(wait_ready 200)
	ok $? "serving resumes once the limit is lifted (after ${ms:-?} ms)"
	is "$(paid lim4)" 200 "a paid request after the recovery"
	wait_rows 4 || true
	is "$(sql "SELECT group_concat(status, ' ') FROM (SELECT status FROM usage
	    WHERE request_id IN ('$(rid lim1)', '$(rid lim2)', '$(rid lim3)',
	    '$(rid lim4)') ORDER BY ts_start)")" "200 200 503 200" \
	    "the held rows are committed: every answer has its row"
	tg_stop
	is "$TG_STATUS" 0 "exit status 0"
else
	ok 0 "# SKIP prlimit is not installed"
fi
e2e_done

#!/bin/sh
# Hostile clients: smuggling attempts, malformed heads, oversized requests,
# slow clients and key tricks.  Each gets the right 4xx (with x-request-id
# and a ledger row) or a closed connection, the provider sees none of it,
# and tollgate's descriptors and memory stay bounded.
. "${top_srcdir:-.}/tests/e2e/lib.sh"
e2e_init hostile-clients
mock_start
tg_config ', "limits": {"max_header_bytes": 4096, "max_body_bytes": 65536, "header_timeout_s": 2, "max_connections": 400}'
tg_start
HOSTPORT=${TG_URL#http://}
HOST=${HOSTPORT%:*}
PORT=${HOSTPORT##*:}
RAW="python3 $top_srcdir/tests/e2e/rawhttp.py"
CRLF=$(printf '\r\n')
AUTH="Authorization: Bearer $APP_KEY"
BODY='{"model":"gpt-4o-mini","messages":[]}'

# raw NAME [rawhttp options]: send stdin (printf escapes already applied);
# the answer goes to $T/NAME.out (raw runs at the end of a pipeline, in a
# subshell: read it back with out NAME).
raw() {
	n=$1
	shift
	$RAW "$HOST" "$PORT" "$@" >"$T/$n.out" 2>&1
}
out() { OUT=$(cat "$T/$1.out"); }

# refused NAME STATUS CODE: the answer in $T/NAME.out is STATUS with the
# error code CODE, an x-request-id, and the connection was closed.
refused() {
	out "$1"
	like "$(head -1 "$T/$1.out")" "^HTTP/1.1 $2 " "$1: $2"
	like "$OUT" "\"code\":\"$3\"" "$1: error code $3"
	like "$OUT" "x-request-id: [0-9a-f]{32}" "$1: x-request-id"
	is "$(tail -1 "$T/$1.out")" "#closed" "$1: connection closed"
}

# --- Framing that could be read two ways -------------------------------
printf 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n%s\r\nContent-Length: %d\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n' \
    "$AUTH" ${#BODY} | raw cl-te
refused cl-te 400 invalid_request
printf 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n%s\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n' \
    "$AUTH" | raw te-cl
refused te-cl 400 invalid_request
printf 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n%s\r\nContent-Length: %d\r\nContent-Length: %d\r\n\r\n%s' \
    "$AUTH" ${#BODY} ${#BODY} "$BODY" | raw two-cl
refused two-cl 400 invalid_request
printf 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n%s\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n%s\r\n0\r\n\r\n' \
    "$AUTH" "$BODY" | raw bad-chunk
refused bad-chunk 400 invalid_request
printf 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n%s\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n' \
    "$AUTH" | raw te-gzip
refused te-gzip 400 invalid_request

# --- Malformed heads ---------------------------------------------------
printf 'POST /v1/chat/completions HTTP/1.1\nHost: x\n%s\nContent-Length: %d\n\n%s' \
    "$AUTH" ${#BODY} "$BODY" | raw bare-lf
refused bare-lf 400 invalid_request
printf 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nX-A: a\000b\r\n%s\r\nContent-Length: %d\r\n\r\n%s' \
    "$AUTH" ${#BODY} "$BODY" | raw nul
refused nul 400 invalid_request
printf 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n%s\r\nX-Folded: a\r\n b\r\nContent-Length: %d\r\n\r\n%s' \
    "$AUTH" ${#BODY} "$BODY" | raw obs-fold
refused obs-fold 400 invalid_request
printf 'POST http://evil.example/v1/chat/completions HTTP/1.1\r\nHost: x\r\n%s\r\nContent-Length: %d\r\n\r\n%s' \
    "$AUTH" ${#BODY} "$BODY" | raw absolute-uri
refused absolute-uri 400 invalid_request
printf 'POST /v1/chat/completions HTTP/1.1\r\n%s\r\nContent-Length: %d\r\n\r\n%s' \
    "$AUTH" ${#BODY} "$BODY" | raw no-host
refused no-host 400 invalid_request
printf 'POST /v1/messages HTTP/1.1\r\nHost: x\r\nHost: y\r\n%s\r\nContent-Length: %d\r\n\r\n%s' \
    "$AUTH" ${#BODY} "$BODY" | raw two-host
refused two-host 400 invalid_request
like "$OUT" '"type":"error"' "two-host: Anthropic route, Anthropic error shape"

# --- Too many, too large -----------------------------------------------
{
	printf 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n%s\r\n' "$AUTH"
	i=0; while [ $i -lt 101 ]; do printf 'X-H%d: v\r\n' $i; i=$((i + 1)); done
	printf 'Content-Length: %d\r\n\r\n%s' ${#BODY} "$BODY"
} | raw many-headers
refused many-headers 431 request_too_large
{
	printf 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n%s\r\nX-Big: ' "$AUTH"
	head -c 5000 /dev/zero | tr '\0' a
	printf '\r\nContent-Length: %d\r\n\r\n%s' ${#BODY} "$BODY"
} | raw big-header
refused big-header 431 request_too_large
printf 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n%s\r\nContent-Length: 70000\r\n\r\n' \
    "$AUTH" | raw big-body-cl
refused big-body-cl 413 request_too_large
{
	printf 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n%s\r\nTransfer-Encoding: chunked\r\n\r\n' "$AUTH"
	i=0; while [ $i -lt 5 ]; do printf '4000\r\n'; head -c 16384 /dev/zero | tr '\0' a; printf '\r\n'; i=$((i + 1)); done
	printf '0\r\n\r\n'
} | raw big-body-chunked
refused big-body-chunked 413 request_too_large
# curl's own 413 path: a real client gets the JSON error too.
head -c 70000 /dev/zero | tr '\0' a >"$T/big.json"
code=$(curl -s -o "$T/b" -w '%{http_code}' -H "$AUTH" -H 'Content-Type: application/json' \
    --data-binary @"$T/big.json" "$TG_URL/v1/chat/completions")
is "$code" 413 "curl, 70000-byte body: 413"
like "$(cat "$T/b")" '"code":"request_too_large"' "curl: JSON error body"

# --- Keys: two Authorization headers, SQL and control characters --------
printf 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n%s\r\n%s\r\nContent-Length: %d\r\n\r\n%s' \
    "$AUTH" "$AUTH" ${#BODY} "$BODY" | raw two-auth
out two-auth
like "$(head -1 "$T/two-auth.out")" '^HTTP/1.1 401 ' "two Authorization headers: 401"
like "$OUT" '"code":"invalid_api_key"' "two Authorization headers: invalid_api_key"
for k in "tg_e2ekey01_x' OR '1'='1" "tg_e2ekey01'; DROP TABLE usage; --_$APP_SECRET" \
    "tg_e2ekey01_$APP_SECRET'--"; do
	code=$(curl -s -o "$T/b" -w '%{http_code}' -H "Authorization: Bearer $k" \
	    -H 'Content-Type: application/json' --data-binary "$BODY" \
	    "$TG_URL/v1/chat/completions")
	is "$code" 401 "SQL in the key: 401"
done
printf 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tg_e2ekey01_\001\033[2J%s\r\nContent-Length: %d\r\n\r\n%s' \
    "$APP_SECRET" ${#BODY} "$BODY" | raw ctl-key
refused ctl-key 400 invalid_request

# Good requests still work, pipelined, and with Expect: 100-continue.
printf 'GET /v1/models HTTP/1.1\r\nHost: x\r\n%s\r\n\r\nGET /v1/models HTTP/1.1\r\nHost: x\r\n%s\r\nConnection: close\r\n\r\n' \
    "$AUTH" "$AUTH" | raw pipelined
is "$(grep -o 'HTTP/1.1 200 ' "$T/pipelined.out" | wc -l)" 2 "two pipelined requests: two answers"
is "$(tail -1 "$T/pipelined.out")" "#closed" "closed after Connection: close"
pad=$(head -c 3000 /dev/zero | tr '\0' a)
code=$(chat "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"$pad\"}]}" \
    -H 'Expect: 100-continue' -o "$T/b" -w '%{http_code}')
is "$code" 200 "Expect: 100-continue is honoured"

# Nothing refused reached the provider: only the one good chat did.
n=$(mock_stats | sed -n 's/.*"requests": *\([0-9]*\).*/\1/p')
is "$n" 1 "the provider saw only the good request"
# Every refused request left its ledger row (curl's 413 and the SQL keys
# included); the rows name the status the client got.
wait_rows 25
is "$(sql "SELECT group_concat(status || ':' || outcome, ' ') FROM (SELECT status, outcome FROM usage WHERE status >= 400 GROUP BY status, outcome ORDER BY status)")" \
    "400:denied 401:denied 413:denied 431:denied" "refusals are in the ledger as denied rows"
is "$(sql "SELECT count(*) FROM usage WHERE status = 400")" 12 "twelve 400 rows"
is "$(sql "PRAGMA integrity_check")" ok "ledger intact after SQL in keys"

# --- Slow clients -----------------------------------------------------
# A head sent one byte every 150 ms never completes in header_timeout_s
# (2 s): the connection is closed, with no answer.
t0=$(date +%s)
printf 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n%s\r\nContent-Length: %d\r\n\r\n%s' \
    "$AUTH" ${#BODY} "$BODY" | raw slowloris --pace 150 --timeout 6
dt=$(( $(date +%s) - t0 ))
like "$(tail -1 "$T/slowloris.out")" '^#(closed|reset)$' "slowloris: connection closed"
[ "$dt" -le 5 ]
ok $? "slowloris: closed by the header timeout (${dt}s)"
# A complete head with a body that trickles: the same deadline.
{
	printf 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n%s\r\nContent-Length: 200\r\n\r\n' "$AUTH"
	head -c 60 /dev/zero | tr '\0' a
} | raw slow-body --pace 60 --timeout 8
like "$(tail -1 "$T/slow-body.out")" '^#(closed|reset)$' "slow body: connection closed"
[ "$(head -c 4 "$T/slow-body.out")" != "HTTP" ]
ok $? "slow body: no answer, nothing forwarded"

# 300 idle half-requests at once: descriptors and memory stay bounded and
# come back when the header timeout closes them.
fds() { ls "/proc/$TG_PID/fd" | wc -l; }
rss() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$TG_PID/status"; }
fd0=$(fds)
rss0=$(rss)
python3 - "$HOST" "$PORT" <<'PY' &
import socket, sys, time
conns = []
for i in range(300):
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
    s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n")
    conns.append(s)
time.sleep(4)
PY
HOLD=$!
sleep 1
fd1=$(fds)
rss1=$(rss)
[ "$fd1" -ge $((fd0 + 250)) ] && [ "$fd1" -le $((fd0 + 310)) ]
ok $? "300 slow clients hold about 300 descriptors ($fd0 -> $fd1)"
[ $((rss1 - rss0)) -lt 20000 ]
ok $? "300 slow clients cost under 20 MB ($((rss1 - rss0)) KiB)"
sleep 2
fd2=$(fds)
[ "$fd2" -le $((fd0 + 5)) ]
ok $? "the header timeout closed them all ($fd1 -> $fd2)"
wait "$HOLD" 2>/dev/null

# max_connections: past the cap, new connections are closed at once; the
# ones inside the cap are served.
tg_stop
tg_config ', "limits": {"max_connections": 20, "header_timeout_s": 5}'
TG_WORKERS=1 tg_start
HOSTPORT=${TG_URL#http://}
PORT=${HOSTPORT##*:}
python3 - "$HOST" "$PORT" >"$T/cap.out" <<'PY'
import socket, sys, time
held = [socket.create_connection((sys.argv[1], int(sys.argv[2]))) for _ in range(20)]
time.sleep(0.5)
extra = socket.create_connection((sys.argv[1], int(sys.argv[2])))
extra.settimeout(2)
try:
    print("extra:", "closed" if extra.recv(1) == b"" else "open")
except socket.timeout:
    print("extra: open")
except ConnectionResetError:
    print("extra: closed")
for s in held:
    s.close()
time.sleep(0.5)
ok = socket.create_connection((sys.argv[1], int(sys.argv[2])))
ok.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
ok.settimeout(3)
print("after:", ok.recv(100).split(b"\r\n")[0].decode())
PY
is "$(sed -n 's/^extra: //p' "$T/cap.out")" closed "connection 21 of max_connections 20 is closed"
like "$(sed -n 's/^after: //p' "$T/cap.out")" '^HTTP/1.1 404' "below the cap again: served"

e2e_done

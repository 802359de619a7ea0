#!/bin/sh
# Hostile upstreams: a refused connection, an untrusted certificate, a
# certificate for another host name, 429/5xx, a stall before the headers, a
# header block that never ends, an invalid status line, a reset and a stall
# mid-stream, garbage, oversized and endless SSE events.  For each: the
# client's status and error in the shape of the API it called (an error
# event once a stream has started), the ledger row, and the very next
# request is served.  (05-faults.sh, 04-tls.sh and 15-fallback.sh cover
# the OpenAI-shaped basics of some of these; this test adds the rest.)
. "${top_srcdir:-.}/tests/e2e/lib.sh"
e2e_init hostile

# An untrusted self-signed certificate, and one from a CA tollgate trusts
# (ca_file) but for another host name.
ec="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
openssl req -x509 $ec -days 2 -subj "/CN=localhost" \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    -keyout "$T/self.key" -out "$T/self.pem" >/dev/null 2>&1 || bail "self-signed"
openssl req -x509 $ec -days 2 -subj "/CN=e2e CA" \
    -keyout "$T/ca.key" -out "$T/ca.pem" >/dev/null 2>&1 || bail "CA"
openssl req $ec -subj "/CN=evil.example" -keyout "$T/evil.key" \
    -out "$T/evil.csr" >/dev/null 2>&1 || bail "CSR"
printf 'subjectAltName=DNS:evil.example\n' >"$T/ext"
openssl x509 -req -in "$T/evil.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" \
    -CAcreateserial -days 2 -extfile "$T/ext" -out "$T/evil.pem" >/dev/null 2>&1 || bail "cert"

MOCK_NAME=self; mock_start --tls-cert "$T/self.pem" --tls-key "$T/self.key"
SELF_PORT=$MOCK_PORT
MOCK_NAME=evil; mock_start --tls-cert "$T/evil.pem" --tls-key "$T/evil.key"
EVIL_PORT=$MOCK_PORT
MOCK_NAME=mock; mock_start
# A port with nothing listening.
DEAD=$(( 20000 + ($$ * 17) % 30000 ))
while curl -s -o /dev/null "http://127.0.0.1:$DEAD/"; do DEAD=$((DEAD + 1)); done

to='"connect_timeout_ms": 1000, "first_byte_timeout_ms": 1000, "idle_timeout_ms": 1000'
prov() {	# NAME API URL [extra]
	printf '"%s": {"api": "%s", "base_url": "%s", "key_env": "E2E_PROVIDER_KEY", %s%s}' \
	    "$1" "$2" "$3" "$to" "${4:-}"
}
cat >"$T/tollgate.json" <<JSON
{
  "listen": ["127.0.0.1:0"],
  "admin": {"listen": "127.0.0.1:0", "token_env": "E2E_ADMIN_TOKEN"},
  "workers": 2,
  "providers": {
    $(prov mock openai "$MOCK_URL"),
    $(prov mock-anthropic anthropic "$MOCK_URL"),
    $(prov dead openai "http://127.0.0.1:$DEAD"),
    $(prov dead-anthropic anthropic "http://127.0.0.1:$DEAD"),
    $(prov self openai "https://localhost:$SELF_PORT"),
    $(prov evil-anthropic anthropic "https://localhost:$EVIL_PORT" ", \"ca_file\": \"$T/ca.pem\"")
  },
  "models": "models.json",
  "budgets": "budgets",
  "ledger": {"path": "ledger.db"}
}
JSON
price='"usd_per_mtok": {"input": 1.00, "output": 2.00}'
cat >"$T/models.json" <<JSON
{
  "version": "e2e-hostile",
  "models": {
    "gpt-4o-mini": {"provider": "mock", $price},
    "claude-haiku-4-5": {"provider": "mock-anthropic", $price},
    "gpt-dead": {"provider": "dead", $price},
    "claude-dead": {"provider": "dead-anthropic", $price},
    "gpt-self": {"provider": "self", $price},
    "claude-evil": {"provider": "evil-anthropic", $price}
  }
}
JSON
cat >"$T/budgets/e2e.json" <<JSON
{"team": "e2e-team", "apps": {"e2e-app": {"keys": [{"id": "e2ekey01", "hmac": "$(hmac "$APP_SECRET")"}]}}}
JSON
tg_start

n=0
# call NAME BODY [curl args]: POST BODY on the route its model belongs to
# (claude-*: /v1/messages, else chat completions); sets CODE, RID, SECS
# and leaves the answer in $T/NAME.body, its headers in $T/NAME.head.
call() {
	name=$1 body=$2
	shift 2
	case $body in
	*'"claude-'*) set -- -H "x-api-key: $APP_KEY" -H 'anthropic-version: 2023-06-01' "$@"
		url=$TG_URL/v1/messages ;;
	*) set -- -H "Authorization: Bearer $APP_KEY" "$@"
		url=$TG_URL/v1/chat/completions ;;
	esac
	t0=$(date +%s%N)
	CODE=$(curl -s -N --max-time 60 -H 'Content-Type: application/json' "$@" \
	    --data-binary "$body" -D "$T/$name.head" -o "$T/$name.body" \
	    -w '%{http_code}' "$url")
	SECS=$(( ($(date +%s%N) - t0) / 1000000000 ))
	RID=$(sed -n 's/^x-request-id: *\([0-9a-f]*\).*/\1/ip' "$T/$name.head" | tr -d '\r')
	n=$((n + 1))
}

# row: "outcome|status|usage_source|input>0|output>0|cost>0" of RID.
row() {
	i=0
	while :; do
		r=$(sql "SELECT outcome, status, usage_source, input_tokens > 0, output_tokens > 0, cost_nusd > 0 FROM usage WHERE request_id = '$RID'")
		[ -n "$r" ] || [ $i -ge 200 ] && break
		i=$((i + 1))
		sleep 0.05
	done
	printf '%s' "$r"
}

# served: the very next ordinary request is answered 200.
served() {
	call next '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}'
	is "$CODE" 200 "$1: the next request is served"
}

# The error bodies, exactly as the contract shapes them.
oai_err() {	# CODE MESSAGE
	printf '{"error":{"message":"%s","type":"api_error","code":"%s","param":null}}' "$2" "$1"
}
ant_err() {	# TYPE CODE MESSAGE
	printf '{"type":"error","error":{"type":"%s","message":"%s","code":"%s"}}' "$1" "$3" "$2"
}

# --- Nothing listens: 502, in either shape, stream or not; nothing billed.
call refused '{"model":"gpt-dead","messages":[]}'
is "$CODE" 502 "connection refused: 502"
is "$(cat "$T/refused.body")" "$(oai_err upstream_error 'could not connect to the provider')" \
    "connection refused: OpenAI-shaped upstream_error"
is "$(row)" "upstream_error|502|provider|0|0|0" "connection refused: row, not billed"
served "connection refused"
call refused_a '{"model":"claude-dead","stream":true,"max_tokens":10,"messages":[]}'
is "$CODE" 502 "connection refused, Anthropic stream: 502"
is "$(cat "$T/refused_a.body")" "$(ant_err api_error upstream_error 'could not connect to the provider')" \
    "connection refused: Anthropic-shaped error, not an event stream"
like "$(cat "$T/refused_a.head")" '[Cc]ontent-[Tt]ype: application/json' "as application/json"
is "$(row)" "upstream_error|502|provider|0|0|0" "connection refused, stream: row"
served "connection refused (Anthropic)"

# --- TLS fails closed: nothing, and no key, reaches the impostor.
impostor() {	# NAME BODY PORT WANT-BODY WHAT
	call "$1" "$2"
	is "$CODE" 502 "$5: 502"
	is "$(cat "$T/$1.body")" "$4" "$5: upstream_error in the API's shape"
	is "$(row)" "upstream_error|502|provider|0|0|0" "$5: row, not billed"
	like "$(curl -sk "https://127.0.0.1:$3/mock/stats")" \
	    '"requests": ?0,.*"keys": ?\{"provider": ?0, ?"other": ?0' \
	    "$5: the impostor got no request and no key"
	served "$5"
}
impostor self '{"model":"gpt-self","stream":true,"messages":[]}' "$SELF_PORT" \
    "$(oai_err upstream_error 'could not connect to the provider')" \
    "self-signed provider certificate"
impostor evil '{"model":"claude-evil","max_tokens":10,"messages":[]}' "$EVIL_PORT" \
    "$(ant_err api_error upstream_error 'could not connect to the provider')" \
    "trusted CA, wrong host name (Anthropic)"
grep -q 'certificate verify failed' "$T/tollgate.log"
ok $? "the TLS failure is logged"

# --- The provider's own 429 / 5xx, Anthropic-shaped: relayed with the
# provider's body and its retry-after; an error page that is not JSON
# becomes tollgate's own 502.
for st in 429 529; do
	call "p$st" "{\"model\":\"claude-haiku-4-5\",\"max_tokens\":10,\"messages\":[],\"mock\":{\"status\":$st}}"
	is "$CODE" "$st" "provider $st relayed on /v1/messages"
	like "$(cat "$T/p$st.body")" '^\{"type":"error","error":\{"type":"(rate_limit|overloaded)_error"' \
	    "provider $st: the provider's Anthropic-shaped body"
	like "$(cat "$T/p$st.head")" 'retry-after: 1' "provider $st: retry-after relayed"
	is "$(row)" "upstream_error|$st|provider|0|0|0" "provider $st: row, not billed"
done
call html '{"model":"gpt-4o-mini","stream":true,"messages":[],"mock":{"hostile":"html_error"}}'
is "$CODE" 502 "a 503 error page that is not JSON: 502"
is "$(cat "$T/html.body")" "$(oai_err upstream_error 'the provider answered 503 without a JSON body')" \
    "non-JSON error page: upstream_error"
is "$(row)" "upstream_error|502|provider|0|0|0" "non-JSON error page: row"
served "provider 429/5xx"

# --- No headers: a stall before the status line, and a header block that
# trickles in and never ends, both cut at first_byte_timeout_ms.
call stall '{"model":"claude-haiku-4-5","stream":true,"max_tokens":10,"messages":[],"mock":{"stall_ms":5000}}'
is "$CODE" 504 "stall before the headers (Anthropic stream): 504"
is "$(cat "$T/stall.body")" "$(ant_err timeout_error upstream_timeout 'the provider did not answer in time')" \
    "stall: Anthropic-shaped timeout_error"
[ "$SECS" -le 3 ]
ok $? "stall: answered after first_byte_timeout_ms ($SECS s)"
is "$(row)" "timeout|504|provider|0|0|0" "stall: row, not billed"
served "stall before headers"
call trickle '{"model":"gpt-4o-mini","messages":[],"mock":{"hostile":"endless_head","hostile_ms":50}}'
is "$CODE" 504 "a header block that never ends: 504"
is "$(cat "$T/trickle.body")" "$(oai_err upstream_timeout 'the provider did not answer in time')" \
    "endless head: upstream_timeout"
[ "$SECS" -le 3 ]
ok $? "endless head: cut at first_byte_timeout_ms ($SECS s), not at the size cap"
is "$(row)" "timeout|504|provider|0|0|0" "endless head: row"
served "endless header block"
call bighead '{"model":"gpt-4o-mini","messages":[],"mock":{"hostile":"endless_head"}}'
is "$CODE" 502 "a header block over 64 KiB: 502"
is "$(cat "$T/bighead.body")" "$(oai_err upstream_error 'the provider sent an invalid answer')" \
    "oversized head: upstream_error"
is "$(row)" "upstream_error|502|provider|0|0|0" "oversized head: row"
like "$(mock_stats)" '"hostile": ?\{"mode": ?"endless_head", ?"bytes": ?[0-9]+, ?"end": ?"peer closed"\}' \
    "oversized head: tollgate hung up"
served "oversized header block"

# --- An invalid status line, and an answer that is not HTTP: 502 at
# once, not after a timeout.
call badst '{"model":"gpt-4o-mini","messages":[],"mock":{"hostile":"bad_status"}}'
is "$CODE" 502 "invalid status line: 502"
is "$(cat "$T/badst.body")" "$(oai_err upstream_error 'the provider sent an invalid answer')" \
    "invalid status line: upstream_error"
[ "$SECS" -lt 1 ]
ok $? "invalid status line: refused without waiting ($SECS s)"
is "$(row)" "upstream_error|502|provider|0|0|0" "invalid status line: row"
served "invalid status line"
call nothttp '{"model":"claude-haiku-4-5","stream":true,"max_tokens":10,"messages":[],"mock":{"hostile":"not_http"}}'
is "$CODE" 502 "not HTTP at all (Anthropic stream): 502"
is "$(cat "$T/nothttp.body")" "$(ant_err api_error upstream_error 'the provider sent an invalid answer')" \
    "not HTTP: Anthropic-shaped upstream_error"
is "$(row)" "upstream_error|502|provider|0|0|0" "not HTTP: row"
served "not HTTP"

# --- Mid-stream, Anthropic: a reset and a stall end the stream with an
# error event; the row has what was produced.
call reset '{"model":"claude-haiku-4-5","stream":true,"max_tokens":100,"messages":[],"mock":{"chunks":10,"reset_after":3}}'
is "$CODE" 200 "reset mid-stream: the stream had started (200)"
is "$(grep -c '^event: content_block_delta' "$T/reset.body")" 3 "reset: the three deltas sent arrived"
is "$(tail -n 3 "$T/reset.body" | tr '\n' '~')" \
    "event: error~data: {\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"the provider closed the connection\"}}~~" \
    "reset: the stream ends with an Anthropic error event"
is "$(row)" "upstream_error|200|partial|1|1|1" "reset: row bills the tokens produced"
served "reset mid-stream"
call idle '{"model":"claude-haiku-4-5","stream":true,"max_tokens":100,"messages":[],"mock":{"chunks":10,"stall_after":2}}'
like "$(tail -n 3 "$T/idle.body" | tr '\n' '~')" \
    '^event: error~data: \{"type":"error","error":\{"type":"api_error","message":"the provider stopped sending"\}\}~~$' \
    "stall mid-stream: Anthropic error event"
is "$(row)" "timeout|200|partial|1|1|1" "stall mid-stream: row"
served "stall mid-stream"

# --- Garbage in a stream is relayed as it came (tollgate is not the
# provider's judge) and the usage the provider reports still counts.
call garbage '{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[],"mock":{"chunks":4,"garbage":true}}'
is "$CODE" 200 "garbage event: 200"
grep -q '"type": "broken", "x$' "$T/garbage.body"
ok $? "garbage event relayed unchanged"
is "$(tail -n 2 "$T/garbage.body" | head -n 1)" "data: [DONE]" "the stream still ends with [DONE]"
is "$(row)" "ok|200|provider|1|1|1" "garbage event: metered from the provider's usage"
served "garbage event"

# --- Oversized and endless events are refused at the 4 MiB event cap,
# not buffered: an error event after the first delta.
call big1m '{"model":"gpt-4o-mini","stream":true,"messages":[],"mock":{"hostile":"big_event","hostile_units":256}}'
is "$(awk 'length($0) > 1048576 { n++ } END { print n + 0 }' "$T/big1m.body")" 1 "a 1 MiB event is relayed whole"
is "$(tail -n 2 "$T/big1m.body" | head -n 1)" "data: [DONE]" "and the stream ends normally"
is "$(row)" "ok|200|estimated|1|1|1" "1 MiB event: row (estimated: no usage reported)"
call big5m '{"model":"gpt-4o-mini","stream":true,"messages":[],"mock":{"hostile":"big_event","hostile_units":1280}}'
is "$CODE" 200 "5 MiB event: the stream had started (200)"
like "$(head -n 1 "$T/big5m.body")" '"content":"tok0 "' "5 MiB event: the first delta arrived"
is "$(tail -n 2 "$T/big5m.body" | tr '\n' '~')" \
    "$(printf 'data: %s~~' "$(oai_err upstream_error 'the provider sent an invalid answer')")" \
    "5 MiB event: the stream ends with an OpenAI error event"
is "$(awk 'length($0) > 65536 { n++ } END { print n + 0 }' "$T/big5m.body")" 0 "none of the oversized event reached the client"
is "$(row)" "upstream_error|200|estimated|1|1|1" "5 MiB event: row bills the delta produced"
served "oversized event"
call endless '{"model":"claude-haiku-4-5","stream":true,"max_tokens":100,"messages":[],"mock":{"hostile":"endless_event"}}'
is "$(tail -n 3 "$T/endless.body" | tr '\n' '~')" \
    "$(printf 'event: error~data: %s~~' '{"type":"error","error":{"type":"api_error","message":"the provider sent an invalid answer"}}')" \
    "endless event (Anthropic): error event"
is "$(row)" "upstream_error|200|partial|1|1|1" "endless event: row"
h=$(mock_stats | sed -n 's/.*"hostile": *{"mode": *"endless_event", *"bytes": *\([0-9]*\), *"end": *"peer closed"}.*/\1/p')
[ -n "$h" ] && [ "$h" -lt $((16 << 20)) ]
ok $? "endless event: tollgate hung up after ${h:-?} of the 64 MiB offered"
served "endless event"

# Still the same process, every request one row, a clean exit.
tg_stop
is "$TG_STATUS" 0 "clean exit (no leak under ASan)"
is "$(sql "SELECT count(*) FROM usage")" "$n" "one row per request"
is "$(sql "SELECT count(*) - count(DISTINCT request_id) FROM usage")" 0 "no row twice"
e2e_done

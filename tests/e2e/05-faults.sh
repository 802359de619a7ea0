#!/bin/sh
# Provider faults: errors relayed or mapped, timeouts, a reset mid-stream, a
# client that goes away; tollgate keeps serving and every request leaves
# exactly one correct ledger row.
. "${top_srcdir:-.}/tests/e2e/lib.sh"
e2e_init faults
mock_start
PROVIDER_EXTRA=', "first_byte_timeout_ms": 1000, "idle_timeout_ms": 1000, "connect_timeout_ms": 1000'
tg_config
tg_start

# The provider answers 500 / 429: relayed with its status, not billed.
for st in 500 429; do
	code=$(chat "{\"model\":\"gpt-4o-mini\",\"messages\":[],\"mock\":{\"status\":$st}}" -o "$T/b" -w '%{http_code}')
	is "$code" "$st" "provider $st relayed"
done
wait_rows 2
is "$(sql "SELECT group_concat(outcome || ':' || status || ':' || cost_nusd) FROM usage")" \
    "upstream_error:500:0,upstream_error:429:0" "provider errors recorded, not billed"

# No first byte within first_byte_timeout_ms: 504.
t0=$(date +%s)
code=$(chat '{"model":"gpt-4o-mini","messages":[],"mock":{"stall_ms":4000}}' -o "$T/b" -w '%{http_code}')
is "$code" 504 "stalled provider: 504"
like "$(cat "$T/b")" '"code":"upstream_timeout"' "504 code"
[ $(( $(date +%s) - t0 )) -le 3 ]
ok $? "timed out in about first_byte_timeout_ms"

# Reset after 3 chunks: the client gets an error event and a clean end; the
# row has what was produced.
chat '{"model":"gpt-4o-mini","stream":true,"messages":[],"mock":{"chunks":10,"reset_after":3}}' -N -o "$T/s"
is $? 0 "stream ended cleanly for the client"
like "$(tail -n 3 "$T/s")" '"code":"upstream_error"' "in-protocol error event"
wait_rows 4
is "$(sql "SELECT outcome || ':' || stream || ':' || (output_tokens > 0) || ':' || usage_source FROM usage ORDER BY ts_start DESC, rowid DESC LIMIT 1")" \
    "upstream_error:1:1:estimated" "row bills what was produced"

# Stall mid-stream past the idle timeout.
chat '{"model":"gpt-4o-mini","stream":true,"messages":[],"mock":{"chunks":10,"stall_after":2}}' -N -o "$T/s" --max-time 10
like "$(tail -n 3 "$T/s")" 'stopped sending' "idle timeout mid-stream: error event"
wait_rows 5
is "$(sql "SELECT outcome FROM usage ORDER BY ts_start DESC, rowid DESC LIMIT 1")" "timeout" "outcome timeout"

# The client goes away mid-stream.
chat '{"model":"gpt-4o-mini","stream":true,"messages":[],"mock":{"chunks":50,"delay_ms":50}}' -N -o "$T/s" --max-time 1
wait_rows 6
is "$(sql "SELECT outcome || ':' || (output_tokens > 0) FROM usage ORDER BY ts_start DESC, rowid DESC LIMIT 1")" \
    "client_aborted:1" "client abort recorded with the tokens streamed"

# Garbage instead of JSON: relayed, estimated, never free.
chat '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"abcdefgh"}],"mock":{"garbage":true}}' -o "$T/b"
wait_rows 7
is "$(sql "SELECT usage_source || ':' || (input_tokens > 0) || ':' || (cost_nusd > 0) FROM usage ORDER BY ts_start DESC, rowid DESC LIMIT 1")" \
    "estimated:1:1" "no usage reported: estimated, not zero"

# Provider down: connection refused is a 502.
kill "$MOCK_PID"; wait "$MOCK_PID" 2>/dev/null
code=$(chat '{"model":"gpt-4o-mini","messages":[]}' -o "$T/b" -w '%{http_code}')
is "$code" 502 "provider unreachable: 502"

# Still serving after all that.
mock_start
tg_config
tg_stop
tg_start
code=$(chat '{"model":"gpt-4o-mini","messages":[]}' -o /dev/null -w '%{http_code}')
is "$code" 200 "serving normally afterwards"
tg_stop
is "$TG_STATUS" 0 "clean exit"
is "$(sql "SELECT count(*) - count(DISTINCT request_id) FROM usage")" 0 "no duplicate rows"
e2e_done

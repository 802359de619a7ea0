#!/bin/sh
# Streaming chat completions through tollgate: events relayed unchanged,
# the usage chunk tollgate asked for removed, usage metered exactly.
. "${top_srcdir:-.}/tests/e2e/lib.sh"
e2e_init stream
mock_start
tg_config
tg_start

# Without include_usage: the client must not see the usage chunk.
chat '{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"count"}],"mock":{"chunks":12,"split":7}}' \
    -N -D "$T/h1" -o "$T/s1"
like "$(cat "$T/h1")" "[Cc]ontent-[Tt]ype: text/event-stream" "stream content type"
is "$(grep -c '^data: {' "$T/s1")" 14 "role chunk, 12 content chunks, finish chunk; no usage chunk"
like "$(tail -n 2 "$T/s1" | head -n 1)" '^data: \[DONE\]' "stream ends with [DONE]"
if grep -q '"usage":{' "$T/s1" || grep -q '"usage": {' "$T/s1"; then
	ok 1 "the usage chunk tollgate asked for is stripped"
else
	ok 0 "the usage chunk tollgate asked for is stripped"
fi
like "$(mock_stats)" '\\"include_usage\\": ?true' "tollgate asked the provider for usage"
rid=$(sed -n 's/^x-request-id: *\([0-9a-f]*\).*/\1/ip' "$T/h1" | tr -d '\r')
wait_rows 1 || bail "no ledger row"
stats=$(mock_stats)
out=$(printf '%s' "$stats" | sed -n 's/.*"usage": *\[{[^]]*"output": *\([0-9]*\).*/\1/p')
in=$(printf '%s' "$stats" | sed -n 's/.*"usage": *\[{[^]]*"input": *\([0-9]*\).*/\1/p')
is "$(sql "SELECT stream, outcome, usage_source, input_tokens, output_tokens FROM usage WHERE request_id = '$rid'")" \
    "1|ok|provider|$in|$out" "stream metered from the provider's usage"
like "$(sql "SELECT ttft_ms FROM usage WHERE request_id = '$rid'")" '^[0-9]+$' "ttft recorded"

# With include_usage: the client asked, so it gets the chunk.
chat '{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"x"}],"mock":{"chunks":3}}' \
    -N -o "$T/s2"
like "$(cat "$T/s2")" '"choices": ?\[\], ?"usage": ?\{' "usage chunk kept when the client asked"

# Byte-exact relay: tollgate's output equals the mock's own stream.  The
# same request straight to the mock gives the reference bytes (ids and
# timestamps are fixed by the mock for identical requests).
req='{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"é ü 漢字"}],"mock":{"chunks":20,"split":3,"fixed_id":true}}'
chat "$req" -N -o "$T/via"
curl -s -H "Authorization: Bearer $PROVIDER_KEY" -H 'Content-Type: application/json' \
    --data-binary "$req" "$MOCK_URL/v1/chat/completions" -o "$T/direct"
if cmp -s "$T/via" "$T/direct"; then ok 0 "stream bytes identical to the provider's"; else
	ok 1 "stream bytes identical to the provider's"; diff "$T/via" "$T/direct" | head -5 | sed 's/^/# /'; fi

# A slow reader: 200 chunks read at 2 KB/s must arrive whole (backpressure
# pauses the provider instead of buffering without bound).
chat '{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"x"}],"mock":{"chunks":200}}' \
    -N --limit-rate 20k -o "$T/s3"
is "$(grep -c '"content":"tok' "$T/s3")" 200 "slow client gets all 200 chunks"

# Concurrency: 40 parallel streams, one row each, tokens as reported.
i=0
cpids=
while [ $i -lt 40 ]; do
	chat '{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"p"}],"mock":{"chunks":5,"delay_ms":5}}' -N -o "$T/p$i" &
	cpids="$cpids $!"
	i=$((i + 1))
done
wait $cpids
n=$(cat "$T"/p* | grep -c '^data: \[DONE\]')
is "$n" 40 "40 concurrent streams complete"
wait_rows 44 || true
is "$(sql "SELECT count(*) FROM usage")" 44 "one ledger row per request"
is "$(sql "SELECT count(*) FROM usage WHERE usage_source = 'provider' AND output_tokens = 10")" 40 "each concurrent stream metered"
tg_stop

# Slow providers: the header timeout (2 s here) must not cut an answer
# that takes longer, nor a stream that pauses longer between events.
tg_config ', "limits": {"header_timeout_s": 2}'
tg_start
code=$(chat '{"model":"gpt-4o-mini","messages":[],"mock":{"stall_ms":3000}}' -o /dev/null -w '%{http_code}')
is "$code" 200 "a 3 s answer outlives a 2 s header timeout"
chat '{"model":"gpt-4o-mini","stream":true,"messages":[],"mock":{"chunks":2,"delay_ms":2500}}' -N -o "$T/slow"
is "$(grep -c '"content":"tok' "$T/slow")" 2 "a stream pausing 2.5 s between events is not cut"
like "$(tail -n 2 "$T/slow")" '\[DONE\]' "and ends normally"
tg_stop
e2e_done

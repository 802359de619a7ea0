#!/bin/sh
# Plain (non-streaming) OpenAI-API traffic through tollgate with curl:
# forwarding, key handling, errors in the contract's shape, ledger rows.
. "${top_srcdir:-.}/tests/e2e/lib.sh"
e2e_init basic
mock_start
tg_config
tg_start

# A chat completion: the mock only answers to the provider key, so a 200
# proves the app key was replaced.
body='{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello there"}],"base_url":"http://169.254.169.254/"}'
chat "$body" -D "$T/h1" -o "$T/b1"
status=$(sed -n '1s/^HTTP[^ ]* \([0-9]*\).*/\1/p' "$T/h1")
is "$status" 200 "chat completion answered 200"
rid=$(sed -n 's/^x-request-id: *\([0-9a-f]*\).*/\1/ip' "$T/h1" | tr -d '\r')
like "$rid" "^[0-9a-f]{32}$" "x-request-id on the answer"
like "$(cat "$T/b1")" '"object": ?"chat.completion"' "the provider's body is relayed"
stats=$(mock_stats)
like "$stats" '"requests": ?1[,}]' "the mock got exactly one request"
like "$stats" "\"authorization\": ?\"Bearer $PROVIDER_KEY\"" "provider key injected"
case $stats in
*"$APP_SECRET"*) ok 1 "the app key never reaches the provider" ;;
*) ok 0 "the app key never reaches the provider" ;;
esac

wait_rows 1 || bail "no ledger row"
row=$(sql "SELECT app, team, cost_center, tier, key_id, provider, route, model_requested, model, stream, status, outcome, usage_source, price_version, attempts FROM usage WHERE request_id = '$rid'")
is "$row" "e2e-app|e2e-team|CC-E2E|production|e2ekey01|mock|/v1/chat/completions|gpt-4o-mini|gpt-4o-mini|0|200|ok|provider|e2e-1|1" "ledger row for the request"
in=$(printf '%s' "$stats" | sed -n 's/.*"usage": *\[{[^]]*"input": *\([0-9]*\).*/\1/p')
out=$(printf '%s' "$stats" | sed -n 's/.*"usage": *\[{[^]]*"output": *\([0-9]*\).*/\1/p')
is "$(sql "SELECT input_tokens, output_tokens FROM usage WHERE request_id = '$rid'")" "$in|$out" "ledger tokens equal the provider's"
# gpt-4o-mini: $0.15 / $0.60 per Mtok = 150 / 600 nano-USD per token.
is "$(sql "SELECT cost_nusd FROM usage WHERE request_id = '$rid'")" "$((in * 150 + out * 600))" "cost priced from models.json"

# x-api-key works too; an alias resolves.
out=$(curl -s -H "x-api-key: $APP_KEY" -H 'Content-Type: application/json' \
    --data-binary '{"model":"default","messages":[{"role":"user","content":"hi"}]}' \
    "$TG_URL/v1/chat/completions")
like "$out" '"chat.completion"' "x-api-key accepted"
wait_rows 2
is "$(sql "SELECT model_requested || '>' || model FROM usage ORDER BY ts_start DESC, rowid DESC LIMIT 1")" "default>gpt-4o-mini" "alias recorded as requested and served"

# Keys: missing, unknown, malformed, expired: 401 and nothing about why.
for k in "" "tg_nosuch01_$APP_SECRET" "garbage" "$OTHER_KEY" "tg_e2ekey01_WrongSecretWrongSecretWrongSecret00"; do
	code=$(curl -s -o "$T/b" -w '%{http_code}' ${k:+-H "Authorization: Bearer $k"} \
	    --data-binary "$body" "$TG_URL/v1/chat/completions")
	is "$code" 401 "401 for key '${k%%_*}...'"
	like "$(cat "$T/b")" '^\{"error":\{"message":"invalid API key","type":"authentication_error","code":"invalid_api_key","param":null\}\}$' "401 body in OpenAI shape"
done
code=$(curl -s -o "$T/b" -w '%{http_code}' -H "x-api-key: bad" \
    --data-binary '{}' "$TG_URL/v1/messages")
is "$code" 401 "401 on /v1/messages"
like "$(cat "$T/b")" '^\{"type":"error","error":\{"type":"authentication_error"' "401 body in Anthropic shape"

# Errors in the contract's shape.
code=$(chat '{"model":"gpt-4o","messages":[]}' -o "$T/b" -w '%{http_code}')
is "$code" 403 "a model the app may not use: 403"
like "$(cat "$T/b")" '"message":"model \\"gpt-4o\\" is not allowed for this app; allowed: [^"]*gpt-4o-mini.*"code":"model_not_allowed"' "403 names the allowed models"
code=$(chat '{"model":"gpt-9-ultra","messages":[]}' -o "$T/b" -w '%{http_code}')
is "$code" 403 "an unpriced model: 403"
code=$(chat '{"model": 5}' -o "$T/b" -w '%{http_code}')
is "$code" 400 "model not a string: 400"
code=$(chat 'not json' -o "$T/b" -w '%{http_code}')
is "$code" 400 "unparseable JSON: 400"
like "$(cat "$T/b")" '"code":"invalid_request"' "400 code"
code=$(curl -s -o "$T/b" -w '%{http_code}' -H "Authorization: Bearer $APP_KEY" "$TG_URL/v1/nothing")
is "$code" 404 "unknown path: 404"
like "$(cat "$T/b")" '"code":"not_found"' "404 code"
code=$(curl -s -o /dev/null -D "$T/h" -w '%{http_code}' "$TG_URL/admin")
is "$code" 404 "no pass-through for other paths"
like "$(cat "$T/h")" "x-request-id: [0-9a-f]{32}" "errors carry x-request-id too"

# Embeddings and legacy completions.
out=$(curl -s -H "Authorization: Bearer $APP_KEY" -H 'Content-Type: application/json' \
    --data-binary '{"model":"text-embedding-3-small","input":"some text to embed"}' "$TG_URL/v1/embeddings")
like "$out" '"object": ?"list"' "embeddings relayed"
out=$(curl -s -H "Authorization: Bearer $APP_KEY" -H 'Content-Type: application/json' \
    --data-binary '{"model":"gpt-4o-mini","prompt":"Say this"}' "$TG_URL/v1/completions")
like "$out" '"text_completion"' "completions relayed"

# GET /v1/models lists what this app may use.
out=$(curl -s -H "Authorization: Bearer $APP_KEY" "$TG_URL/v1/models")
like "$out" '"id":"gpt-4o-mini"' "/v1/models lists an allowed model"
case $out in *'"gpt-4o"'*) ok 1 "/v1/models hides a denied model" ;; *) ok 0 "/v1/models hides a denied model" ;; esac

# Smuggling guards and limits.
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $APP_KEY" \
    -H 'Content-Length: 5' -H 'Content-Length: 7' --data-binary 'abcde' "$TG_URL/v1/chat/completions")
like "$code" "^400$" "two differing Content-Length: 400"
head -c 11000000 /dev/zero | tr '\0' 'a' >"$T/big"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $APP_KEY" \
    --data-binary @"$T/big" "$TG_URL/v1/chat/completions")
is "$code" 413 "body over max_body_bytes: 413"

# Every request above left exactly one row; denied ones say so.
n=$(mock_stats | sed -n 's/.*"requests": *\([0-9]*\).*/\1/p')
is "$n" 4 "the mock saw only the four requests that passed"
tg_stop
is "$TG_STATUS" 0 "tollgate exits 0 on SIGTERM"
is "$(sql "SELECT count(*) FROM usage WHERE outcome = 'ok'")" 5 "five ok rows (four forwarded, GET /v1/models)"
like "$(sql "SELECT count(*) FROM usage WHERE outcome = 'denied'")" "^1[0-9]$" "denied requests have rows"
is "$(sql "SELECT count(*) - count(DISTINCT request_id) FROM usage")" 0 "no request id twice"
if grep -q -e "$APP_SECRET" -e "$PROVIDER_KEY" "$T/tollgate.log" "$T/ledger.db"; then
	ok 1 "no key material in the log or the ledger"
else
	ok 0 "no key material in the log or the ledger"
fi
e2e_done

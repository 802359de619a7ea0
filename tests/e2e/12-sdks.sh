#!/bin/sh
# The official @anthropic-ai/sdk and openai npm packages, unmodified, through
# tollgate with only the base URL and the key changed: Anthropic Messages and
# the OpenAI Responses API, plain, streamed, with cache/reasoning token
# classes, and refused (plus the Anthropic key sent as x-api-key, as older
# SDKs do; 1.x sends Authorization: Bearer).  Then, for every call, the ledger row keyed by the
# x-request-id the SDK saw is checked against the usage the provider reported
# (as the SDK saw it and as the mock recorded it) and the price list.
. "${top_srcdir:-.}/tests/e2e/lib.sh"
e2e_init sdks

sdk_install sdks.mjs

mock_start
tg_config
tg_start
# Only the base URL and the key: no provider settings from the environment.
env -u ANTHROPIC_AUTH_TOKEN -u ANTHROPIC_BASE_URL -u ANTHROPIC_API_KEY \
    -u OPENAI_BASE_URL -u OPENAI_API_KEY -u OPENAI_ORG_ID -u OPENAI_PROJECT_ID \
    TG_URL="$TG_URL" APP_KEY="$APP_KEY" node "$N/sdks.mjs" >"$T/sdk.out" 2>"$T/sdk.err"
ok $? "the SDK script ran without an unexpected error"
sed 's/^/# /' "$T/sdk.err" | head -20
grep '"error":"' "$T/sdk.out" | head -c 3000 | sed 's/^/# /'
mock_stats >"$T/stats.json"

j() { grep "\"case\":\"$1\"" "$T/sdk.out"; }
# jv JSON EXPR: EXPR evaluated with o = the parsed JSON (undefined -> "-").
jv() {
	node -e 'const o = JSON.parse(process.argv[1]); const v = eval(process.argv[2]);
	    process.stdout.write(v === undefined ? "-" : typeof v === "string" ? v : JSON.stringify(v));' \
	    "$1" "$2"
}
# stat EXPR: on the mock's /mock/stats.
stat() { jv "$(cat "$T/stats.json")" "$1"; }
row() {
	sql "SELECT $2 FROM usage WHERE request_id = '$1'"
}
COLS="input_tokens || ':' || cached_input_tokens || ':' || cache_write_tokens || ':' ||
    output_tokens || ':' || reasoning_tokens || ':' || cost_nusd"
META="usage_source || ' ' || route || ' ' || stream || ' ' || status || ' ' || outcome ||
    ' ' || model || ' ' || provider"

# The calls that reach the provider, in the order the mock answered them.
ANSWERED="a_plain a_stream a_cache a_stream_cache a_x_api_key r_plain r_stream r_cache r_stream_cache"
CALLS="$ANSWERED a_denied r_denied"

is "$(wc -l <"$T/sdk.out" | tr -d ' ')" 11 "the script printed one line per call"
is "$(stat 'o.usage.length')" 9 "the mock answered the 9 allowed calls"
is "$(stat 'o.requests')" 9 "refused calls never reached the provider"

# Every call carries a distinct x-request-id.
rids=
for c in $CALLS; do
	rid=$(jv "$(j $c)" o.request_id)
	like "$rid" '^[A-Za-z0-9_-]{8,}$' "$c: the SDK saw an x-request-id"
	rids="$rids$rid
"
done
is "$(printf '%s' "$rids" | sort -u | wc -l | tr -d ' ')" 11 "request ids are distinct"

tg_stop
is "$TG_STATUS" 0 "tollgate exited cleanly"

# ---- Anthropic Messages: ledger input = input + cache reads + cache writes;
# cost nano-USD = uncached*1000 + cached*100 + write*1250 + output*5000.
k=0
for c in $ANSWERED; do
	line=$(j $c)
	rid=$(jv "$line" o.request_id)
	case $c in
	a_*)
		u=$(jv "$line" '[o.usage.input_tokens, o.usage.cache_read_input_tokens,
		    o.usage.cache_creation_input_tokens, o.usage.output_tokens].join(" ")')
		set -- $u
		in=$(($1 + $2 + $3)) cached=$2 write=$3 out=$4 reason=0
		cost=$(($1 * 1000 + $2 * 100 + $3 * 1250 + $4 * 5000))
		route=/v1/messages model=claude-haiku-4-5 provider=mock-anthropic
		;;
	r_*)
		u=$(jv "$line" '[o.usage.input_tokens, o.usage.input_tokens_details.cached_tokens,
		    o.usage.output_tokens, o.usage.output_tokens_details.reasoning_tokens].join(" ")')
		set -- $u
		in=$1 cached=$2 write=0 out=$3 reason=$4
		cost=$((($1 - $2) * 150 + $2 * 75 + $3 * 600))
		route=/v1/responses model=gpt-4o-mini provider=mock
		;;
	esac
	s=$(jv "$line" 'o.stream ? 1 : 0')
	# What the SDK saw is what the provider sent (the mock's record).
	is "$(stat "(u => [u.path, u.stream ? 1 : 0, u.input, u.cached_input, u.cache_write,
	    u.output, u.reasoning].join(':'))(o.usage[$k])")" "$route:$s:$in:$cached:$write:$out:$reason" \
	    "$c: the SDK saw the usage the provider reported"
	is "$(row "$rid" "$COLS")" "$in:$cached:$write:$out:$reason:$cost" \
	    "$c: ledger tokens (in:cached:write:out:reasoning) and cost"
	is "$(row "$rid" "$META")" "provider $route $s 200 ok $model $provider" \
	    "$c: ledger usage_source, route, stream, status, outcome, model, provider"
	k=$((k + 1))
done

# The cache/reasoning cases, spelled out.
is "$(jv "$(j a_cache)" '[o.usage.input_tokens, o.usage.cache_read_input_tokens,
    o.usage.cache_creation_input_tokens, o.usage.output_tokens].join(":")')" 300:600:100:20 \
    "a_cache: the SDK sees Anthropic's split (uncached:read:write:out)"
is "$(row "$(jv "$(j a_cache)" o.request_id)" "$COLS")" 1000:600:100:20:0:585000 \
    "a_cache: ledger 1000 in (600 read, 100 written), 20 out, 585000 nUSD"
is "$(row "$(jv "$(j a_stream_cache)" o.request_id)" "$COLS")" 1000:600:100:20:0:585000 \
    "a_stream_cache: the same from message_start + message_delta"
is "$(jv "$(j r_cache)" '[o.usage.input_tokens, o.usage.input_tokens_details.cached_tokens,
    o.usage.output_tokens, o.usage.output_tokens_details.reasoning_tokens].join(":")')" 500:200:40:30 \
    "r_cache: the SDK sees input 500 (200 cached), output 40 (30 reasoning)"
is "$(row "$(jv "$(j r_cache)" o.request_id)" "$COLS")" 500:200:0:40:30:84000 \
    "r_cache: ledger 500 in (200 cached), 40 out (30 reasoning, not charged twice), 84000 nUSD"
is "$(row "$(jv "$(j r_stream_cache)" o.request_id)" "$COLS")" 500:200:0:40:30:84000 \
    "r_stream_cache: the same from response.completed"

# ---- Streamed text arrived whole: the mock sent output/2 deltas "tok0 tok1 ...".
k=0
for c in $ANSWERED; do
	line=$(j $c)
	if [ "$(jv "$line" 'o.stream ? 1 : 0')" = 1 ]; then
		case $c in
		*cache) n=$(jv "$line" 'o.deltas') ;;	# output is fixed by "usage"
		*) n=$(( $(stat "o.usage[$k].output") / 2 )) ;;
		esac
		want=$(i=0; while [ $i -lt "$n" ]; do printf 'tok%d ' $i; i=$((i + 1)); done)
		is "$(jv "$line" o.text)" "$want" "$c: the streamed text is whole ($n deltas)"
		is "$(jv "$line" o.deltas)" "$n" "$c: one SDK event per provider delta"
		is "$(jv "$line" o.final_text)" "$want" "$c: the SDK's final text matches"
	fi
	k=$((k + 1))
done
is "$(jv "$(j a_stream)" o.deltas)" 12 "a_stream: 12 deltas asked of the mock"
is "$(jv "$(j a_stream_cache)" o.deltas)" 5 "a_stream_cache: 5 deltas asked of the mock"
is "$(jv "$(j r_stream)" o.deltas)" 9 "r_stream: 9 deltas asked of the mock"
is "$(jv "$(j r_stream_cache)" o.deltas)" 4 "r_stream_cache: 4 deltas asked of the mock"
is "$(jv "$(j r_stream)" o.completed):$(jv "$(j r_stream_cache)" o.completed)" 1:1 \
    "Responses streams end with exactly one response.completed"
like "$(j a_plain)" '"text":"tok0 tok1 tok2 "' "a_plain: the SDK got the text"
like "$(j r_plain)" '"text":"tok0 tok1 tok2 "' "r_plain: output_text"

like "$(j a_x_api_key)" '"output_tokens":6' "a_x_api_key: the key as x-api-key is accepted too"

# ---- Refusals: typed SDK errors, a denied ledger row, nothing charged.
is "$(jv "$(j a_denied)" '[o.class, o.status, o.type].join(" ")')" \
    "PermissionDeniedError 403 permission_error" "a_denied: Anthropic SDK's typed 403"
like "$(jv "$(j a_denied)" o.message)" 'claude-haiku-4-5' "a_denied: the message names the allowed models"
is "$(jv "$(j r_denied)" '[o.class, o.status, o.code].join(" ")')" \
    "PermissionDeniedError 403 model_not_allowed" "r_denied: openai SDK's typed 403"
for c in a_denied r_denied; do
	case $c in a_*) route=/v1/messages ;; r_*) route=/v1/responses ;; esac
	is "$(row "$(jv "$(j $c)" o.request_id)" "route || ' ' || status || ' ' || outcome || ' ' ||
	    input_tokens || ':' || output_tokens || ':' || cost_nusd")" "$route 403 denied 0:0:0" \
	    "$c: ledger row, denied, nothing charged"
done

is "$(sql "SELECT count(*) FROM usage")" 11 "one ledger row per SDK call"
is "$(sql "SELECT count(*) FROM usage WHERE app = 'e2e-app' AND key_id = 'e2ekey01'")" 11 \
    "every row is the app's, by key id"
e2e_done

#!/bin/sh
# Recorded provider answers (tests/fixtures, see its README) replayed by the
# mock and cut into writes of 1, 3, 7 and 64 bytes or sent whole: whatever
# the split, the client gets the recorded bytes unchanged and the request's
# ledger row holds exactly the provider's counts (the .expect sidecar), at
# the same cost.  Multi-byte UTF-8, CRLF line ends, comments, pings and
# tool-call deltas all cross the write boundaries somewhere.
. "${top_srcdir:-.}/tests/e2e/lib.sh"
e2e_init fixtures
mock_start
tg_config
tg_start

FIX=$top_srcdir/tests/fixtures
SPLITS="1 3 7 64 0"		# 0: the whole answer in one write
started=$(date +%s)

# request FIXTURE ROUTE STREAM SPLIT OUT [include_usage]: POST a body
# that fits ROUTE through tollgate; the mock answers with FIXTURE ("dir/
# name") written in pieces of SPLIT bytes.  Headers go to OUT.h.  OpenAI
# streams ask for include_usage themselves unless the last argument says
# "no", so tollgate relays them unchanged.
request() {
	name=$1 route=$2 stream=$3 split=$4 out=$5 iu=${6:-yes}
	mock="\"mock\":{\"fixture\":\"$name\",\"split\":$split}"
	so=
	if [ "$stream" = true ] && [ "$iu" = yes ]; then
		so=',"stream_options":{"include_usage":true}'
	fi
	auth="Authorization: Bearer $APP_KEY"
	case $route in
	/v1/chat/completions)
		body="{\"model\":\"gpt-4o-mini\",\"stream\":$stream$so,\"messages\":[{\"role\":\"user\",\"content\":\"Café, 漢字 or 🙂?\"}],$mock}" ;;
	/v1/completions)
		body="{\"model\":\"gpt-4o-mini\",\"stream\":$stream$so,\"prompt\":\"Say thank you in Japanese.\",\"max_tokens\":32,$mock}" ;;
	/v1/embeddings)
		body="{\"model\":\"text-embedding-3-small\",\"input\":[\"déjà vu\",\"既視感\"],\"dimensions\":8,$mock}" ;;
	/v1/responses)
		body="{\"model\":\"gpt-4o-mini\",\"stream\":$stream,\"input\":\"What is déjà vu in Japanese?\",$mock}" ;;
	/v1/messages)
		auth="x-api-key: $APP_KEY"
		body="{\"model\":\"claude-haiku-4-5\",\"max_tokens\":1024,\"stream\":$stream,\"messages\":[{\"role\":\"user\",\"content\":\"Un café ? ☕\"}],$mock}" ;;
	*)
		bail "no request body for route $route" ;;
	esac
	curl -s -N -m 60 -H "$auth" -H 'anthropic-version: 2023-06-01' \
	    -H 'Content-Type: application/json' -D "$out.h" -o "$out" \
	    --data-binary "$body" "$TG_URL$route"
}

# rid OUT: the x-request-id tollgate answered OUT with.
rid() {
	sed -n 's/^x-request-id: *\([0-9a-f]*\).*/\1/ip' "$1.h" | tr -d '\r'
}

# priced ROUTE IN CACHED WRITE OUT: the cost in nano-USD from tg_config's
# models.json (USD per Mtok x 1000 = nano-USD per token); reasoning is part
# of the output and priced as output.
priced() {
	case $1 in
	/v1/messages)
		echo $((($2 - $3 - $4) * 1000 + $3 * 100 + $4 * 1250 + $5 * 5000)) ;;
	/v1/embeddings)
		echo $(($2 * 20)) ;;
	*)
		echo $((($2 - $3) * 150 + $3 * 75 + $5 * 600)) ;;
	esac
}

# Every fixture at every split, all at once (a 1-byte split of a 5 KB
# stream takes some 10 s by itself).
fixtures=$(cd "$FIX" && ls sse/*.sse json/*.json)
[ -n "$fixtures" ] || bail "no fixtures in $FIX"
n=0
cpids=
for f in $fixtures; do
	name=${f%.*}
	read -r route _ <"$FIX/$name.expect" || bail "$name: no .expect"
	stream=false
	case $f in *.sse) stream=true ;; esac
	for s in $SPLITS; do
		request "$name" "$route" "$stream" "$s" "$T/$(echo "$name" | tr / -).$s" &
		cpids="$cpids $!"
		n=$((n + 1))
	done
done

# OpenAI streams the client asked no usage of: tollgate asks for it and
# drops the usage-only chunk, so the client gets the fixture minus exactly
# that event (its data line and the blank line after it, CRLF or not).
STRIPS="sse/openai-chat-text sse/openai-completions"
for name in $STRIPS; do
	base=${name#*/}
	awk 'skip { skip = 0; if ($0 == "" || $0 == "\r") next }
	    /^data: \{.*"choices":\[\],"usage":\{/ { skip = 1; next }
	    { print }' "$FIX/$name.sse" >"$T/$base.strip"
	[ $(($(wc -l <"$FIX/$name.sse") - $(wc -l <"$T/$base.strip"))) -eq 2 ] ||
	    bail "$name: expected to find one usage-only chunk"
	read -r route _ <"$FIX/$name.expect"
	for s in 1 0; do
		request "$name" "$route" true "$s" "$T/$base.strip.$s" no &
		cpids="$cpids $!"
		n=$((n + 1))
	done
done
wait $cpids
wait_rows $n || bail "expected $n ledger rows, have $(sql 'SELECT count(*) FROM usage')"

for f in $fixtures; do
	name=${f%.*}
	want=$(cat "$FIX/$name.expect")
	route=${want%% *}
	costs=
	for s in $SPLITS; do
		out=$T/$(echo "$name" | tr / -).$s
		what="$name split $([ "$s" -eq 0 ] && echo whole || echo "$s")"
		if cmp -s "$out" "$FIX/$f"; then
			ok 0 "$what: client got the recorded bytes"
		else
			ok 1 "$what: client got the recorded bytes"
			echo "# $(head -1 "$out.h" | tr -d '\r'); got $(wc -c <"$out") bytes, want $(wc -c <"$FIX/$f")"
			cmp "$out" "$FIX/$f" 2>&1 | sed 's/^/# /'
		fi
		id=$(rid "$out")
		is "$(sql "SELECT route || ' ' || input_tokens || ' ' || cached_input_tokens || ' ' || cache_write_tokens || ' ' || output_tokens || ' ' || reasoning_tokens, usage_source, status, outcome FROM usage WHERE request_id = '$id'")" \
		    "$want|provider|200|ok" "$what: ledger row has the provider's counts"
		costs="$costs $(sql "SELECT cost_nusd FROM usage WHERE request_id = '$id'")"
	done
	set -- $want
	cost=$(priced "$1" "$2" "$3" "$4" "$5")
	is "$(echo $costs | tr ' ' '\n' | sort -u | tr '\n' ' ')" "$cost " \
	    "$name: the same cost at every split, as priced from models.json"
done

for name in $STRIPS; do
	base=${name#*/}
	for s in 1 0; do
		out=$T/$base.strip.$s
		what="$name without include_usage, split $([ "$s" -eq 0 ] && echo whole || echo "$s")"
		if cmp -s "$out" "$T/$base.strip"; then
			ok 0 "$what: client got the stream minus the usage chunk"
		else
			ok 1 "$what: client got the stream minus the usage chunk"
			cmp "$out" "$T/$base.strip" 2>&1 | sed 's/^/# /'
		fi
		is "$(sql "SELECT route || ' ' || input_tokens || ' ' || cached_input_tokens || ' ' || cache_write_tokens || ' ' || output_tokens || ' ' || reasoning_tokens, usage_source FROM usage WHERE request_id = '$(rid "$out")'")" \
		    "$(cat "$FIX/$name.expect")|provider" "$what: metered from the chunk it dropped"
	done
done
# Alone, so the mock's last request is this one: tollgate asked for usage.
request sse/openai-chat-text /v1/chat/completions true 5 "$T/strip.5" no
cmp -s "$T/strip.5" "$T/openai-chat-text.strip"
ok $? "sse/openai-chat-text without include_usage, split 5: usage chunk dropped"
like "$(mock_stats)" '\\"include_usage\\": ?true' \
    "tollgate asked the provider for include_usage"

# The mock refuses what is not a fixture, in the provider's shape.
out=$(curl -s -H "x-api-key: $APP_KEY" -H 'Content-Type: application/json' \
    --data-binary '{"model":"claude-haiku-4-5","max_tokens":8,"messages":[{"role":"user","content":"x"}],"mock":{"fixture":"../sse/anthropic-text"}}' \
    "$TG_URL/v1/messages")
like "$out" '"type": ?"error".*bad fixture name' \
    "a fixture name climbing out of the directory is refused"

echo "# $(($(date +%s) - started)) s"
tg_stop
e2e_done

#!/bin/sh
# The official openai npm SDK through tollgate (plain, streaming,
# embeddings), then the ledger rows checked against the provider's usage.
. "${top_srcdir:-.}/tests/e2e/lib.sh"
e2e_init openai-sdk

sdk_install openai-sdk.mjs

mock_start
tg_config
tg_start
TG_URL=$TG_URL APP_KEY=$APP_KEY node "$N/openai-sdk.mjs" >"$T/sdk.out" 2>"$T/sdk.err"
ok $? "the SDK script ran"
sed 's/^/# /' "$T/sdk.err" | head -20
j() { grep "\"case\":\"$1\"" "$T/sdk.out"; }
field() { printf '%s' "$1" | sed -n "s/.*\"$2\":\\([^,}]*\\).*/\\1/p" | tr -d '"'; }

chat=$(j chat)
like "$chat" '"content":"[^"]+' "chat: the SDK got content"
stream=$(j stream)
like "$stream" '"chunks":2[6-7],' "stream: every chunk arrived"
like "$stream" '"sawUsage":false,"emptyChoices":0' "stream: no usage chunk the app did not ask for"
su=$(j stream_usage)
like "$su" '"input":[0-9]+,"output":8' "stream with include_usage: SDK sees usage"
emb=$(j embeddings)
like "$emb" '"n":2,"input":[0-9]+' "embeddings"
like "$(j denied)" '"status":403,"code":"model_not_allowed"' "refusal is a typed SDK error"

tg_stop
for c in chat stream_usage embeddings; do
	line=$(j $c)
	rid=$(field "$line" request_id)
	is "$(sql "SELECT input_tokens || ':' || (output_tokens) FROM usage WHERE request_id = '$rid'")" \
	    "$(field "$line" input):$( [ $c = embeddings ] && echo 0 || field "$line" output)" \
	    "$c: ledger tokens equal what the provider reported"
done
rid=$(field "$stream" request_id)
is "$(sql "SELECT output_tokens || ':' || usage_source FROM usage WHERE request_id = '$rid'")" "50:provider" \
    "stream: ledger has the provider's count (25 chunks x 2 tokens)"
is "$(sql "SELECT count(*) FROM usage")" 5 "one row per SDK call"
e2e_done

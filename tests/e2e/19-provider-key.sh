#!/bin/sh
# The provider key goes to the configured host and nowhere else: not to a
# host named in the body (base_url, api_base, ...), in a header (Host,
# X-Forwarded-Host, Forwarded, ...) or in the request target (absolute
# form, "//host/..."), not to where a provider's redirect points (3xx are
# never followed), and never back to the client.  A second mock, the
# decoy, stands for every such place: it must see no connection at all.
# The real mock counts the credentials it got: only ever the provider
# key, in the header its API uses.  e2e_done then scans logs, ledger,
# /metrics and every answer saved below for the key.
. "${top_srcdir:-.}/tests/e2e/lib.sh"
e2e_init provider-key
MOCK_NAME=decoy; mock_start
DECOY=127.0.0.1:$MOCK_PORT
DECOY_URL=$MOCK_URL
MOCK_NAME=mock; mock_start
tg_config
tg_start
AUTHORITY=127.0.0.1:$MOCK_PORT

# send NAME [curl args]: a chat completion with the app key; the answer's
# headers and body are kept in $T (e2e_done scans them); sets CODE.
send() {
	name=$1
	shift
	CODE=$(curl -s --max-time 20 -H "Authorization: Bearer $APP_KEY" \
	    -H 'Content-Type: application/json' -D "$T/$name.head" \
	    -o "$T/$name.body" -w '%{http_code}' "$@")
}
chat_body='{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]'

# Body fields that name another endpoint or key are not honoured.
for f in base_url api_base baseURL endpoint azure_endpoint api_key; do
	send "body-$f" --data-binary "$chat_body,\"$f\":\"$DECOY_URL/v1\"}" "$TG_URL/v1/chat/completions"
	is "$CODE" 200 "body field $f: served by the configured provider"
done

# Headers that name another host are not honoured, nor passed on.
for h in "Host: $DECOY" "X-Forwarded-Host: $DECOY" "X-Forwarded-Proto: https" \
    "Forwarded: for=1.2.3.4;host=$DECOY;proto=http" "X-Original-URL: $DECOY_URL/v1/chat/completions" \
    "X-Rewrite-URL: $DECOY_URL/v1/chat/completions" "X-Host: $DECOY" "OpenAI-Base-URL: $DECOY_URL/v1"; do
	hn=${h%%:*}
	send "header-$hn" -H "$h" --data-binary "$chat_body}" "$TG_URL/v1/chat/completions"
	is "$CODE" 200 "header $hn: served by the configured provider"
	last=$(mock_stats | sed 's/.*"last"://')
	like "$last" "\"host\":\"$AUTHORITY\"" "header $hn: the provider saw its own host name"
	hl=$(printf '%s' "$hn" | tr 'A-Z' 'a-z')
	case $hl in
	host) ;;
	*) case $last in
	   *"\"$hl\":"*) ok 1 "header $hn: not passed on" ;;
	   *) ok 0 "header $hn: not passed on" ;;
	   esac ;;
	esac
done

# Request targets that name another host: the absolute form and
# "//host/path" are served by the configured provider (only the path
# counts) or refused; CONNECT is refused.  Either way the decoy gets
# nothing (checked at the end).
for t in "$DECOY_URL/v1/chat/completions" "//$DECOY/v1/chat/completions"; do
	send "target-${t%%/*}" --request-target "$t" --data-binary "$chat_body}" \
	    "$TG_URL/v1/chat/completions"
	like "$CODE" '^(200|400|404)$' "target $t: served by the configured provider or refused ($CODE)"
done
send target-connect -X CONNECT --request-target "$DECOY" "$TG_URL/"
like "$CODE" '^(400|404|405|501|000)$' "CONNECT: refused ($CODE)"

# The provider answers with a redirect to the decoy: never followed, on
# either API, streamed or not; the client gets 502 upstream_error.
redirect_msg='the provider answered with a redirect, which tollgate does not follow'
for st in 301 302 303 307 308; do
	send "redirect-$st" --data-binary "{\"model\":\"gpt-4o-mini\",\"stream\":true,\"messages\":[],\"mock\":{\"redirect\":\"$DECOY_URL/v1/chat/completions\",\"redirect_status\":$st}}" \
	    "$TG_URL/v1/chat/completions"
	is "$CODE" 502 "provider redirect $st: 502"
	is "$(cat "$T/redirect-$st.body")" \
	    "{\"error\":{\"message\":\"$redirect_msg\",\"type\":\"api_error\",\"code\":\"upstream_error\",\"param\":null}}" \
	    "provider redirect $st: upstream_error"
	case $(cat "$T/redirect-$st.head") in
	*[Ll]ocation:*) ok 1 "provider redirect $st: no Location relayed" ;;
	*) ok 0 "provider redirect $st: no Location relayed" ;;
	esac
done
code=$(curl -s --max-time 20 -H "x-api-key: $APP_KEY" -H 'anthropic-version: 2023-06-01' \
    -H 'Content-Type: application/json' \
    -o "$T/redirect-anthropic.body" -w '%{http_code}' \
    --data-binary "{\"model\":\"claude-haiku-4-5\",\"max_tokens\":5,\"messages\":[],\"mock\":{\"redirect\":\"$DECOY_URL/v1/messages\"}}" \
    "$TG_URL/v1/messages")
is "$code" 502 "provider redirect on /v1/messages: 502"
is "$(cat "$T/redirect-anthropic.body")" \
    "{\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"$redirect_msg\",\"code\":\"upstream_error\"}}" \
    "provider redirect on /v1/messages: Anthropic-shaped upstream_error"
i=0
while [ "$(sql "SELECT count(*) FROM usage WHERE status = 502")" != 6 ] && [ $i -lt 200 ]; do
	sleep 0.05
	i=$((i + 1))
done
is "$(sql "SELECT group_concat(DISTINCT outcome || ':' || attempts || ':' || cost_nusd) FROM usage WHERE status = 502")" \
    "upstream_error:1:0" "every redirect is a ledger row: upstream_error, one attempt, not billed"

# Where the key went: the decoy saw nothing, not even a connection; the
# provider saw the provider key on every request, and nothing else.
like "$(curl -s "$DECOY_URL/mock/stats")" \
    '^\{"requests":0,.*"connections":0,"keys":\{"provider":0,"other":0,"none":0\}\}$' \
    "the decoy got no connection and no key"
s=$(mock_stats)
req=$(printf '%s' "$s" | sed -n 's/^{"requests":\([0-9]*\),.*/\1/p')
like "$s" "\"keys\":\\{\"provider\":$req,\"other\":0,\"none\":0\\}\\}\$" \
    "the provider got the provider key on each of its $req requests, never another credential"

# The scan in e2e_done can fail: a planted key is found, wherever it is.
mkdir -p "$T/sub"
printf 'x %s y\n' "$PROVIDER_KEY" >"$T/sub/planted.body"
is "$(secrets_scan "$T" | sed "s|^$T/||")" "sub/planted.body" "the secrets scan finds a planted provider key"
rm -r "$T/sub"
tg_stop
is "$TG_STATUS" 0 "clean exit"
e2e_done

#!/bin/sh
# Write seed inputs for every fuzz target into DIR/<target>/ (default
# seeds/), from tests/fixtures, the shipped configuration and cases of the
# unit tests, each with the header bytes its target expects (see the
# comment at the top of each tests/fuzz/fuzz_<target>.c).  A fuzzing run
# starts from the seeds and the committed corpus, and -merge=1 keeps what
# adds coverage (tests/fuzz/README).
#
#	tests/fuzz/seed.sh [DIR]
set -eu

top=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-seeds}
fx=$top/tests/fixtures

for t in auth cfg httpresp reqbody sse usage; do
	mkdir -p "$out/$t"
done

# $1 file, $2 header (printf format), $3... files whose bytes follow
seed() {
	f=$1
	h=$2
	shift 2
	printf "$h" >"$f"
	for x in "$@"; do
		cat "$x" >>"$f"
	done
}

# sse: no limit and cuts 7,1,13,32; a 129-byte limit and cuts 1,2,3,5.
for s in "$fx"/sse/*.sse; do
	n=$(basename "$s" .sse)
	seed "$out/sse/$n" '\000\007\001\015\040' "$s"
	seed "$out/sse/$n-limit" '\220\001\002\003\005' "$s"
done
printf '\000\003\003\003\003data: a\r\rdata: b\rdata: c\r\rdata: d' \
    >"$out/sse/cr-only"
printf '\000\001\001\001\001\357\273\277data: bom\n\n: c\nid: 1\0002\n\n' \
    >"$out/sse/bom-id-nul"

# usage: 0 openai json, 1 anthropic json, 2 openai sse, 3 anthropic sse.
for f in "$fx"/json/*.json "$fx"/sse/*.sse; do
	n=$(basename "$f")
	case $f in
	*/json/anthropic-*)	h='\001' ;;
	*/json/*)		h='\000' ;;
	*/sse/anthropic-*)	h='\003' ;;
	*)			h='\002' ;;
	esac
	seed "$out/usage/$n" "$h" "$f"
done
printf '\000{"usage":{"prompt_tokens":-1,"completion_tokens":1e30}}' \
    >"$out/usage/openai-bad-counts"
printf '\003event: message_delta\ndata: {"type":"message_delta","usage":'\
'{"output_tokens":5,"input_tokens":3,"cache_read_input_tokens":9}}\n\n' \
    >"$out/usage/anthropic-delta-only"

# reqbody: bit 0 of the first byte is /v1/embeddings.
i=0
while IFS= read -r body; do
	i=$((i + 1))
	printf '\000%s' "$body" >"$out/reqbody/body-$i"
done <<'EOF'
{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 100}
{"model":"o4-mini","stream":true,"max_completion_tokens":2048,"stream_options":{"include_usage":false}}
{"model":"gpt-4o","input":"x","max_output_tokens":0,"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"a":{"type":"array","items":{"type":"string"}}}}}}]}
{"model":"claude-haiku-4-5","max_tokens":1024,"stream":null,"system":[{"type":"text","text":"\u00e8\ud83d\ude00"}]}
{"model":"m","max_tokens":9223372036854775807,"max_completion_tokens":null}
{"model":"m","max_tokens":-1}
{"model":"m","max_tokens":1e300}
{"model":"cheap","model":"dear"}
{"model":"m","x":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}
[{"model":"m"}]
EOF
printf '\001{"model":"text-embedding-3-small","input":["a","b"],"stream":true}' \
    >"$out/reqbody/embeddings"
printf '\000{"model":"m","x":"\377"}' >"$out/reqbody/bad-utf8"

# auth: bit 0 Authorization, bit 1 x-api-key, bit 2 before the expiry;
# the values are separated by a NUL.
good=tg_goodkey1_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789
expired=tg_expired1_ExpiredSecret0123456789abcdefghijklmn
printf '\001Bearer %s' "$good" >"$out/auth/bearer"
printf '\002\000 %s ' "$good" >"$out/auth/x-api-key"
printf '\003bEaReR\t%s\000%s' "$good" "$good" >"$out/auth/both"
printf '\003Bearer %s\000%s' "$good" "$expired" >"$out/auth/both-differ"
printf '\005Bearer %s' "$expired" >"$out/auth/expired-before"
printf '\001Bearer %s' "$expired" >"$out/auth/expired-after"
printf '\001Basic dXNlcjpwYXNz' >"$out/auth/basic"
printf '\001Bearer tg_abc_%s' "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789" \
    >"$out/auth/short-id"

# cfg: tollgate.json, models.json, budget files, separated by "\n--\n".
sep() {
	printf '\n--\n'
}
b=$fx/cfg/basic
{ cat "$b/tollgate.json"; sep; cat "$b/models.json"; sep
  cat "$b/budgets/alpha.json"; sep; cat "$b/budgets/beta.json"; } \
    >"$out/cfg/basic"
{ sed 's|"\.\./budgets"|"budgets"|' "$top/conf/tollgate.json"; sep
  cat "$top/conf/models.json"; sep; cat "$top/budgets/demo.json"; sep
  cat "$top/budgets/fraud-analytics.json"; } >"$out/cfg/shipped"
{ cat "$b/tollgate.json"; sep; cat "$b/models.json"; sep
  sed 's|"alpha"|"beta"|' "$b/budgets/alpha.json"; sep
  cat "$b/budgets/beta.json"; } >"$out/cfg/duplicate-team"
{ printf '{"listen": "127.0.0.1:1", "providers": {"p": {"api": '
  printf '"openai", "base_url": "http://127.0.0.1:2", "key_env": "P"}}, '
  printf '"models": "models.json", "budgets": "budgets", "ledger": '
  printf '{"path": "l.db"}, "bogus": 1}'; sep
  printf '{"version": "1", "models": {"m": {"provider": "q", '
  printf '"usd_per_mtok": {"input": -1}}}}'; sep
  printf '{"team": "t", "apps": {"a": {"keys": [{"id": "k", '
  printf '"hmac": "00"}], "limits": [{"usd": 1, "per": "year"}]}}}'; } \
    >"$out/cfg/errors"

# httpresp: bit 0 HEAD, bits 1-2 the head limit (16, 128, 1024, 65536),
# then four feed sizes.
hr() {
	printf "\\006\\003\\001\\007\\040$2" >"$out/httpresp/$1"
}
hr content-length 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\nhello world'
hr chunked 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;name=val\r\nhello\r\n6 ; x="a;b"\r\n world\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0;last\r\nX-Trailer: yes\r\n\r\n'
hr interim 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'
hr keep-alive 'HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\nHTTP/1.1 304 Not Modified\r\n\r\nHTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nxHTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil close'
hr sse 'HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n11\r\ndata: {"a":1}\n\n\r\n\r\n0\r\n\r\n'
hr smuggle 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'
hr differing 'HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nhello'
hr fold 'HTTP/1.1 502 Bad Gateway\r\nX: a\r\n b\r\n\r\n'
printf '\007\003\001\007\040HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n' \
    >"$out/httpresp/head-request"

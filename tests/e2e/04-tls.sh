#!/bin/sh
# TLS on both sides: a client over HTTPS to tollgate, tollgate over HTTPS to
# the provider with certificate and host name verification (fails closed).
. "${top_srcdir:-.}/tests/e2e/lib.sh"
e2e_init tls

# A private CA, a server certificate for localhost/127.0.0.1.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=e2e CA" \
    -keyout "$T/ca.key" -out "$T/ca.pem" >/dev/null 2>&1 || bail "CA"
openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
    -keyout "$T/srv.key" -out "$T/srv.csr" >/dev/null 2>&1 || bail "CSR"
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$T/ext"
openssl x509 -req -in "$T/srv.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" \
    -CAcreateserial -days 2 -extfile "$T/ext" -out "$T/srv.pem" >/dev/null 2>&1 || bail "cert"
# One more certificate for a name that is not ours.
openssl req -newkey rsa:2048 -nodes -subj "/CN=evil.example" \
    -keyout "$T/evil.key" -out "$T/evil.csr" >/dev/null 2>&1
printf 'subjectAltName=DNS:evil.example\n' >"$T/ext2"
openssl x509 -req -in "$T/evil.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" \
    -CAcreateserial -days 2 -extfile "$T/ext2" -out "$T/evil.pem" >/dev/null 2>&1

MOCK_URL_SCHEME=https
mock_start --tls-cert "$T/srv.pem" --tls-key "$T/srv.key"
MOCK_URL=https://localhost:$MOCK_PORT
PROVIDER_EXTRA=", \"ca_file\": \"$T/ca.pem\""
tg_config ",
  \"tls\": {\"listen\": [\"127.0.0.1:0\"], \"cert\": \"$T/srv.pem\", \"key\": \"$T/srv.key\"}"
tg_start
like "$TG_TLS_URL" "^https://127.0.0.1:[0-9]+$" "TLS listener up"

out=$(curl -s --cacert "$T/ca.pem" -H "Authorization: Bearer $APP_KEY" \
    -H 'Content-Type: application/json' \
    --data-binary '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}' \
    "$TG_TLS_URL/v1/chat/completions")
like "$out" '"chat.completion"' "HTTPS client -> tollgate -> HTTPS provider"
out=$(curl -s -N --cacert "$T/ca.pem" -H "Authorization: Bearer $APP_KEY" \
    -H 'Content-Type: application/json' \
    --data-binary '{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}],"mock":{"chunks":30}}' \
    "$TG_TLS_URL/v1/chat/completions")
is "$(printf '%s\n' "$out" | grep -c '"content":"tok')" 30 "stream over TLS both ways"
curl -s -o /dev/null --cacert "$T/ca.pem" "$TG_TLS_URL/v1/models"
is $? 0 "certificate verifies for the client"
tg_stop

# The provider presents a certificate for another name: fail closed.
kill "$MOCK_PID"; wait "$MOCK_PID" 2>/dev/null
mock_start --tls-cert "$T/evil.pem" --tls-key "$T/evil.key"
MOCK_URL=https://localhost:$MOCK_PORT
tg_config
tg_start
code=$(chat '{"model":"gpt-4o-mini","messages":[]}' -o "$T/b" -w '%{http_code}')
is "$code" 502 "wrong host name on the provider certificate: 502"
like "$(cat "$T/b")" '"code":"upstream_error"' "upstream_error code"
like "$(mock_stats)" '"requests": ?0' "nothing reached the impostor"

# An untrusted CA (no ca_file: the system store does not know ours).
PROVIDER_EXTRA=""
tg_config
tg_stop
tg_start
code=$(chat '{"model":"gpt-4o-mini","messages":[]}' -o "$T/b" -w '%{http_code}')
is "$code" 502 "untrusted provider certificate: 502"
tg_stop
wait_rows 2
is "$(sql "SELECT count(*) FROM usage WHERE outcome = 'upstream_error' AND input_tokens = 0 AND cost_nusd = 0")" 2 "failed connects are recorded, not billed"
e2e_done

# tests/e2e/lib.sh: harness for the end-to-end tests (sourced).
#
# Each test runs the real tollgate binary against the real mock provider
# over loopback, with its own scratch directory, config, budget files and
# ledger, and prints TAP.  Processes started here are killed on exit.
#
#   . "$top_srcdir/tests/e2e/lib.sh"
#   e2e_init NAME
#   mock_start [mock options]          sets MOCK_PORT
#   tg_config [extra tollgate.json members]
#   tg_start                           sets TG_PORT, TG_URL
#   ok COND-EXIT-STATUS "name" / is GOT WANT "name"
#   e2e_done

set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
TOLLGATE=$top_builddir/tollgate
MOCK=$top_builddir/tests/mock-upstream
PEPPER=e2e-test-pepper-0123456789
APP_SECRET=E2eSecretE2eSecretE2eSecretE2eSecret01
APP_KEY=tg_e2ekey01_$APP_SECRET
OTHER_SECRET=OtherSecretOtherSecretOtherSecret0123
OTHER_KEY=tg_e2ekey02_$OTHER_SECRET
PROVIDER_KEY=sk-e2e-provider-key-not-real
export TOLLGATE_KEY_PEPPER=$PEPPER
export E2E_PROVIDER_KEY=$PROVIDER_KEY
ADMIN_TOKEN=e2e-admin-token-0123456789
export E2E_ADMIN_TOKEN=$ADMIN_TOKEN

tap_n=0
tap_fail=0
pids=

e2e_init() {
	T=$top_builddir/tests/e2e/tmp/$1.$$
	rm -rf "$T"
	mkdir -p "$T/budgets"
	trap e2e_cleanup EXIT
}

e2e_cleanup() {
	for p in $pids; do
		kill "$p" 2>/dev/null || true
	done
	for p in $pids; do
		wait "$p" 2>/dev/null || true
	done
	if [ "$tap_fail" -eq 0 ] && [ -z "${E2E_KEEP:-}" ]; then
		rm -rf "$T"
	else
		echo "# scratch directory kept: $T"
	fi
}

ok() {
	tap_n=$((tap_n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $tap_n - $2"
	else
		tap_fail=$((tap_fail + 1))
		echo "not ok $tap_n - $2"
	fi
}

is() {
	if [ "$1" = "$2" ]; then
		ok 0 "$3"
	else
		ok 1 "$3"
		echo "# got:  $1"
		echo "# want: $2"
	fi
}

# like GOT REGEX NAME
like() {
	if printf '%s' "$1" | grep -Eq -- "$2"; then
		ok 0 "$3"
	else
		ok 1 "$3"
		echo "# got:  $(printf '%s' "$1" | head -c 600)"
		echo "# want: /$2/"
	fi
}

# secrets_scan DIR: the files under DIR that hold key material (an app
# secret, the provider key, the admin token, the pepper), one per line.
# stats*.json files are skipped: they hold what the mock provider was sent,
# and the provider is the one place the provider key must reach.
secrets_scan() {
	find "$1" -type f ! -name 'stats*.json' -exec grep -l -a \
	    -e "$APP_SECRET" -e "$OTHER_SECRET" -e "$PROVIDER_KEY" \
	    -e "$ADMIN_TOKEN" -e "$PEPPER" ${SECRETS_EXTRA:+-e "$SECRETS_EXTRA"} \
	    {} + 2>/dev/null
}

# metrics_save: keep what a running tollgate's /metrics says, for the scan.
metrics_save() {
	if [ -n "${TG_ADMIN_URL:-}" ] && kill -0 "${TG_PID:-0}" 2>/dev/null; then
		admin /metrics --max-time 5 >"$T/metrics.$TG_PID.txt" 2>/dev/null
	fi
	return 0
}

e2e_done() {
	# Secrets never leave tollgate: no app secret, provider key, admin
	# token or pepper in its logs, its ledgers (WAL files included), its
	# metrics or anything a client received (every body and header file
	# the test's curl calls wrote), whatever the test did.
	metrics_save
	leaks=$(secrets_scan "$T" | sed "s|^$T/||" | tr '\n' ' ')
	is "${leaks:-none}" none "no key material in logs, ledgers, metrics or answers"
	echo "1..$tap_n"
	[ "$tap_fail" -eq 0 ]
}

bail() {
	echo "Bail out! $*"
	for f in "$T"/*.log; do
		[ -f "$f" ] && { echo "# --- $f"; tail -20 "$f" | sed 's/^/# /'; }
	done
	exit 1
}

# Wait until file $1 is non-empty (up to ~10 s).
wait_file() {
	i=0
	while [ ! -s "$1" ]; do
		i=$((i + 1))
		[ $i -le 200 ] || return 1
		sleep 0.05
	done
}

# mock_start [options]: the mock provider on a free port, replaying
# tests/fixtures on request.  MOCK_NAME (default mock) names its port and
# log files, so a test can run several.
mock_start() {
	mn=${MOCK_NAME:-mock}
	rm -f "$T/$mn.port"
	"$MOCK" --port 0 --port-file "$T/$mn.port" --expect-key "$PROVIDER_KEY" \
	    --fixtures "$top_srcdir/tests/fixtures" "$@" >"$T/$mn.log" 2>&1 &
	MOCK_PID=$!
	pids="$pids $MOCK_PID"
	wait_file "$T/$mn.port" || bail "mock provider did not start"
	MOCK_PORT=$(cat "$T/$mn.port")
	MOCK_URL=${MOCK_URL_SCHEME:-http}://127.0.0.1:$MOCK_PORT
}

mock_stats() {
	curl -sk "$MOCK_URL/mock/stats"
}

hmac() {
	printf '%s' "$1" | openssl dgst -sha256 -hmac "$PEPPER" | sed 's/^.*= //'
}

# tg_config [extra members for tollgate.json, starting with a comma]
tg_config() {
	cat >"$T/models.json" <<JSON
{
  "version": "e2e-1",
  "models": {
    "gpt-4o-mini": {"provider": "mock", "usd_per_mtok": {"input": 0.15, "cached_input": 0.075, "output": 0.60}},
    "gpt-4o": {"provider": "mock", "usd_per_mtok": {"input": 2.50, "cached_input": 1.25, "output": 10.00}},
    "text-embedding-3-small": {"provider": "mock", "usd_per_mtok": {"input": 0.02}},
    "claude-haiku-4-5": {"provider": "mock-anthropic",
      "usd_per_mtok": {"input": 1.00, "cache_read": 0.10, "cache_write": 1.25, "output": 5.00}}
  }
}
JSON
	cat >"$T/budgets/e2e.json" <<JSON
{
  "team": "e2e-team",
  "cost_center": "CC-E2E",
  "owner": "owner@example.com",
  "apps": {
    "e2e-app": {
      "owner": "dev@example.com",
      "keys": [{"id": "e2ekey01", "hmac": "$(hmac "$APP_SECRET")"}],
      "models": {"allow": ["gpt-4o-mini", "text-embedding-*", "claude-*"],
                 "alias": {"default": "gpt-4o-mini"}}
    },
    "other-app": {
      "tier": "sandbox",
      "keys": [{"id": "e2ekey02", "hmac": "$(hmac "$OTHER_SECRET")", "expires": "2020-01-01"}]
    }
  }
}
JSON
	cat >"$T/tollgate.json" <<JSON
{
  "listen": ["127.0.0.1:0"],
  "admin": {"listen": "127.0.0.1:0", "token_env": "E2E_ADMIN_TOKEN"},
  "workers": ${TG_WORKERS:-2},
  "providers": {
    "mock": {"api": "openai", "base_url": "$MOCK_URL", "key_env": "E2E_PROVIDER_KEY"${PROVIDER_EXTRA:-}},
    "mock-anthropic": {"api": "anthropic", "base_url": "$MOCK_URL", "key_env": "E2E_PROVIDER_KEY"${PROVIDER_EXTRA:-}}
  },
  "models": "models.json",
  "budgets": "budgets",
  "ledger": {"path": "ledger.db"}${1:-}
}
JSON
}

# tg_launch CONFIG LOG: run a tollgate and wait until it is ready; sets
# LAUNCH_PID, LAUNCH_URL (plain listener) and LAUNCH_TLS_URL.
tg_launch() {
	: >"$2"
	"$TOLLGATE" serve -c "$1" 2>"$2" &
	LAUNCH_PID=$!
	pids="$pids $LAUNCH_PID"
	i=0
	while ! grep -q '"msg":"tollgate .* ready"' "$2"; do
		i=$((i + 1))
		if [ $i -gt 200 ] || ! kill -0 "$LAUNCH_PID" 2>/dev/null; then
			bail "tollgate ($1) did not start"
		fi
		sleep 0.05
	done
	LAUNCH_URL=$(sed -n 's/.*"listen":\["\(http:[^"]*\)".*/\1/p' "$2" | head -1)
	LAUNCH_TLS_URL=$(sed -n 's/.*"\(https:[^"]*\)".*/\1/p' "$2" | head -1)
	LAUNCH_ADMIN_URL=$(sed -n 's/.*"admin":"\([^"]*\)".*/\1/p' "$2" | head -1)
}

# tg_start: tollgate on $T/tollgate.json; TG_URL is its plain listener.
tg_start() {
	tg_launch "$T/tollgate.json" "$T/tollgate.log"
	TG_PID=$LAUNCH_PID
	TG_URL=$LAUNCH_URL
	TG_TLS_URL=$LAUNCH_TLS_URL
	TG_ADMIN_URL=$LAUNCH_ADMIN_URL
}

# admin PATH [curl args]: a call on the admin listener with the token.
admin() {
	p=$1
	shift
	curl -s -H "Authorization: Bearer $ADMIN_TOKEN" "$@" "$TG_ADMIN_URL$p"
}

# tg_stop: SIGTERM and wait (the ledger is committed on exit); the last
# /metrics is kept for e2e_done's scan.
tg_stop() {
	metrics_save
	kill -TERM "$TG_PID" 2>/dev/null || true
	wait "$TG_PID" 2>/dev/null
	TG_STATUS=$?
}

# sql QUERY: run a query on the test ledger.
sql() {
	sqlite3 -batch -noheader "$T/ledger.db" "$1"
}

# chat [extra curl args] BODY: POST a chat completion with the app key.
chat() {
	body=$1
	shift
	curl -s -H "Authorization: Bearer $APP_KEY" \
	    -H 'Content-Type: application/json' "$@" \
	    --data-binary "$body" "$TG_URL/v1/chat/completions"
}

# wait_rows N: until the ledger holds N rows (the writer commits in batches
# every 50 ms), up to ~10 s.
wait_rows() {
	i=0
	while [ "$(sql 'SELECT count(*) FROM usage' 2>/dev/null)" != "$1" ]; do
		i=$((i + 1))
		[ $i -le 200 ] || return 1
		sleep 0.05
	done
}

# redis_start: a real redis-server on a free loopback port (REDIS_PORT).
redis_start() {
	command -v redis-server >/dev/null 2>&1 ||
	    bail "redis-server is not installed (contrib/quickstart.sh installs it)"
	tries=0
	while :; do
		REDIS_PORT=$(( 20000 + ($$ * 7 + tries * 131) % 30000 ))
		if ! redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
			redis-server --port "$REDIS_PORT" --bind 127.0.0.1 \
			    --save "" --appendonly no --daemonize no \
			    >"$T/redis.log" 2>&1 &
			REDIS_PID=$!
			i=0
			while [ $i -lt 100 ]; do
				if redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; then
					pids="$pids $REDIS_PID"
					return 0
				fi
				kill -0 "$REDIS_PID" 2>/dev/null || break
				sleep 0.05
				i=$((i + 1))
			done
		fi
		tries=$((tries + 1))
		[ $tries -lt 10 ] || bail "could not start redis-server"
	done
}

# tg_start2 CONFIG LOG: a second tollgate (another replica); sets TG2_URL.
tg_start2() {
	tg_launch "$1" "$2"
	TG2_PID=$LAUNCH_PID
	TG2_URL=$LAUNCH_URL
}

# sdk_install SCRIPT: the official SDKs of tests/e2e/node/package.json in
# the build tree (npm ci once per lock file; npm's cache makes it fast; a
# lock keeps parallel tests from installing at once), and SCRIPT beside
# them.  Sets N, the directory.
sdk_install() {
	command -v node >/dev/null 2>&1 ||
	    bail "node is not installed (contrib/quickstart.sh installs it)"
	N=$top_builddir/tests/e2e/node-sdk
	mkdir -p "$N"
	(
		flock 9
		if [ ! -d "$N/node_modules/openai" ] ||
		    [ ! -d "$N/node_modules/@anthropic-ai/sdk" ] ||
		    ! cmp -s "$top_srcdir/tests/e2e/node/package-lock.json" \
		    "$N/package-lock.json"; then
			cp "$top_srcdir/tests/e2e/node/package.json" \
			    "$top_srcdir/tests/e2e/node/package-lock.json" \
			    "$top_srcdir/tests/e2e/node/.npmrc" "$N/"
			(cd "$N" && npm ci --no-audit --no-fund) \
			    >"$T/npm.log" 2>&1
		fi
	) 9>"$N.lock" || { sed 's/^/# /' "$T/npm.log"; bail "npm ci failed"; }
	cp "$top_srcdir/tests/e2e/node/$1" "$N/"
}

# worst_case_body: a 220-byte streaming chat request for 100 output tokens
# whose mock answer reports exactly 220 input and 100 output tokens, so a
# served request costs its whole reserve (220*150 + 100*600 = 93000
# nano-USD on gpt-4o-mini: the reserve prices one input token per body
# byte).  Sets BODY.
worst_case_body() {
	tmpl='{"model":"gpt-4o-mini","stream":true,"max_tokens":100,"messages":[{"role":"user","content":"PAD"}],"mock":{"chunks":50,"delay_ms":20,"usage":{"input":III,"output":100}}}'
	pad=$(printf '%0*d' $((220 - ${#tmpl} + 3)) 0)
	BODY=$(printf '%s' "$tmpl" | sed "s/PAD/$pad/; s/III/220/")
}

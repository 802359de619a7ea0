#!/bin/sh
# quickstart.sh: build and run tollgate, or build and test it, on a fresh
# Debian 12 machine.
#
#   contrib/quickstart.sh run    install what is missing, build, start
#                                tollgate on conf/tollgate.json (with the
#                                bundled mock provider when no provider key
#                                is set)
#   contrib/quickstart.sh test   the same set-up, then make check
#
# Environment: CONFIGURE_FLAGS (extra ./configure options, e.g.
# "--enable-asan --enable-ubsan"), OPENAI_API_KEY / ANTHROPIC_API_KEY (real
# providers), TOLLGATE_KEY_PEPPER (defaults to the quick-start demo pepper).
set -eu

cmd=${1:-}
case $cmd in
run|test) ;;
*)	echo "usage: contrib/quickstart.sh run|test" >&2; exit 2 ;;
esac

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

# Debian packages the build, the daemon and the tests need (chromium
# renders the showback report in its test).
pkgs="build-essential autoconf automake libtool pkg-config
libevent-dev libssl-dev libjansson-dev libsqlite3-dev libhiredis-dev
openssl ca-certificates curl sqlite3 tzdata redis-server wrk nodejs npm python3
chromium"

missing=
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
	    grep -q "install ok installed" || missing="$missing $p"
done
# A Node.js from elsewhere (with its own npm) is fine for the SDK tests.
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
	missing=$(echo "$missing" | tr ' ' '\n' | grep -v -x -e nodejs -e npm |
	    tr '\n' ' ')
fi
missing=$(echo $missing)
if [ -n "$missing" ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "quickstart: missing Debian packages: $missing" >&2
		echo "quickstart: run as root, or: sudo apt-get install $missing" >&2
		exit 1
	fi
	echo "quickstart: installing $missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# Bootstrap and build (an existing configured tree is reused).
if [ ! -x configure ] || [ configure.ac -nt configure ] ||
    [ Makefile.am -nt Makefile.in ]; then
	autoreconf -fi
fi
if [ ! -f Makefile ] || [ configure -nt Makefile ]; then
	# shellcheck disable=SC2086
	./configure ${CONFIGURE_FLAGS:-}
fi
make -j"$(nproc)"

if [ "$cmd" = test ]; then
	status=0
	make -j"$(nproc)" check || status=$?
	log=test-suite.log
	if [ -f "$log" ]; then
		pass=$(sed -n 's/^# PASS: *//p' "$log")
		fail=$(sed -n 's/^# FAIL: *//p' "$log")
		xpass=$(sed -n 's/^# XPASS: *//p' "$log")
		err=$(sed -n 's/^# ERROR: *//p' "$log")
		skip=$(sed -n 's/^# SKIP: *//p' "$log")
		failed=$(( ${fail:-0} + ${xpass:-0} + ${err:-0} ))
		[ "$failed" -eq 0 ] || status=1
		echo "${pass:-0} passed, $failed failed, ${skip:-0} skipped"
	else
		echo "0 passed, 1 failed"
		status=1
	fi
	exit $status
fi

# run: the demo pepper makes the demo key in budgets/demo.json valid.
mkdir -p var
if [ -z "${TOLLGATE_KEY_PEPPER:-}" ]; then
	TOLLGATE_KEY_PEPPER=tollgate-quickstart-demo-pepper
	echo "quickstart: TOLLGATE_KEY_PEPPER not set; using the demo pepper" \
	    "(set your own secret pepper for real use)"
fi
export TOLLGATE_KEY_PEPPER
if [ -z "${TOLLGATE_ADMIN_TOKEN:-}" ]; then
	TOLLGATE_ADMIN_TOKEN=$(openssl rand -hex 16)
fi
export TOLLGATE_ADMIN_TOKEN

config=conf/tollgate.json
if [ -z "${OPENAI_API_KEY:-}" ] && [ -z "${ANTHROPIC_API_KEY:-}" ]; then
	# No provider key: answer from the bundled mock provider instead.
	rm -f var/mock.port
	tests/mock-upstream --port 0 --port-file var/mock.port \
	    >var/mock.log 2>&1 &
	mock=$!
	trap 'kill $mock 2>/dev/null || true' EXIT INT TERM
	i=0
	while [ ! -s var/mock.port ]; do
		i=$((i + 1))
		[ $i -lt 100 ] || { echo "quickstart: mock provider did not start" >&2; exit 1; }
		sleep 0.1
	done
	port=$(cat var/mock.port)
	sed -e "s#https://api.openai.com#http://127.0.0.1:$port#" \
	    -e "s#https://api.anthropic.com#http://127.0.0.1:$port#" \
	    conf/tollgate.json >conf/quickstart.json
	config=conf/quickstart.json
	export OPENAI_API_KEY=mock-provider-key
	export ANTHROPIC_API_KEY=mock-provider-key
	echo "quickstart: no provider key set; using the mock provider on" \
	    "127.0.0.1:$port ($config)"
fi

cat <<TXT
quickstart: tollgate on http://127.0.0.1:8080 (Ctrl-C stops it). Try:

  curl -s http://127.0.0.1:8080/v1/chat/completions \\
    -H 'Authorization: Bearer tg_quickstart_DemoSecretForTheQuickstartOnly0123456789abcd' \\
    -H 'Content-Type: application/json' \\
    -d '{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}'

  ./tollgate export -c $config --from $(date +%Y-%m-%d) --to $(date +%Y-%m-%d)

  curl -s -H 'Authorization: Bearer $TOLLGATE_ADMIN_TOKEN' http://127.0.0.1:9090/metrics

TXT
./tollgate serve -c "$config"

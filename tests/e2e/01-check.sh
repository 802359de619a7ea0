#!/bin/sh
# tollgate check, --help and --version as an operator runs them.
. "${top_srcdir:-.}/tests/e2e/lib.sh"
e2e_init check

out=$("$TOLLGATE" check -c "$top_srcdir/conf/tollgate.json" 2>&1)
ok $? "the shipped conf/ and budgets/ pass tollgate check"
like "$out" "ok \\([0-9]+ provider" "check says what it loaded"

"$TOLLGATE" --help >"$T/help" 2>&1
ok $? "--help exits 0"
like "$(cat "$T/help")" "tollgate export" "--help lists the commands"
like "$("$TOLLGATE" --version)" "^tollgate [0-9]+\\.[0-9]+" "--version"

# A broken tree: every error reported as file:line:col, exit 1.
MOCK_URL=http://127.0.0.1:9
tg_config
cat >"$T/budgets/broken.json" <<'JSON'
{
  "team": "broken",
  "apps": {
    "x": {"tier": "no-such-tier",
          "limits": [{"usd": 5, "per": "fortnight"}]}
  },
  "colour": "blue"
}
JSON
out=$("$TOLLGATE" check -c "$T/tollgate.json" 2>&1)
is $? 1 "check exits 1 on errors"
like "$out" "broken.json:4:[0-9]+: .*no-such-tier" "unknown tier named with line"
like "$out" "broken.json:5:[0-9]+: .*fortnight" "bad window named with line"
like "$out" "broken.json:7:[0-9]+: .*colour" "unknown key named with line"

printf '{"listen": ["127.0.0.1:0"],\n "models": }\n' >"$T/bad.json"
out=$("$TOLLGATE" check -c "$T/bad.json" 2>&1)
is $? 1 "syntax error exits 1"
like "$out" "bad.json:2:[0-9]+: " "syntax error has file:line:col"

out=$("$TOLLGATE" serve -c "$T/bad.json" 2>&1)
is $? 1 "serve refuses a broken config"

e2e_done

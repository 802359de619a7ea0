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

# The default -c (conf/tollgate.json, relative) from a directory without
# conf/: an error naming the file, not a crash.
mkdir "$T/empty"
out=$(cd "$T/empty" && "$TOLLGATE" check 2>&1)
is $? 1 "check without conf/ in the working directory exits 1"
like "$out" "conf/tollgate.json" "and names the file it looked for"
out=$(cd "$T/empty" && "$TOLLGATE" export --from 2026-11-01 --to 2026-12-01 2>&1)
is $? 1 "export without conf/ exits 1"
out=$(cd "$T/empty" && "$TOLLGATE" check -c nodir/tollgate.json 2>&1)
is $? 1 "a relative -c whose directory is missing exits 1"

# keys new: the printed key works once its entry is in the budget file.
rm -f "$T/budgets/broken.json"
tg_config
out=$("$TOLLGATE" keys new --app other-app -c "$T/tollgate.json" 2>&1)
ok $? "keys new exits 0"
key=$(printf '%s\n' "$out" | sed -n 's/^  \(tg_[A-Za-z0-9]*_[A-Za-z0-9]*\)$/\1/p')
like "$key" '^tg_[A-Za-z0-9]{8}_[A-Za-z0-9]{43}$' "a key is printed once"
entry=$(printf '%s\n' "$out" | sed -n 's/^  \({"id".*}\)$/\1/p')
like "$entry" '^\{"id": "[A-Za-z0-9]{8}", "hmac": "[0-9a-f]{64}"\}$' "the entry to paste"
case $entry in *"${key##*_}"*) ok 1 "the secret is not in the entry" ;; *) ok 0 "the secret is not in the entry" ;; esac
"$TOLLGATE" keys new --app nobody -c "$T/tollgate.json" >/dev/null 2>"$T/err"
is $? 1 "keys new for an unknown app fails"
like "$(cat "$T/err")" 'no app "nobody"' "and says why"
sed "s/\"keys\": \[{\"id\": \"e2ekey02\"/\"keys\": [$entry, {\"id\": \"e2ekey02\"/" "$T/budgets/e2e.json" >"$T/e2e.new"
mv "$T/e2e.new" "$T/budgets/e2e.json"
"$TOLLGATE" check -c "$T/tollgate.json" >/dev/null 2>&1
ok $? "the budget file with the new entry passes check"
tg_start
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $key" "$TG_URL/v1/models")
is "$code" 200 "the new key is accepted"
tg_stop

e2e_done

#!/bin/sh
# tollgate report: the monthly showback HTML is self-contained, its numbers
# are the export's, and headless Chromium renders it into a page that is
# not blank.
. "${top_srcdir:-.}/tests/e2e/lib.sh"
e2e_init report
mock_start
tg_config ', "tiers": {"pilot": {"limits": [{"usd": 0.5, "per": "month"}]}, "production": {}}'
SEC=ReportSecretReportSecretReportSecret00
SECRETS_EXTRA=$SEC
# Free-text fields carry HTML metacharacters: the report must escape them.
cat >"$T/budgets/e2e.json" <<JSON
{
  "team": "fin-team",
  "cost_center": "R&D <Lab> \"7\"",
  "owner": "Q&A <qa@example.com>",
  "apps": {
    "billed": {"keys": [{"id": "billedxx", "hmac": "$(hmac "$SEC")"}],
               "limits": [{"usd": 1, "per": "month"}, {"requests": 4, "per": "day"}]},
    "estim": {"tier": "pilot", "keys": [{"id": "estimxxx", "hmac": "$(hmac "$SEC")"}],
              "limits": [{"usd": 2, "per": "month"}]},
    "idle-app": {"keys": [{"id": "idlexxxx", "hmac": "$(hmac "$SEC")"}]},
    "old-app": {"keys": [{"id": "oldxxxxx", "hmac": "$(hmac "$SEC")"}]}
  }
}
JSON
tg_start

call() {	# call KEYID BODY
	curl -s -H "Authorization: Bearer tg_$1_$SEC" -H 'Content-Type: application/json' \
	    --data-binary "$2" -o /dev/null -w '%{http_code}\n' "$TG_URL/v1/chat/completions"
}
codes=
for i in 1 2 3 4 5 6; do
	codes="$codes$(call billedxx '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"count the words in this"}],"mock":{"usage":{"input":1200,"output":300}}}')"
done
is "$codes" "200200200200429429" "billed: 4 served, 2 denied by its daily request limit"
call estimxxx '{"model":"gpt-4o","messages":[{"role":"user","content":"hello"}],"mock":{"usage":{"input":2000,"output":500}}}' >/dev/null
call estimxxx '{"model":"gpt-4o","messages":[{"role":"user","content":"no usage from the provider here"}],"mock":{"no_usage":true}}' >/dev/null
call estimxxx '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"nor here"}],"mock":{"no_usage":true}}' >/dev/null
wait_rows 9 || bail "the ledger did not get 9 rows"
tg_stop
is "$(sql "SELECT count(*) FROM usage WHERE usage_source = 'estimated'")" 2 "two rows with estimated usage"

# A second ledger (another replica) with old traffic of old-app, 60 days back.
cp "$T/ledger.db" "$T/old.db"
sqlite3 "$T/old.db" "UPDATE usage SET request_id = 'old-' || request_id, app = 'old-app', ts_start = ts_start - 60 * 86400000, ts_end = ts_end - 60 * 86400000"
old_day=$(sqlite3 "$T/old.db" "SELECT date(max(ts_start) / 1000, 'unixepoch') FROM usage")

month=$(date -u +%Y-%m)
first=$month-01
last=$(date -u -d "$first +1 month -1 day" +%Y-%m-%d)
"$TOLLGATE" report -c "$T/tollgate.json" --ledger "$T/ledger.db" --ledger "$T/old.db" \
    --month "$month" -o "$T/r.html" 2>"$T/report.err"
ok $? "report runs"
[ -s "$T/r.html" ] || bail "no report written: $(cat "$T/report.err")"
H=$T/r.html

# Self-contained: nothing fetched, nothing run.
! grep -Eqi 'https?://' "$H"
ok $? "no http:// or https:// reference"
! grep -Eqi '<script|<link|<img|<iframe|@import|url\(' "$H"
ok $? "no script, link, image, frame or CSS url()"
like "$(cat "$H")" 'R&amp;D &lt;Lab&gt; &quot;7&quot;' "cost center escaped"
! grep -q '<Lab>' "$H"
ok $? "no raw metacharacters from the config"

# The numbers are the export's.
"$TOLLGATE" export -c "$T/tollgate.json" --ledger "$T/ledger.db" --ledger "$T/old.db" \
    --from "$first" --to "$last" --group-by month >"$T/m.csv"
tot=$(tail -n +2 "$T/m.csv" | tr -d '\r')
attr() {	# attr FILE-LINE-PATTERN ATTR: the value of ATTR on the matching line
	grep -m1 -- "$1" "$H" | sed -n "s/.*$2=\"\\([^\"]*\\)\".*/\\1/p"
}
is "$(attr 'id="total-usd"' data-usd)" "$(echo "$tot" | cut -d, -f9)" "total spend equals the export"
is "$(attr 'id="total-requests"' data-n)" "$(echo "$tot" | cut -d, -f2)" "total requests equal the export"
is "$(attr 'id="estimated-total"' data-estimated)" "$(echo "$tot" | cut -d, -f10)" "estimated requests equal the export"

"$TOLLGATE" export -c "$T/tollgate.json" --ledger "$T/ledger.db" --ledger "$T/old.db" \
    --from "$first" --to "$last" --group-by month,app >"$T/a.csv"
n=0
for row in $(tail -n +2 "$T/a.csv" | tr -d '\r'); do
	app=$(echo "$row" | cut -d, -f2)
	is "$(attr "data-app=\"$app\"" data-requests)" "$(echo "$row" | cut -d, -f3)" "$app: requests equal the export"
	is "$(attr "data-app=\"$app\"" data-usd)" "$(echo "$row" | cut -d, -f10)" "$app: spend equals the export"
	n=$((n + 1))
done
is "$n" 2 "two apps with traffic this month"
is "$(attr 'data-denied-app="billed"' data-denied)" 2 "denied requests of billed"
is "$(attr 'data-estimated-app="estim"' data-estimated)" 2 "estimated requests of estim"
is "$(attr 'data-sunset="idle-app"' data-last-seen)" never "idle-app: candidate to sunset, never seen"
is "$(attr 'data-sunset="old-app"' data-last-seen)" "$old_day" "old-app: candidate to sunset, last seen 60 days ago"
! grep -q 'data-sunset="billed"' "$H"
ok $? "an app with traffic is not a sunset candidate"
billed_usd=$(grep '^[^,]*,billed,' "$T/a.csv" | cut -d, -f10)
like "$(grep -A3 'data-burn="billed"' "$H")" "<td>\\\$1\\.000000</td><td class=\"n\" data-usd=\"$billed_usd\"" \
    "burn-down of billed against its own \$1 limit"
like "$(grep -A3 'data-burn="estim"' "$H")" '<td>\$0\.500000</td>' "burn-down of estim against its tier's smaller \$0.5 limit"
like "$(grep -c '<svg class="chart"' "$H")" '^([7-9]|[1-9][0-9])$' "a chart in every section"
days=$(grep -o 'data-day="' "$H" | wc -l | tr -d ' ')
is "$days" "$(date -u -d "$last" +%d | sed 's/^0//')" "one daily row per day of the month"

# Render it.
CHROME=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$CHROME" ]; then
	if [ "$(id -u)" = 0 ]; then
		apt-get install -y chromium >"$T/apt.log" 2>&1 || bail "apt-get install chromium failed"
		CHROME=$(command -v chromium)
	else
		bail "chromium is not installed (contrib/quickstart.sh installs it; or apt-get install chromium)"
	fi
fi
command -v node >/dev/null 2>&1 || bail "node is not installed (contrib/quickstart.sh installs it)"
chrome() {
	timeout 60 "$CHROME" --headless --no-sandbox --disable-gpu --disable-quic \
	    --no-first-run --disable-background-networking --disable-component-update \
	    --disable-sync --disable-dev-shm-usage --user-data-dir="$T/chrome" "$@" 2>>"$T/chrome.log"
}
chrome --window-size=1280,2400 --screenshot="$T/r.png" "file://$H" >/dev/null
[ -s "$T/r.png" ] || bail "chromium wrote no screenshot"
st=$(node "$top_srcdir/tests/e2e/node/pngstat.mjs" "$T/r.png")
ok $? "screenshot decodes"
set -- $st
echo "# screenshot ${1}x$2: $4 of $3 pixels not white, $5 colours"
is "$1x$2" 1280x2400 "screenshot is 1280x2400"
ok "$([ $(($4 * 100)) -gt $(($3 * 2)) ]; echo $?)" "more than 2% of the pixels are not white"
ok "$([ "$5" -gt 4 ]; echo $?)" "more than 4 colours"
chrome --dump-dom "file://$H" >"$T/dom.html"
like "$(grep -o 'id="total-usd"[^<]*' "$T/dom.html")" "data-usd=\"$(echo "$tot" | cut -d, -f9)\"" \
    "the rendered DOM holds the export's total"
like "$(cat "$T/dom.html")" "data-usd=\"$billed_usd\"" "the rendered DOM holds billed's spend"

# Errors.
"$TOLLGATE" report -c "$T/tollgate.json" --month 2026-13 -o "$T/x.html" 2>"$T/err"
is $? 1 "a bad month is an error"
like "$(cat "$T/err")" 'bad month' "the error says why"
[ ! -e "$T/x.html" ] && [ ! -e "$T/x.html.tmp" ]
ok $? "no file left behind on error"
"$TOLLGATE" report -c "$T/tollgate.json" -o "$T/x.html" 2>/dev/null
is $? 2 "--month is required"
e2e_done

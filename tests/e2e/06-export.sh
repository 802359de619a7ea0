#!/bin/sh
# tollgate export: CSV sums equal the ledger's rows; several ledgers merge
# with each request counted once.
. "${top_srcdir:-.}/tests/e2e/lib.sh"
e2e_init export
mock_start
tg_config
tg_start
i=0
while [ $i -lt 6 ]; do
	chat '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"some words here"}]}' -o /dev/null
	i=$((i + 1))
done
curl -s -H "Authorization: Bearer $APP_KEY" -H 'Content-Type: application/json' \
    --data-binary '{"model":"text-embedding-3-small","input":"embed me"}' "$TG_URL/v1/embeddings" -o /dev/null
chat '{"model":"gpt-4o","messages":[]}' -o /dev/null
tg_stop

today=$(date -u +%Y-%m-%d)
"$TOLLGATE" export -c "$T/tollgate.json" --from "$today" --to "$today" >"$T/e.csv"
ok $? "export runs"
is "$(head -n 1 "$T/e.csv" | tr -d '\r')" \
    "day,app,model,requests,denied_requests,input_tokens,cached_input_tokens,cache_write_tokens,output_tokens,reasoning_tokens,cost_usd,estimated_requests" \
    "CSV header per the contract"
sum_csv() { tail -n +2 "$T/e.csv" | tr -d '\r' | awk -F, -v c="$1" '{ s += $c } END { print s + 0 }'; }
is "$(sum_csv 4)" "$(sql 'SELECT count(*) FROM usage')" "requests add up"
is "$(sum_csv 5)" "$(sql "SELECT count(*) FROM usage WHERE outcome = 'denied'")" "denied add up"
is "$(sum_csv 6)" "$(sql 'SELECT sum(input_tokens) FROM usage')" "input tokens add up"
is "$(sum_csv 9)" "$(sql 'SELECT sum(output_tokens) FROM usage')" "output tokens add up"
nusd=$(sql 'SELECT sum(cost_nusd) FROM usage')
csv_usd=$(tail -n +2 "$T/e.csv" | tr -d '\r' | awk -F, '{ split($11, a, "."); s += a[1] * 1000000 + a[2] } END { print s }')
is "$csv_usd" "$(( (nusd + 500) / 1000 ))" "cost_usd adds up to the ledger's nano-dollars"

# FOCUS: one row per day, team, cost_center, app, tier, provider, model;
# BilledCost has 9 decimals, so it adds up to the ledger's nano-dollars.
"$TOLLGATE" export -c "$T/tollgate.json" --from "$today" --to "$today" --format focus >"$T/f.csv"
ok $? "focus export runs"
like "$(head -n 1 "$T/f.csv" | tr -d '\r')" \
    '^BilledCost,BillingCurrency,BillingPeriodStart,BillingPeriodEnd,ChargeCategory,ChargeClass,ChargeDescription,ChargeFrequency,ChargePeriodStart,ChargePeriodEnd,ConsumedQuantity,ConsumedUnit,ContractedCost,EffectiveCost,InvoiceIssuerName,ListCost,PricingCategory,PricingQuantity,PricingUnit,ProviderName,PublisherName,ResourceId,ResourceName,ServiceCategory,ServiceName,SkuId,Tags,x_' \
    "FOCUS header"
focus_nusd=$(tail -n +2 "$T/f.csv" | tr -d '\r' | awk -F, '{ split($1, a, "."); s += a[1] * 1000000000 + a[2] } END { printf "%.0f\n", s }')
is "$focus_nusd" "$nusd" "focus BilledCost adds up to the ledger's nano-dollars"
is "$(( (focus_nusd + 500) / 1000 ))" "$csv_usd" "focus BilledCost equals the CSV cost_usd total"
is "$(tail -n +2 "$T/f.csv" | tr -d '\r' | awk -F, '{ s += $(NF - 7) } END { print s + 0 }')" \
    "$(sql 'SELECT count(*) FROM usage')" "focus x_Requests add up"

"$TOLLGATE" export -c "$T/tollgate.json" --from "$today" --to "$today" --group-by team,cost_center >"$T/t.csv"
is "$(tail -n +2 "$T/t.csv" | tr -d '\r' | cut -d, -f1-3)" "e2e-team,CC-E2E,8" "group by team"
"$TOLLGATE" export -c "$T/tollgate.json" --from "$today" --to "$today" --format json >"$T/e.json"
like "$(cat "$T/e.json")" '"requests": ?[0-9]' "JSON export"

# A second replica's ledger, sharing one request id with the first.
cp "$T/ledger.db" "$T/replica.db"
sqlite3 "$T/replica.db" "UPDATE usage SET request_id = 'r2-' || request_id WHERE rowid > 1"
"$TOLLGATE" export -c "$T/tollgate.json" --ledger "$T/ledger.db" --ledger "$T/replica.db" \
    --from "$today" --to "$today" --group-by team >"$T/m.csv"
is "$(tail -n +2 "$T/m.csv" | tr -d '\r' | cut -d, -f2)" 15 "two ledgers merged, shared request counted once"

"$TOLLGATE" export -c "$T/tollgate.json" --from 2020-01-02 --to 2020-01-01 >/dev/null 2>"$T/err"
is $? 1 "from after to is an error"
"$TOLLGATE" export -c "$T/tollgate.json" --ledger "$T/nope.db" --from "$today" --to "$today" >/dev/null 2>"$T/err"
is $? 1 "missing ledger is an error"
like "$(cat "$T/err")" "nope.db" "the error names the file"
e2e_done

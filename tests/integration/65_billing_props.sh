#!/usr/bin/env bash
# Billing properties over many random calls, through billingd and
# PostgreSQL: 150 answered calls of random length to random destinations,
# fed as call events; then every event again (same ids, past JetStream's
# own de-duplication) and a second "ended" for a third of the calls.
#   - one rated line per call, whatever arrives twice; nothing posts twice
#   - cost never decreases with talk time, per destination row
#   - every ledger transaction sums to zero; the balance is the sum of the
#     tenant's entries and equals the top-up minus the rated costs
#   - rerating twice equals rerating once
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
trap stack_down EXIT
stack_up || exit 1

deck() { # deck NAME FILE [EFFECTIVE]
	RESP=$CC_VAR/resp.json
	HTTP=$(curl -sk -o "$RESP" -w '%{http_code}' -X POST -H "Authorization: Bearer $OPERATOR" \
		-H 'Content-Type: text/csv' --data-binary "@$2" \
		"$API/v1/tariffs?name=$1&currency=CNY&effective_from=${3:-2026-01-01T00:00:00Z}")
}
printf 'prefix,description,rate_per_min,connect_fee,initial_s,increment_s,min_s\n86,China,0.37,0,60,60,0\n86138,Mobile,0.23,0.05,30,6,0\n861,Mobile-ish,0.19,0,1,1,10\n44,UK,1.10,0.02,60,1,0\n4420,London,0.41,0,6,6,0\n1,NANP,0.07,0,1,1,0\n' > "$CC_VAR/d1.csv"
deck props "$CC_VAR/d1.csv"
expect_eq deck_imported "$HTTP" 201
new_tenant acme
T=${TID[acme]}
api PUT /v1/tenants/acme/billing "$OPERATOR" '{"mode":"postpaid","currency":"CNY","tariffs":{"outbound":"props"},"credit_limit":"100000.00"}'
api POST /v1/tenants/acme/billing/topups "$OPERATOR" '{"amount":"5000.00","reference":"start"}'

dests=(8613812345678 8615012345678 8610987654 442079460000 442012345678 447700900123 12025550123 3312345678)
RANDOM=4242
events=$CC_VAR/events.txt
: > "$events"
for i in $(seq 1 150); do
	c=$(uuid) d=${dests[RANDOM % ${#dests[@]}]}
	talk=$(( (RANDOM % 900) * 1000 + RANDOM % 1000 ))   # up to 15 min, ms
	t0=$(( 1795200000 + i * 1000 ))                       # 2026-11-19...
	start=$(date -u -d "@$t0" +%FT%T).000000Z
	end=$(date -u -d "@$(( t0 + talk / 1000 ))" +%FT%T).$(printf '%03d' $(( talk % 1000 )))000Z
	for e in "offered|$start|\"direction\":\"outbound\",\"from\":\"1001\",\"to\":\"+$d\"" \
	         "answered|$start|" "ended|$end|\"code\":200,\"result\":\"answered\""; do
		IFS='|' read -r type ts extra <<< "$e"
		id=$(uuid)
		echo "cc.call.$T.$type $id {\"v\":1,\"id\":\"$id\",\"ts\":\"$ts\",\"tenant\":\"$T\",\"type\":\"$type\",\"call\":\"$c\"${extra:+,$extra}}" >> "$events"
	done
done
while read -r subject id body; do "$PUB" "$NATS" "$subject" "$id" "$body"; done < "$events"
lines() { sql "SELECT count(*) FROM cc.rated_lines WHERE tenant_id = '$T'"; }
check all_rated wait_for 60 bash -c "[ \"\$(PGPASSWORD=$(cat "$CC_VAR/secrets/pg_admin") psql -h 127.0.0.1 -p $CC_PG_PORT -U cc_admin -d cc -tAc \"SELECT count(*) FROM cc.rated_lines WHERE tenant_id = '$T'\")\" = 150 ]"
entries=$(sql "SELECT count(*) FROM cc.ledger_entries")
balance=$(sql "SELECT sum(amount_micro) FROM cc.ledger_entries WHERE tenant_id = '$T' AND account = 'tenant'")

# every event again, without JetStream's message id (so billingd sees them),
# and a fresh "ended" (new event id) for every third call
while read -r subject id body; do "$PUB" "$NATS" "$subject" - "$body"; done < "$events"
n=0
while read -r subject id body; do
	case $subject in *.ended) n=$((n + 1)); [ $((n % 3)) = 0 ] || continue
		nid=$(uuid); "$PUB" "$NATS" "$subject" "$nid" "${body/\"id\":\"$id\"/\"id\":\"$nid\"}" ;; esac
done < "$events"
# billingd has caught up when the events table holds every published id
want=$(( $(wc -l < "$events") + 50 ))
check replays_consumed wait_for 60 bash -c "[ \"\$(PGPASSWORD=$(cat "$CC_VAR/secrets/pg_admin") psql -h 127.0.0.1 -p $CC_PG_PORT -U cc_admin -d cc -tAc \"SELECT count(*) FROM cc.call_events WHERE tenant_id = '$T'\")\" = $want ]"
sleep 1
expect_eq duplicates_one_line_per_call "$(lines)" 150
expect_eq duplicates_post_nothing "$(sql "SELECT count(*) FROM cc.ledger_entries")" "$entries"
expect_eq duplicates_balance_unchanged "$(sql "SELECT sum(amount_micro) FROM cc.ledger_entries WHERE tenant_id = '$T' AND account = 'tenant'")" "$balance"

# cost never decreases with talk time under the same deck row
expect_eq cost_monotonic "$(sql "SELECT count(*) FROM (SELECT cost_micro < lag(cost_micro) OVER (PARTITION BY prefix ORDER BY talk_ms, call_id) AS down FROM cc.rated_lines WHERE tenant_id = '$T' AND prefix IS NOT NULL) x WHERE down")" 0
# rounded once, to the fen
expect_eq cost_in_minor_units "$(sql "SELECT count(*) FROM cc.rated_lines WHERE tenant_id = '$T' AND cost_micro % 10000 <> 0")" 0
# the ledger
expect_eq every_transaction_balanced "$(sql "SELECT count(*) FROM (SELECT txn_id FROM cc.ledger_entries GROUP BY txn_id HAVING sum(amount_micro) <> 0) x")" 0
expect_eq balance_is_topup_minus_costs "$balance" "$(sql "SELECT 5000000000 - sum(cost_micro) FROM cc.rated_lines WHERE tenant_id = '$T'")"
api GET /v1/tenants/acme/balance "${KEY[acme]}"
expect_eq api_balance_is_ledger_sum "$(jr .balance | tr -d .)0000" "$balance"

# rerating: a corrected deck from the start; twice equals once
sed 's/86138,Mobile,0.23/86138,Mobile,0.29/; s/44,UK,1.10/44,UK,1.30/' "$CC_VAR/d1.csv" > "$CC_VAR/d2.csv"
deck props "$CC_VAR/d2.csv" 2026-01-02T00:00:00Z
api POST /v1/tenants/acme/billing/rerate "$OPERATOR" '{"from":"2026-11-01T00:00:00Z","to":"2026-12-01T00:00:00Z"}'
check rerate_changes_some [ "$HTTP" = 200 -a "$(jr .changed)" -gt 0 ]
after_once=$(sql "SELECT sum(amount_micro) FROM cc.ledger_entries WHERE tenant_id = '$T' AND account = 'tenant'")
entries_once=$(sql "SELECT count(*) FROM cc.ledger_entries")
api POST /v1/tenants/acme/billing/rerate "$OPERATOR" '{"from":"2026-11-01T00:00:00Z","to":"2026-12-01T00:00:00Z"}'
check rerate_twice_changes_nothing [ "$(jr .changed)" = 0 -a "$(sql "SELECT count(*) FROM cc.ledger_entries")" = "$entries_once" ]
expect_eq rerate_balance_is_topup_minus_latest "$after_once" "$(sql "SELECT 5000000000 - sum(cost_micro) FROM (SELECT DISTINCT ON (call_id) cost_micro FROM cc.rated_lines WHERE tenant_id = '$T' ORDER BY call_id, revision DESC) x")"

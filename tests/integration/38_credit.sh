#!/usr/bin/env bash
# Credit at call setup and during the call (routing/credit.h, docs/BILLING.md):
#  - a call whose grant must wait for billingd is parked, never waited for:
#    with billingd stopped (SIGSTOP), a billed call with an empty lease gets
#    503 at the grant deadline while an unbilled call placed at the same
#    moment is answered at once (the decision histogram shows it);
#  - slices: a tenant with credit for 5 minutes carries 3 concurrent 60 s
#    calls; a tenant with credit for 2 minutes whose call runs longer is
#    cut at about 2 minutes by its last top-up, never past its credit;
#  - billingd killed (kill -9) during 20 calls/s for 20 s: no call refused,
#    every answered call rated once, no grant left open.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
export CC_CREDIT_SLICE_S=90 CC_CREDIT_TOPUP_S=10 CC_ROUTING_GRANT_TIMEOUT_MS=1000
trap stack_down EXIT
stack_up || exit 1

metric() { curl -s "http://127.0.0.1:$CC_ROUTING_METRICS_PORT/metrics" | awk -v n="$1" '$1 == n { print $2 }'; }
cli() { (eval "$("$TOP/ops/stack.sh" env)"; "${CC_BUILD:-$TOP/build}/billing/billing" "$@"); }
# agent PORT CALLS: an agent phone answering CALLS calls, no overall timeout
agent() {
	(cd "$SIPW" && exec timeout -s KILL 200 sipp -i 127.0.0.1 -mp "$(pick_port 4)" -sf "$SIPP_DIR/agent_uas.xml" \
		-p "$1" -m "$2" -l 500 -trace_msg -message_file "agent-$1.log" -nostdin > "agent-$1.out" 2>&1) &
	AGENT_PID=$!
	SIPP_PIDS="$SIPP_PIDS $AGENT_PID"
	wait_for 5 ss_bound_udp "$1"
}
# calls TAG FROM_PORT NUMBER N TALK_MS RATE [SCENARIO]: N carrier calls
calls() {
	(cd "$SIPW" && timeout -s KILL 200 sipp 127.0.0.1:"$CC_SIP_PORT" -i 127.0.0.1 -mp "$(pick_port 4)" \
		-sf "${7:-$SIPP_DIR/carrier_call.xml}" -s "$3" -set from +8613800000001 -p "$2" \
		-default_behaviors all,-abortunexp -m "$4" -l 500 -r "$6" -d "$5" -timeout 180 \
		-trace_err -error_file "$1.err" -trace_stat -stf "$1.csv" -nostdin > "$1.out" 2>&1)
}
# stat TAG COLUMN: a SIPp statistic of the run, by its column's name
stat() { awk -F';' -v c="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == c) n = i } END { print $n }' "$SIPW/$1.csv"; }
failed_of() { stat "$1" 'FailedCall(C)'; }

CARRIER=$(pick_port) CARRIER2=$(pick_port) CARRIER3=$(pick_port)
new_trunk carrier1 "$CARRIER"
new_trunk carrier2 "$CARRIER2"
new_trunk carrier3 "$CARRIER3"
HDR=prefix,description,rate_per_min,connect_fee,initial_s,increment_s,min_s
printf '%s\n86,Prepaid,6.00,0,1,1,0\n' "$HDR" > "$CC_VAR/pre.csv"
curl -sk -o /dev/null -X POST -H "Authorization: Bearer $OPERATOR" -H 'Content-Type: text/csv' \
	--data-binary "@$CC_VAR/pre.csv" "$API/v1/tariffs?name=pre-in&currency=CNY&effective_from=2026-01-01T00:00:00Z"
# prepaid SLUG NUMBER AMOUNT: a tenant, agent 1001 ringing NUMBER, AMOUNT paid in
prepaid() {
	new_tenant "$1"; new_agent "$1" 1001 "$1-pass-1001"; new_number "$1" "$2" 1001
	api PUT "/v1/tenants/$1/billing" "$OPERATOR" '{"mode":"prepaid","currency":"CNY","tariffs":{"inbound":"pre-in"}}'
	api POST "/v1/tenants/$1/billing/topups" "$OPERATOR" "{\"amount\":\"$3\",\"reference\":\"r-$1\"}"
}
prepaid park +8657199990001 100.00
new_tenant free; new_agent free 1001 free-pass-1001; new_number free +8657188880001 1001
prepaid five +8657199990005 30.00     # 0.10 a second: 300 s
prepaid two +8657199990002 12.00      # 120 s
new_tenant load; new_agent load 1001 load-pass-1001; new_number load +8657177770001 1001
api PUT /v1/tenants/load/billing "$OPERATOR" '{"mode":"postpaid","currency":"CNY","tariffs":{"inbound":"pre-in"},"credit_limit":"100000.00"}'
A_PARK=$(pick_port) A_FREE=$(pick_port) A5=$(pick_port) A2=$(pick_port) AL=$(pick_port)
check register_park sip_register 1001 park.cc.test park-pass-1001 "$A_PARK"
check register_free sip_register 1001 free.cc.test free-pass-1001 "$A_FREE"
check register_five sip_register 1001 five.cc.test five-pass-1001 "$A5"
check register_two sip_register 1001 two.cc.test two-pass-1001 "$A2"
check register_load sip_register 1001 load.cc.test load-pass-1001 "$AL"
sleep 1   # the model reload after the last change

# -------------------------------------------- a parked call never waits the loop
bucket() { curl -s "http://127.0.0.1:$CC_ROUTING_METRICS_PORT/metrics" | awk -v b="cc_routing_decision_seconds_bucket{le=\"$1\"}" '$1 == b { print $2 }'; }
BPID=$(cat "$CC_VAR/run/billingd.pid")
kill -STOP "$BPID"
fast0=$(bucket 0.1) all0=$(metric cc_routing_decision_seconds_count) parked0=$(metric cc_routing_grants_parked_total)
agent "$A_FREE" 1
(check park_503_at_deadline sip_call_refused 503 "$CARRIER" +8657199990001 +8613800000002) &
ppid=$!
sleep 0.2
t0=$(date +%s%N)
check unbilled_answered_while_parked sip_call "$CARRIER2" +8657188880001 +8613800000003 200
t1=$(date +%s%N)
wait "$ppid"
kill -CONT "$BPID"
echo "# unbilled call beside a parked one: whole SIPp run $(( (t1 - t0) / 1000000 )) ms (200 ms of talk)"
check park_counted [ "$(metric cc_routing_grants_parked_total)" = $((parked0 + 1)) ]
check park_two_decisions [ "$(metric cc_routing_decision_seconds_count)" = $((all0 + 2)) ]
# the unbilled decision within 100 ms; the parked one took the deadline (1 s)
check park_unbilled_decided_fast [ "$(bucket 0.1)" = $((fast0 + 1)) ]
check park_refusal_recorded wait_for 10 bash -c "[ \"\$(PGPASSWORD=$(cat "$CC_VAR/secrets/pg_admin") psql -h 127.0.0.1 -p $CC_PG_PORT -U cc_admin -d cc -tAc \"SELECT count(*) FROM cc.calls c WHERE c.tenant_id = '${TID[park]}' AND c.sip_code = 503\")\" = 1 ]"
wait "$AGENT_PID"
agent "$A_PARK" 1
check park_next_call_granted sip_call "$CARRIER" +8657199990001 +8613800000004 200
wait "$AGENT_PID"

# ------------------------------------------------------------------- slices
# three concurrent 60 s calls from 300 s of credit (90 s slices), and a
# call of a tenant with 120 s of credit that would talk 190 s
sed 's/timeout="40000"/timeout="190000"/' "$SIPP_DIR/carrier_call_cut.xml" > "$SIPW/cut_long.xml"
agent "$A5" 3; a5=$AGENT_PID
agent "$A2" 1; a2=$AGENT_PID
t0=$(date +%s)
calls five "$CARRIER" +8657199990005 3 60000 10 &
fivepid=$!
calls two "$CARRIER3" +8657199990002 1 0 1 "$SIPW/cut_long.xml" &
twopid=$!
wait "$fivepid"; rc5=$?
check slices_three_calls_of_five_minutes [ "$rc5" = 0 -a "$(failed_of five)" = 0 -a "$(stat five 'SuccessfulCall(C)')" = 3 ]
wait "$twopid"; rc2=$?
t1=$(date +%s)
check slices_call_cut_by_platform [ "$rc2" = 0 ]
wait "$a5"
# the agent of the cut call gets the dialog timer's BYE under the Call-ID
# it knows the call by (topology hiding masks it: "TH: dl"), and ends
check slices_cut_agent_hung_up wait "$a2"
rated_n() { [ "$(sql "SELECT count(*) FROM cc.rated_lines WHERE tenant_id = '$1' AND billable_s > 0")" = "$2" ]; }
check slices_five_rated wait_for 15 rated_n "${TID[five]}" 3
check slices_two_rated wait_for 15 rated_n "${TID[two]}" 1
talk=$(sql "SELECT round(extract(epoch FROM ended_at - answered_at)) FROM cc.calls WHERE tenant_id = '${TID[two]}' AND answered_at IS NOT NULL")
echo "# a 120 s credit: the call talked ${talk} s (SIPp ran $((t1 - t0)) s)"
check slices_cut_at_two_minutes awk -v t="$talk" 'BEGIN { exit !(t >= 115 && t <= 122) }'
check slices_topped_up [ "$(sql "SELECT count(*) || ':' || sum(seconds) FROM cc.grants WHERE tenant_id = '${TID[two]}'")" = "2:120" ]
check slices_cut_reason [ "$(sql "SELECT reason FROM cc.calls WHERE tenant_id = '${TID[two]}' AND answered_at IS NOT NULL")" = "credit exhausted" ]
api GET /v1/tenants/two/balance "${KEY[two]}"
check slices_never_past_credit [ "$(jr .balance)" = 0.00 -o "$(jr .balance)" = 0.10 ] && check slices_nothing_reserved [ "$(jr .reserved)" = 0.00 ]
api GET /v1/tenants/five/balance "${KEY[five]}"
check slices_five_paid_talk awk -v b="$(jr .balance)" -v r="$(jr .reserved)" 'BEGIN { exit !(b >= 11.5 && b <= 12.0 && r == 0) }'
check slices_grants_settled [ "$(sql "SELECT count(*) FROM cc.grants WHERE tenant_id IN ('${TID[five]}', '${TID[two]}') AND settled_at IS NULL")" = 0 ]

# ------------------------------------------------ billingd killed under load
agent "$AL" 400; al=$AGENT_PID
calls load "$CARRIER" +8657177770001 400 1000 20 &
loadpid=$!
sleep 6
kill -9 "$(cat "$CC_VAR/run/billingd.pid")"
wait "$loadpid"
wait "$al"
# the batch billingd lost is redelivered by JetStream after its ack wait (30 s)
answered_n() { [ "$(sql "SELECT count(*) FROM cc.calls WHERE tenant_id = '${TID[load]}' AND answered_at IS NOT NULL")" = 400 ]; }
wait_for 60 answered_n
answered=$(sql "SELECT count(*) FROM cc.calls WHERE tenant_id = '${TID[load]}' AND answered_at IS NOT NULL")
echo "# billingd killed mid-load: $answered calls answered; routingd's decision p50 $(metric cc_routing_decision_seconds_p50) s, p99 $(metric cc_routing_decision_seconds_p99) s (since start)"
check restart_no_call_refused [ "$(failed_of load)" = 0 -a "$(stat load 'SuccessfulCall(C)')" = 400 -a "$answered" = 400 ]
all_rated() { [ "$(sql "SELECT count(*) FROM cc.rated_lines WHERE tenant_id = '${TID[load]}'")" = "$answered" ]; }
check restart_every_call_rated wait_for 30 all_rated
check restart_rated_once [ "$(sql "SELECT count(*) FROM (SELECT call_id FROM cc.rated_lines WHERE tenant_id = '${TID[load]}' GROUP BY call_id HAVING count(*) > 1) x")" = 0 ]
open_grants() { [ "$(sql "SELECT count(*) FROM cc.grants WHERE tenant_id = '${TID[load]}' AND settled_at IS NULL")" = 0 ]; }
check restart_no_open_grant wait_for 15 open_grants
check restart_billingd_honoured_leases grep -q "leases of an earlier run honoured" "$CC_VAR/log/billingd.log"
cli reconcile --tenant load --from "$(date -u -d '-1 hour' +%FT%TZ)" --to "$(date -u -d '+1 hour' +%FT%TZ)" > "$CC_VAR/recon.json"
rc=$?
[ "$rc" = 0 ] || echo "# reconciliation gaps: $(jq -c '[.. | objects | select(has("kind")) | [.kind, .call]]' "$CC_VAR/recon.json" 2>/dev/null | head -c 600)"
check restart_reconcile_clean [ "$rc" = 0 ]

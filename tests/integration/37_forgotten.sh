#!/usr/bin/env bash
# No call forgotten.
#  1. Calls that end while routingd is away: Kamailio keeps each call event
#     until routingd acknowledges it and sends the kept ones to the next
#     routingd, which publishes them dated when they happened. Before, with
#     no routingd connected the ends were dropped (evapi_unicast still
#     "succeeds") and 10 answered calls stayed open, unrated, their credit
#     reserved for 4 h. A kept event delivered twice is one event.
#  2. Calls whose dialog is lost (rows gone from kamailio.dialog before a
#     Kamailio restart): the sweep ends them within a period, dated at the
#     last moment they were seen up; billingd rates them and settles their
#     grants. A call still up is never swept.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
export CC_ROUTING_SWEEP_S=5 CC_ROUTING_SWEEP_GRACE_S=5
trap stack_down EXIT
stack_up || exit 1

acme_with_agent
# a prepaid plan: every call gets a credit grant that its rating settles
D=$CC_VAR/decks; mkdir -p "$D"
printf 'prefix,description,rate_per_min,connect_fee,initial_s,increment_s,min_s\n86571,Hangzhou DID,0.60,0,1,1,0\n' > "$D/in.csv"
HTTP=$(curl -sk -o "$CC_VAR/resp.json" -w '%{http_code}' -X POST -H "Authorization: Bearer $OPERATOR" \
	-H 'Content-Type: text/csv' --data-binary "@$D/in.csv" \
	"$API/v1/tariffs?name=in&currency=CNY&effective_from=2026-01-01T00:00:00Z")
expect_eq deck_imported "$HTTP" 201
api PUT /v1/tenants/acme/billing "$OPERATOR" '{"mode":"prepaid","currency":"CNY","tariffs":{"inbound":"in"},"max_call_seconds":3600}'
expect_eq plan_set "$HTTP" 200
api POST /v1/tenants/acme/billing/topups "$OPERATOR" '{"amount":"1000.00","reference":"t1"}'
expect_eq topped_up "$HTTP" 201
T=${TID[acme]}

# agent_phone PORT CALLS: answers CALLS calls, up to 100 s (sip_agent's
# phone gives up after 30 s)
agent_phone() {
	(cd "$SIPW" && exec timeout -s KILL 110 sipp -i 127.0.0.1 -mp "$(pick_port 4)" -sf "$SIPP_DIR/agent_uas.xml" \
		-p "$1" -m "$2" -trace_msg -message_file "agent-$1.log" -nostdin -timeout 100 > "agent-$1.out" 2>&1) &
	SIPP_PIDS="$SIPP_PIDS $!"
	wait_for 5 ss_bound_udp "$1"
}
# carrier_calls TAG N TALK_MS: N concurrent carrier calls to acme's number
carrier_calls() {
	(sipp_run "$1" -sf "$SIPP_DIR/carrier_call.xml" -s +8657112345678 -set from +8613800000001 -p "$CARRIER" \
		-default_behaviors all,-abortunexp -m "$2" -l "$2" -r "$2" -d "$3" -timeout 100; echo $? > "$SIPW/$1.rc") &
	SIPP_PIDS="$SIPP_PIDS $!"
}
open_calls() { sql "SELECT count(*) FROM cc.calls WHERE tenant_id = '$T' AND answered_at IS NOT NULL AND ended_at IS NULL"; }
answered_open() { [ "$(open_calls)" = "$1" ]; }
in_batch() { sql "SELECT count(*) FROM cc.calls WHERE tenant_id = '$T' AND answered_at IS NOT NULL AND started_at > '$1' $2"; }
batch_is() { [ "$(in_batch "$1" "$2")" = "$3" ]; }

# ------------------------------------------ 1. ends while routingd is away
t1=$(sql "SELECT now()")
agent_phone "$A1001" 10
carrier_calls away 10 10000
check ten_calls_answered wait_for 20 answered_open 10
"$TOP/ops/stack.sh" stop routingd > "$SIPW/stop-routingd.log" 2>&1
routingds() { "$TOP/ops/kamrpc.sh" pv.shvGet '["routingd"]' | jq -r '.result.value'; }
expect_eq routingd_stopped "$(routingds)" 0
# the carrier hangs up all ten meanwhile (10 s of talk)
check carrier_hung_up wait_for 30 test -s "$SIPW/away.rc"
expect_eq carrier_calls_completed "$(cat "$SIPW/away.rc")" 0
sleep 2
expect_eq no_end_while_routingd_away "$(in_batch "$t1" "AND ended_at IS NOT NULL")" 0
kept_now() { "$TOP/ops/kamrpc.sh" htable.stats | jq -r '.result[] | select(.name == "evq") | .all'; }
expect_eq ends_kept_while_away "$(kept_now)" 10
# a client without the secret cannot make Kamailio forget them
exec 7<>/dev/tcp/127.0.0.1/"$CC_EVAPI_PORT"
acks=$(seq -s, 1 64)
printf '%d:%s,' $(( ${#acks} + 10 )) "{\"ack\":\"$acks\"}" >&7
sleep 0.5
exec 7>&-
expect_eq rogue_ack_forgets_nothing "$(kept_now)" 10
"$TOP/ops/stack.sh" start routingd > "$SIPW/start-routingd.log" 2>&1
check kept_ends_delivered wait_for 20 batch_is "$t1" "AND ended_at IS NOT NULL" 10
# dated by Kamailio when the BYE came (10 s of talk), not when delivered
# (at least 4 s later)
expect_eq kept_ends_dated_when_they_happened \
	"$(in_batch "$t1" "AND talk_seconds BETWEEN 9 AND 12")" 10
check kept_calls_rated wait_for 10 batch_is "$t1" "AND EXISTS (SELECT 1 FROM cc.rated_lines r WHERE r.call_id = cc.calls.id)" 10
expect_eq kept_calls_grants_settled \
	"$(sql "SELECT count(*) FROM cc.grants g JOIN cc.calls c ON c.id = g.call_id WHERE c.tenant_id = '$T' AND c.started_at > '$t1' AND g.settled_at IS NOT NULL")" 10
expect_eq kept_events_acknowledged "$(kept_now)" 0

# a kept end delivered twice (as when routingd dies between publishing and
# acknowledging): put one back into Kamailio's ring, dated 30 s later, and
# let the next routingd get it again
C1=$(sql "SELECT id FROM cc.calls WHERE tenant_id = '$T' AND started_at > '$t1' ORDER BY id LIMIT 1")
talk1=$(sql "SELECT talk_seconds FROM cc.calls WHERE id = '$C1'")
at=$(( $(date +%s) + 30 )).000000
again=$(jq -cn --arg c "$C1" --arg t "$T" --arg at "$at" '{k:19999,at:$at,ev:"ended",call:$c,tenant:$t}')
"$TOP/ops/kamrpc.sh" htable.sets "$(jq -cn --arg v "$again" '["evq","e19999",$v]')" > /dev/null
"$TOP/ops/stack.sh" stop routingd > /dev/null 2>&1
"$TOP/ops/stack.sh" start routingd > /dev/null 2>&1
slot_empty() { ! "$TOP/ops/kamrpc.sh" htable.get '["evq","e19999"]' | grep -q '"value"'; }
check repeat_acknowledged wait_for 10 slot_empty
sleep 2
expect_eq repeat_is_one_end "$(sql "SELECT count(*) FROM cc.call_events WHERE call_id = '$C1' AND type = 'ended'")" 1
expect_eq repeat_changes_no_talk_time "$(sql "SELECT talk_seconds FROM cc.calls WHERE id = '$C1'")" "$talk1"
FROM=$(date -u -d '-1 hour' +%FT%TZ) TO=$(date -u -d '+1 hour' +%FT%TZ)
api GET "/v1/tenants/acme/billing/reconciliation?from=$FROM&to=$TO" "${KEY[acme]}"
check reconcile_no_duplicate_or_missing_end \
	[ "$HTTP" = 200 -a "$(jr '[.gaps[] | select(.kind == "duplicate_end" or .kind == "no_end" or .kind == "not_rated")] | length')" = 0 ]

# ------------------------------------------------------ 2. the sweep
t2=$(sql "SELECT now()")
agent_phone "$A1001" 3
carrier_calls lost 3 45000
check three_calls_answered wait_for 20 batch_is "$t2" "AND ended_at IS NULL" 3
dialogs_written() { [ "$(sql "SELECT count(*) FROM kamailio.dialog WHERE state = 4")" = 3 ]; }
check dialogs_written wait_for 10 dialogs_written
# a sweep sees the three up (their last sign of life)
sweeps() { curl -s "http://127.0.0.1:$CC_ROUTING_METRICS_PORT/metrics" | awk '$1 == "cc_routing_sweeps_total" { print $2 }'; }
s0=$(sweeps)
swept_since() { [ "$(sweeps)" -gt "$1" ]; }
check a_sweep_saw_them_up wait_for 30 swept_since "${s0:-0}"
# two dialogs lost, as when Kamailio dies before its table write
LOST=$(sql "WITH d AS (DELETE FROM kamailio.dialog WHERE callid IN (SELECT callid FROM kamailio.dialog ORDER BY callid LIMIT 2) RETURNING callid) SELECT callid FROM d" | sort)
KEPT=$(sql "SELECT callid FROM kamailio.dialog")
"$TOP/ops/stack.sh" stop kamailio > "$SIPW/restart.log" 2>&1
"$TOP/ops/stack.sh" start kamailio >> "$SIPW/restart.log" 2>&1
swept_n() { sql "SELECT count(*) FROM cc.calls WHERE tenant_id = '$T' AND started_at > '$t2' AND reason = 'swept: dialog lost'"; }
swept_are() { [ "$(swept_n)" = "$1" ]; }
# the link settles 10 s, then one period (5 s)
check lost_calls_swept wait_for 40 swept_are 2
expect_eq swept_are_the_lost_ones \
	"$(sql "SELECT sip_call_id FROM cc.calls WHERE tenant_id = '$T' AND started_at > '$t2' AND reason = 'swept: dialog lost' ORDER BY 1" | sort)" "$LOST"
expect_eq swept_answered "$(in_batch "$t2" "AND reason = 'swept: dialog lost' AND result = 'answered' AND sip_code = 200")" 2
# the last sweep that saw them up, before the restart: never more than
# they can have lasted (answer to now)
expect_eq swept_talk_not_more_than_possible \
	"$(in_batch "$t2" "AND reason = 'swept: dialog lost' AND talk_seconds >= 3 AND ended_at <= now()")" 2
check swept_rated wait_for 10 batch_is "$t2" "AND reason = 'swept: dialog lost' AND EXISTS (SELECT 1 FROM cc.rated_lines r WHERE r.call_id = cc.calls.id)" 2
expect_eq swept_grants_settled \
	"$(sql "SELECT count(*) FROM cc.grants g JOIN cc.calls c ON c.id = g.call_id WHERE c.reason = 'swept: dialog lost' AND c.started_at > '$t2' AND g.settled_at IS NOT NULL")" 2
expect_eq call_up_not_swept "$(sql "SELECT count(*) FROM cc.calls WHERE sip_call_id = '$KEPT' AND ended_at IS NULL")" 1
check routingd_counts_swept bash -c "curl -s http://127.0.0.1:$CC_ROUTING_METRICS_PORT/metrics | grep -q '^cc_routing_swept_calls_total 2$'"
# the call still up ends by its BYE, once
check call_up_ends_itself wait_for 50 test -s "$SIPW/lost.rc"
kept_ended() { [ "$(sql "SELECT count(*) FROM cc.calls WHERE sip_call_id = '$KEPT' AND ended_at IS NOT NULL AND reason IS DISTINCT FROM 'swept: dialog lost'")" = 1 ]; }
check call_up_ended_by_bye wait_for 10 kept_ended
expect_eq call_up_talk_time "$(sql "SELECT talk_seconds BETWEEN 44 AND 47 FROM cc.calls WHERE sip_call_id = '$KEPT'")" t
api GET "/v1/tenants/acme/billing/reconciliation?from=$FROM&to=$TO" "${KEY[acme]}"
check reconcile_clean_after_sweep \
	[ "$HTTP" = 200 -a "$(jr '[.gaps[] | select(.kind == "duplicate_end" or .kind == "no_end" or .kind == "not_rated" or .kind == "stale_grant")] | length')" = 0 ]

#!/usr/bin/env bash
# The event spool under a long NATS outage: NATS away for SPOOL_OUTAGE_S
# (60) s while SIPp sends SPOOL_RATE (50) calls/s through the whole stack,
# then started again on the same port with the same JetStream store. The
# outage is the hard kind: NATS hangs first (SIGSTOP, SPOOL_HANG_S = 5 s:
# publishes leave and are never acknowledged), then dies with them
# (SIGKILL). routingd's spool drains within 30 s of NATS's return, and every
# call's events reach the stream (read back with natsdump) and billingd
# (cc.call_events, cc.calls) once each, in order: offered, routed,
# answered, ended.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
: "${SPOOL_RATE:=50}" "${SPOOL_OUTAGE_S:=60}" "${SPOOL_HANG_S:=5}" "${SPOOL_LEAD_S:=10}" "${SPOOL_TAIL_S:=10}"
export CC_KAM_DEBUG=0 CC_LOG_LEVEL=warn
trap stack_down EXIT
stack_up || exit 1
acme_with_agent
T=${TID[acme]}
DUMP=${CC_BUILD:-$TOP/build}/tests/natsdump
SPOOL=$CC_VAR/spool
stack() { "$TOP/ops/stack.sh" "$@" > /dev/null 2>&1; }
now_ms() { date +%s%3N; }
secs=$((SPOOL_LEAD_S + SPOOL_OUTAGE_S + SPOOL_TAIL_S))
total=$((SPOOL_RATE * secs))

# the agent answers every call; the carrier places them at SPOOL_RATE
(cd "$SIPW" && exec timeout -s KILL $((secs * 2 + 90)) sipp -i 127.0.0.1 -mp "$(pick_port 4)" \
	-sf "$SIPP_DIR/agent_uas.xml" -p "$A1001" -m "$total" -nostdin -timeout $((secs * 2 + 80)) \
	-max_socket 65000 -buff_size 4194304 > uas.out 2>&1) &
uas=$!
SIPP_PIDS="$SIPP_PIDS $uas"
wait_for 10 ss_bound_udp "$A1001"
(cd "$SIPW" && exec timeout -s KILL $((secs * 2 + 60)) sipp 127.0.0.1:"$CC_SIP_PORT" -i 127.0.0.1 \
	-mp "$(pick_port 4)" -sf "$SIPP_DIR/carrier_call.xml" -s +8657112345678 -set from +8613800000001 \
	-p "$CARRIER" -default_behaviors all,-abortunexp -r "$SPOOL_RATE" -rp 1000 -m "$total" -d 1000 \
	-nostdin -max_socket 65000 -buff_size 4194304 -timeout $((secs * 2 + 50)) \
	-trace_screen -screen_file uac.screen > uac.out 2>&1) &
uac=$!
SIPP_PIDS="$SIPP_PIDS $uac"

sleep "$SPOOL_LEAD_S"
nats_pid=$(cat "$CC_VAR/run/nats.pid")
kill -STOP "$nats_pid"
sleep "$SPOOL_HANG_S"
kill -KILL "$nats_pid"; kill -CONT "$nats_pid" 2>/dev/null
sleep $((SPOOL_OUTAGE_S - SPOOL_HANG_S))
spooled() { [ -s "$SPOOL/routingd.spool" ] || [ -s "$SPOOL/routingd.replaying" ]; }
check events_spooled_during_outage spooled
echo "# spool after ${SPOOL_OUTAGE_S}s without NATS: $(cat "$SPOOL"/routingd.spool "$SPOOL"/routingd.replaying 2>/dev/null | wc -l) events"
stack start nats
back=$(now_ms)
# drained: both files empty while calls go on (the new events go out directly)
drained() { ! spooled && [ ! -e "$SPOOL/routingd.replaying" ]; }
check spool_drains_within_30s wait_for 30 drained
echo "# spool drained $(( $(now_ms) - back )) ms after NATS was back"

wait "$uac"; wait "$uas"
answered=$(awk -F'|' '/Successful call/ {gsub(/ /, "", $3); print $3}' "$SIPW/uac.screen" | tail -1)
failed=$(awk -F'|' '/Failed call/ {gsub(/ /, "", $3); print $3}' "$SIPW/uac.screen" | tail -1)
echo "# SIPp: $total calls, ${answered:-?} answered, ${failed:-?} failed"
check calls_answered_during_outage [ "${answered:-0}" -ge $((total * 99 / 100)) ]
check spool_empty_after_load wait_for 10 drained
metric() { curl -s "http://127.0.0.1:$CC_ROUTING_METRICS_PORT/metrics" | awk -v k="$1" '$1 == k { print $2 }'; }
expect_eq spool_metrics_nothing_pending "$(metric cc_routing_events_spool_pending)" 0
expect_eq spool_metrics_nothing_dropped "$(metric cc_routing_events_dropped_total)" 0
expect_eq spool_metrics_nothing_dead "$(metric cc_routing_events_dead_total)" 0

# --- the stream: every call's events once, in the order they happened
call_lines() { # per call of the tenant: its event types in stream order, duplicates (same id) dropped
	"$DUMP" "$NATS" CC_EVENTS > "$CC_VAR/stream.txt" || return 1
	cut -d' ' -f3- "$CC_VAR/stream.txt" | jq -r --arg t "$T" 'select(.tenant == $t) | [.id, .call, .type] | @tsv' |
		awk -F'\t' '!seen[$1]++ { order[$2] = order[$2] " " $3 } END { for (c in order) print order[c] }'
}
# until every answered call is complete in the stream, or 30 s (a dump takes a while)
complete() {
	local until=$((SECONDS + 30))
	while :; do
		call_lines > "$CC_VAR/orders.txt"
		[ "$(grep -cx ' offered routed answered ended' "$CC_VAR/orders.txt")" -ge "${answered:-1}" ] && return 0
		[ "$SECONDS" -ge "$until" ] && return 1
		sleep 1
	done
}
check stream_has_every_call complete
echo "# orders of events per call in the stream:"; sort "$CC_VAR/orders.txt" | uniq -c | sed 's/^/#   /'
# a call that failed has fewer events, never another order
expect_eq stream_in_order_per_call "$(grep -cvE '^ offered( routed( answered)?)?( ended| rejected)?$' "$CC_VAR/orders.txt")" 0
dups=$(cut -d' ' -f3- "$CC_VAR/stream.txt" | jq -r .id | sort | uniq -d | wc -l)
echo "# ids twice in the stream (replays past the duplicate window): $dups"

# --- billingd: each event applied once, each call complete
want=$(wc -w < "$CC_VAR/orders.txt")
billed() { [ "$(sql "SELECT count(*) FROM cc.call_events WHERE tenant_id = '$T'")" -ge "$want" ]; }
check billingd_has_every_event wait_for 60 billed
expect_eq billingd_no_event_twice "$(sql "SELECT count(*) FROM (SELECT call_id, type FROM cc.call_events WHERE tenant_id = '$T' GROUP BY 1, 2 HAVING count(*) > 1) d")" 0
expect_eq billingd_calls_complete "$(sql "SELECT count(*) FROM cc.calls WHERE tenant_id = '$T' AND result = 'answered' AND talk_seconds IS NOT NULL")" "$(grep -cx ' offered routed answered ended' "$CC_VAR/orders.txt")"

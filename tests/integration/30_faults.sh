#!/usr/bin/env bash
# Faults: routingd, NATS and PostgreSQL stopped while calls happen.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
trap stack_down EXIT
stack_up || exit 1

CARRIER=$(pick_port) AGENT=$(pick_port)
new_trunk carrier1 "$CARRIER"
new_tenant acme
new_agent acme 1001 acme-pass-1001
new_number acme +8657112345678 1001
sip_register 1001 acme.cc.test acme-pass-1001 "$AGENT" || fail register
stack() { "$TOP/ops/stack.sh" "$@" > /dev/null 2>&1; }
now_ms() { date +%s%3N; }
# answered_calls N: N calls from the carrier, each answered by the agent
answered_calls() {
	local i
	sip_agent "$AGENT" "$1"
	for ((i = 0; i < $1; i++)); do
		sip_call "$CARRIER" +8657112345678 "+861380000000$i" 200 || return 1
	done
	wait "$AGENT_PID"
}
psql_admin() {
	PGPASSWORD=$(cat "$CC_VAR/secrets/pg_admin") psql -h 127.0.0.1 -p "$CC_PG_PORT" -U cc_admin -d cc -tAc "$1"
}

check baseline_call answered_calls 1
wait_for 10 calls_are acme 1

# --- routingd stopped: 503 within 2 s; back: routes without a Kamailio restart
kam_pid=$(cat "$CC_VAR/run/kamailio.pid")
stack stop routingd
t0=$(now_ms)
check routingd_down_503 sip_call_refused 503 "$CARRIER" +8657112345678 +8613800000001
t=$(( $(now_ms) - t0 ))
check routingd_down_503_within_2s [ "$t" -lt 2000 ]
stack start routingd
check routingd_back_routes answered_calls 1
expect_eq kamailio_not_restarted "$(cat "$CC_VAR/run/kamailio.pid")" "$kam_pid"

# --- routingd hung (connected but silent): 503 within 2 s from the timer
kill -STOP "$(cat "$CC_VAR/run/routingd.pid")"
t0=$(now_ms)
check routingd_hung_503 sip_call_refused 503 "$CARRIER" +8657112345678 +8613800000001
t=$(( $(now_ms) - t0 ))
kill -CONT "$(cat "$CC_VAR/run/routingd.pid")"
check routingd_hung_503_within_2s [ "$t" -lt 2000 ]
check routingd_resumed_routes answered_calls 1
wait_for 10 calls_are acme 5
before=$(calls_count acme)

# --- NATS stopped: calls still route; records appear once it is back,
# none lost, none duplicated
stack stop nats
check nats_down_calls_route answered_calls 5
sleep 1
expect_eq nats_down_no_records_yet "$(calls_count acme)" "$before"
check events_spooled test -s "$CC_VAR/spool/routingd.spool" -o -s "$CC_VAR/spool/routingd.replaying"
stack start nats
check nats_back_records_appear wait_for 20 calls_are acme $((before + 5))
sleep 2
expect_eq nats_back_none_duplicated "$(calls_count acme)" $((before + 5))
dups=$(psql_admin "SELECT count(*) FROM (SELECT body->>'call', type FROM cc.call_events GROUP BY 1, 2 HAVING count(*) > 1) d")
expect_eq no_event_applied_twice "$dups" 0
api GET "/v1/tenants/acme/calls?limit=5" "${KEY[acme]}"
check spooled_records_complete [ "$(jr '[.items[] | select(.result == "answered" and .talk_seconds != null and .agent == "1001")] | length')" = 5 ]

# --- billingd killed mid-stream: nothing lost, nothing doubled
before=$(calls_count acme)
kill -KILL "$(cat "$CC_VAR/run/billingd.pid")"
check billingd_down_calls_route answered_calls 3
stack start billingd
check billingd_back_records_appear wait_for 20 calls_are acme $((before + 3))

# --- rtpengine stopped: calls are refused, never relayed without media anchoring
stack stop rtpengine
sip_agent "$AGENT" 1; quiet_agent=$AGENT_PID
check rtpengine_down_503 sip_call_refused 503 "$CARRIER" +8657112345678 +8613800000001
kill "$quiet_agent" 2>/dev/null; wait "$quiet_agent" 2>/dev/null
check rtpengine_down_agent_not_rung not got_invite "$AGENT"
stack start rtpengine
sleep 6   # Kamailio retries a disabled rtpengine after 5 s
before=$(calls_count acme)
check rtpengine_back_routes answered_calls 1
wait_for 10 calls_are acme $((before + 1))

# --- PostgreSQL stopped: known numbers still route from routingd's memory
sleep 1
before=$(calls_count acme)
stack stop pg
api GET /v1/tenants/acme/numbers "${KEY[acme]}"
check pg_down_api_503 [ "$HTTP" = 503 -a "$(jr .error.code)" = unavailable ]
check pg_down_known_number_routes answered_calls 1
check pg_down_unknown_number_404 sip_call_refused 404 "$CARRIER" +8699999999999 +8613800000001
stack start pg
check pg_back_record_written wait_for 20 calls_are acme $((before + 1))

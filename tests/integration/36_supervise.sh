#!/usr/bin/env bash
# Daemons that die come back: routingd, billingd and tenantd run under a
# supervisor (ops/stack.sh spawn_supervised) that starts them again a
# second after they exit. Before, a kill -9 of routingd left every call
# with 503 until someone ran `ops/stack.sh start routingd`. A stop through
# the stack stays a stop.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
trap stack_down EXIT
stack_up || exit 1

acme_with_agent

pid_of() { cat "$CC_VAR/run/$1.pid" 2>/dev/null; }
restarted() { local p; p=$(pid_of "$1"); [ -n "$p" ] && [ "$p" != "$2" ] && kill -0 "$p" 2>/dev/null; }
routingd_up() { "$TOP/ops/kamrpc.sh" pv.shvGet '["routingd"]' 2>/dev/null | tr -d ' \t\n' | grep -q '"value":1'; }

for d in routingd billingd tenantd; do
	old=$(pid_of "$d")
	kill -9 "$old"
	check "${d}_restarted_after_kill_9" wait_for 10 restarted "$d" "$old"
	check "${d}_restart_logged" grep -q "supervisor: $d exited" "$CC_VAR/log/$d.log"
done
check routingd_back_on_evapi wait_for 10 routingd_up
sip_agent "$A1001"; agent=$AGENT_PID
check call_after_restarts_answered sip_call "$CARRIER" +8657112345678 +8613800000001 300
wait "$agent" 2>/dev/null
check record_after_restarts wait_for 15 calls_are acme 1
api GET /v1/tenants "$OPERATOR"
expect_eq api_after_restart "$HTTP" 200
# a stop is a stop
"$TOP/ops/stack.sh" stop routingd > /dev/null 2>&1
sleep 2
check stopped_routingd_stays_stopped not routingd_up
check stopped_call_503 sip_call_refused 503 "$CARRIER" +8657112345678 +8613800000001

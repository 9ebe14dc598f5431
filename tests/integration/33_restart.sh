#!/usr/bin/env bash
# Calls outlive a Kamailio restart: dialogs (with the call id, tenant and
# lifetime kept in their variables) are written to the database and loaded
# at start, so the BYE of a call answered before the restart is relayed
# (in-dialog requests need a dialog Kamailio knows) and the call gets its
# end, talk time and release. Without it the record stayed "answered"
# forever and the BYE got 481.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
trap stack_down EXIT
stack_up || exit 1

acme_with_agent

sip_agent "$A1001" 1; agent=$AGENT_PID
# a 12 s call; Kamailio restarts 4 s into it (dialogs are written every 2 s)
(sipp_run long -sf "$SIPP_DIR/carrier_call.xml" -s +8657112345678 -set from +8613800000001 -p "$CARRIER" \
	-default_behaviors all,-abortunexp -m 1 -d 12000 -timeout 30 -timeout_error; echo $? > "$SIPW/long.rc") &
call=$!
sleep 4
kam_before=$(cat "$CC_VAR/run/kamailio.pid")
"$TOP/ops/stack.sh" stop kamailio > "$SIPW/restart.log" 2>&1
"$TOP/ops/stack.sh" start kamailio >> "$SIPW/restart.log" 2>&1
check kamailio_restarted [ "$(cat "$CC_VAR/run/kamailio.pid")" != "$kam_before" ]
routingd_back() { CC_RPC_PORT=$CC_RPC_PORT "$TOP/ops/kamrpc.sh" pv.shvGet '["routingd"]' | tr -d ' \t\n' | grep -q '"value":1'; }
check routingd_reconnected wait_for 10 routingd_back
wait "$call"
expect_eq call_hung_up_after_restart "$(cat "$SIPW/long.rc")" 0
wait "$agent" 2>/dev/null
ended() {
	api GET /v1/tenants/acme/calls "${KEY[acme]}"
	[ "$(jr '.items[0].ended_at')" != null ]
}
check call_across_restart_ended wait_for 15 ended
api GET /v1/tenants/acme/calls "${KEY[acme]}"
t=$(jr '.items[0].talk_seconds')
check call_across_restart_talk_time [ "${t:-0}" -ge 11 -a "${t:-99}" -le 14 ]

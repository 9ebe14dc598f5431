#!/usr/bin/env bash
# The ACD's faults end to end (issue 14, docs/ACD.md): routingd killed
# (kill -9; its supervisor starts it again) with a caller waiting: the
# caller stays in mediad with the music, the new routingd rebuilds the queue
# from its journal (CC_ACD) and reconciles against mediad, and the caller
# is answered when an agent goes ready; the agents' states and sequence
# numbers come back. mediad killed with a caller ringing an agent: the
# caller's record says "media server lost" and the agent is released as
# soon as routingd takes mediad for lost.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
BUILD=${CC_BUILD:-$TOP/build}
if [ ! -x "$BUILD/media/mediad" ]; then
	echo "# skip: $BUILD/media/mediad is not built"
	exit 0
fi
trap 'bs_stop_all; stack_down' EXIT
stack_up || exit 1
AUD=$SIPW/audio; mkdir -p "$AUD"
tone_wav "$AUD/250.wav" 250 120

new_tenant acme
for e in 1001 1003; do new_agent acme $e acme-pass-$e; done
CARRIER=$(pick_port)
new_trunk carrier1 "$CARRIER"
api POST /v1/tenants/acme/queues "${KEY[acme]}" \
	'{"name":"repair","strategy":"longest_idle","ring_timeout_s":30,"wrapup_s":0,"max_wait_s":0}'
check queue_made [ "$HTTP" = 201 ]
A=${TID[acme]}
Q=$(sql "SELECT id FROM cc.queues WHERE tenant_id = '$A' AND name = 'repair'")
for e in 1001 1003; do
	sql "INSERT INTO cc.queue_members (tenant_id, queue_id, agent_id)
	     SELECT '$A', '$Q', id FROM cc.agents WHERE tenant_id = '$A' AND extension = '$e'" > /dev/null
done
NA=+8657100000001
assign_number acme "$NA"
sql "UPDATE cc.numbers SET target_type = 'queue', target_queue = '$Q' WHERE e164 = '$NA'" > /dev/null
new_agent acme 1009 acme-pass-1009      # the tenant's notice: routingd reads it again

bs_start a1 "$AUD/250.wav" 1001 acme.cc.test acme-pass-1001
bs_start a3 "$AUD/250.wav" 1003 acme.cc.test acme-pass-1003 manual
check registered_1001 wait_for 15 registered 1001@acme.cc.test
check registered_1003 wait_for 15 registered 1003@acme.cc.test
check mediad_alive wait_for 20 media_alive 1

state() { # EXT STATE [REASON]
	api PUT "/v1/tenants/acme/agents/$1/state" "${KEY[acme]}" "{\"state\":\"$2\"${3:+,\"reason\":\"$3\"}}"
	[ "$HTTP" = 200 ]
}
state_is() { # EXT STATE
	api GET "/v1/tenants/acme/agents/$1/state" "${KEY[acme]}"
	[ "$HTTP" = 200 ] && [ "$(jr .state)" = "$2" ]
}
caller() { # TAG FROM SECONDS
	local port; port=$(pick_port)
	new_trunk "caller-$1" "$port" > /dev/null
	wait_for 20 trunk_known "$port"
	(sipp_run "caller-$1" -sf "$SIPP_DIR/carrier_call.xml" -s "$NA" -set from "$2" -p "$port" \
		-default_behaviors all,-abortunexp -m 1 -d "$(( $3 * 1000 ))" -timeout "$(( $3 + 15 ))" -timeout_error) &
	CALLER_PID=$!
	SIPP_PIDS="$SIPP_PIDS $CALLER_PID"
}
waiting() { # N
	api GET /v1/tenants/acme/queues/repair/live "${KEY[acme]}"
	[ "$HTTP" = 200 ] && [ "$(jr '.waiting | length')" = "$1" ]
}
rec_of() {
	sql "SELECT COALESCE(queue, '-') || ' ' || COALESCE(queue_result, '-') || ' ' || COALESCE(agent, '-')
	     || ' ' || COALESCE(reason, '-') FROM cc.calls
	     WHERE from_number = '$1' AND direction = 'inbound' AND ended_at IS NOT NULL
	     ORDER BY started_at DESC LIMIT 1"
}
rec_is() { [ "$(rec_of "$1")" = "$2" ]; }

# --------------------------------------- routingd killed, a caller waiting
check a1_away state 1001 not_ready lunch
check a3_away state 1003 not_ready lunch
api GET /v1/tenants/acme/agents/1001/state "${KEY[acme]}"
seq0=$(jr .seq)
caller w1 +8613800000001 40
check w1_waiting wait_for 20 waiting 1
arrived=$(jr '.waiting[0].waited_s')
pid=$(cat "$CC_VAR/run/routingd.pid")
kill -9 "$pid"
back() { local p; p=$(cat "$CC_VAR/run/routingd.pid" 2>/dev/null); [ -n "$p" ] && [ "$p" != "$pid" ] && kill -0 "$p" 2>/dev/null; }
check routingd_restarted wait_for 15 back
check w1_caller_still_in_call kill -0 "$CALLER_PID"
check w1_queue_rebuilt wait_for 20 waiting 1
check w1_same_caller [ "$(jr '.waiting[0].caller')" = +8613800000001 ]
check w1_wait_kept_from_arrival [ "$(jr '.waiting[0].waited_s')" -ge "${arrived:-0}" ]
check a1_state_restored state_is 1001 not_ready
api GET /v1/tenants/acme/agents/1001/state "${KEY[acme]}"
check a1_seq_goes_on [ "$(jr .seq)" -ge "${seq0:-0}" ]
check restored_counted [ "$(routing_metric cc_routing_acd_restored_total)" -ge 1 ]
a10=$(answered_n a1)
check a1_ready_after_restart state 1001 ready
check w1_answered_after_restart wait_for 20 n_is_past a1 "$a10"
check w1_queue_empty wait_for 10 waiting 0
check w1_record wait_for 60 rec_is +8613800000001 "repair answered 1001 -" ||
	echo "# record: $(rec_of +8613800000001)"

# ----------------------------- mediad killed with a caller ringing an agent
check a1_away_again state 1001 not_ready lunch
check a3_ready state 1003 ready
caller m1 +8613800000002 40
ringing_a3() { state_is 1003 ringing; }
check m1_rings_1003 wait_for 20 ringing_a3
mpid=$(cat "$CC_VAR/run/mediad.pid") sup=$(cat "$CC_VAR/run/mediad.sup.pid")
kill -STOP "$sup"
kill -KILL "$mpid"
t0=$(date +%s%N)
check m1_mediad_lost wait_for 10 media_alive 0
t1=$(date +%s%N)
a3_free() { state_is 1003 ready; }
check m1_agent_released wait_for 5 a3_free
t2=$(date +%s%N)
echo "# mediad killed: lost after $(( (t1 - t0) / 1000000 )) ms, agent 1003 ready $(( (t2 - t1) / 1000000 )) ms later"
check m1_agent_released_within_1s [ $(( (t2 - t1) / 1000000 )) -lt 1000 ]
check m1_queue_empty waiting 0
kill -CONT "$sup"
check m1_record_media_lost wait_for 60 rec_is +8613800000002 "repair abandoned - media server lost" ||
	echo "# record: $(rec_of +8613800000002)"
check mediad_back wait_for 20 media_alive 1

exit $FAILED

#!/usr/bin/env bash
# A callback that fails (issue 14 item 7: "failures retry (count and
# interval per queue) and end in a record"; docs/ACD.md "Callbacks"):
# a baresip caller waiting in a queue with callbacks ({"retries":1,
# "interval_s":10}) presses * then 1 and is hung up on; its entry keeps
# its place. The ready agent is rung first, answers, and the customer is
# dialled through the carrier, which answers 486 Busy: the agent's leg
# ends (the agent ready again, not stuck on call), nothing is dialled
# again before the queue's interval; after the interval the agent is rung
# and the customer dialled once more, busy again; with its one retry used
# the entry ends: gone from the live view, the `abandoned` event (with the
# number and the 2 attempts), and the call's record says queue cbq,
# abandoned. No third attempt.
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
for f in 330 700; do tone_wav "$AUD/$f.wav" "$f" 120; done

new_tenant acme
new_agent acme 1001 acme-pass-1001
A=${TID[acme]}
api POST /v1/tenants/acme/queues "${KEY[acme]}" '{"name":"cbq","strategy":"longest_idle","ring_timeout_s":10,"wrapup_s":0,"max_wait_s":0,"announce":{"position":true,"wait":false,"every_s":30},"callback":{"retries":1,"interval_s":10}}'
check queue_cbq [ "$HTTP" = 201 ] && [ "$(jr .callback.retries)" = 1 ] && [ "$(jr .callback.interval_s)" = 10 ]
api PATCH /v1/tenants/acme/agents/1001 "${KEY[acme]}" '{"queues":{"cbq":1}}'
check member_1001 [ "$HTTP" = 200 ]
NCB=+8657100000012
assign_number acme "$NCB"
api POST /v1/tenants/acme/numbers "${KEY[acme]}" "{\"e164\":\"$NCB\",\"target\":{\"type\":\"queue\",\"name\":\"cbq\"}}"
check number_cbq [ "$HTTP" = 201 ]
# the customer is dialled out through the carrier, which is busy
PSTN=$(pick_port)
new_trunk pstn-out "$(pick_port)" "$PSTN"
check pstn_enabled pstn_enable acme "$NCB"
FROM=+8613800000020
BS_SIP[c]=$(pick_port 2)
new_trunk caller "${BS_SIP[c]}"
bs_peer c "$AUD/700.wav" "$FROM"
check trunks_loaded wait_for 20 trunk_known "${BS_SIP[c]}"
bs_start a1 "$AUD/330.wav" 1001 acme.cc.test acme-pass-1001
check registered_1001 wait_for 15 registered 1001@acme.cc.test
check mediad_alive wait_for 20 media_up

state() { # STATE [REASON]
	api PUT /v1/tenants/acme/agents/1001/state "${KEY[acme]}" "{\"state\":\"$1\"${2:+,\"reason\":\"$2\"}}"
	[ "$HTTP" = 200 ]
}
state_is() { api GET /v1/tenants/acme/agents/1001/state "${KEY[acme]}"; [ "$(jr .state)" = "$1" ]; }
waiting() { api GET /v1/tenants/acme/queues/cbq/live "${KEY[acme]}"; [ "$HTTP" = 200 ] && [ "$(jr '.waiting | length')" = "$1" ]; }
answered_n() { local n; n=$(grep -ac 'Call established' "$SIPW/bs/a1/out" 2>/dev/null); echo "${n:-0}"; }
n_is() { [ "$(answered_n)" -ge "$1" ]; }
invites() { local n; n=$(grep -c '^INVITE sip:' "$SIPW/pstn-cb.log" 2>/dev/null); echo "${n:-0}"; }
invites_are() { [ "$(invites)" -ge "$1" ]; }
MLOG=$CC_VAR/log/mediad.log

# ------------------------------------------------ queued, then * and 1
check a1_away state not_ready lunch
check caller_answered bs_cmd c dial "sip:$NCB@127.0.0.1:$CC_SIP_PORT"
check caller_in_call wait_for 15 bs_in_call c
check caller_waiting wait_for 15 waiting 1
sleep 3
bs_cmd c sndcode '*'
sleep 2
bs_cmd c sndcode 1
check mediad_hangs_up wait_for 25 bs_ended c
check entry_kept_as_callback waiting 1 && [ "$(jr '.waiting[0].state')" = callback ]
CALL=$(sql "SELECT id FROM cc.calls WHERE from_number = '$FROM' AND direction = 'inbound' ORDER BY started_at DESC LIMIT 1")

# ------------------------------------ two attempts, both busy, then the end
(cd "$SIPW" && timeout -s KILL 90 sipp -i 127.0.0.1 -mp "$(pick_port 4)" -sf "$SIPP_DIR/pstn_uas_busy.xml" \
	-p "$PSTN" -m 3 -trace_msg -message_file pstn-cb.log -nostdin -timeout 80 > pstn-cb.out 2>&1) &
SIPP_PIDS="${SIPP_PIDS:-} $!"
wait_for 5 eval 'ss -Huan "sport = :$PSTN" | grep -q .'
check a1_ready state ready
check first_attempt_agent_rung wait_for 25 n_is 1
check first_attempt_customer_dialled wait_for 20 invites_are 1
T1=$(date +%s)
check first_attempt_logged wait_for 10 grep -qa 'callback: the customer did not answer (486)' "$MLOG"
check agent_not_stuck_on_call wait_for 10 state_is ready
check entry_waits_again waiting 1
sleep 5
check nothing_before_interval [ "$(invites)" = 1 ]
check second_attempt_agent_rung wait_for 25 n_is 2
check second_attempt_customer_dialled wait_for 20 invites_are 2
T2=$(date +%s)
check second_attempt_after_interval [ $((T2 - T1)) -ge 9 ]
check entry_ended wait_for 15 waiting 0
check agent_ready_after wait_for 10 state_is ready
rec() { sql "SELECT COALESCE(queue, '-') || ' ' || COALESCE(queue_result, '-') FROM cc.calls WHERE id = '$CALL'"; }
rec_is() { [ "$(rec)" = "$1" ]; }
check record_cbq_abandoned wait_for 30 rec_is "cbq abandoned"
check abandoned_event wait_for 10 eval "[ \"\$(sql \"SELECT count(*) FROM cc.call_events WHERE call_id = '$CALL' AND type = 'abandoned'\")\" = 1 ]"
ab=$(sql "SELECT (body->>'callback') || ' ' || (body->>'attempts') FROM cc.call_events WHERE call_id = '$CALL' AND type = 'abandoned'")
expect_eq abandoned_says_callback_dialled_twice "$ab" "$FROM 2"
sleep 12
check no_third_attempt [ "$(invites)" = 2 ]
exit $FAILED

#!/usr/bin/env bash
# Transfers of ACD calls (issue 14 item 8, docs/ACD.md, docs/MEDIA.md)
# through the real stack: baresip callers from the carrier's side (700 Hz,
# recording what they hear) call a number whose target is the queue
# "front"; baresip agents answer (1001 plays 330 Hz, 1002 250 Hz); the
# queues' music is a 500 Hz prompt, so a recording tells who was heard.
#
# Hold and unhold by the API (the caller hears the queue's music between).
# Blind transfers by the API (POST .../calls/{id}/transfer): to the queue
# "back" (re-enqueued, answered there by 1002), to agent 1002 (rung
# directly), to a number (dialled out through the carrier with the
# tenant's caller ID). Each: the transferring agent's leg ends and it goes
# to wrap-up, the caller's audio reaches the target and back, the event
# `transferred` and the record's `transfers`. Refusals: another tenant's
# agent or queue (422), another tenant's key (404), a call not bridged
# (409), a number for a tenant that may not call out (422).
#
# Blind transfer by a REFER from the agent's phone (baresip's `transfer`)
# through Kamailio to mediad: 202, NOTIFY (Event: refer), the same as the
# API's; a Refer-To of another domain is 403. A REFER from a carrier, or
# from a phone towards a carrier, stays 403 at Kamailio.
#
# Consult transfer by the API ("mode":"consult"): the caller hears the
# queue's music while 1001 and 1002 talk (neither hears the caller, the
# caller neither), then complete (the caller with 1002, 1001 to wrap-up),
# or cancel (1001 back with the caller); a target not registered sends
# 1001 back by itself; 1001 hanging up on an answered consult completes
# it; a number that answers then hangs up sends 1001 back to the caller.
# Events `transferred` kind consult, the record's holds and transfers.
# The agent hanging up while the consult still rings: a blind transfer to
# the target (the caller is never dropped). (The 120 s deadline is not
# waited for here.)
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
BUILD=${CC_BUILD:-$TOP/build}
if [ ! -x "$BUILD/media/mediad" ]; then
	echo "# skip: $BUILD/media/mediad is not built"
	exit 0
fi
trap 'bs_stop_all; kill ${SSE_PID:-} ${SSE_B:-} 2>/dev/null; stack_down' EXIT
stack_up || exit 1
AUD=$SIPW/audio; mkdir -p "$AUD"
for f in 250 330 700 900; do tone_wav "$AUD/$f.wav" "$f" 120; done
tone_wav "$AUD/qmusic.wav" 500 20

# ------------------------------------------------------------------ setup
new_tenant acme
new_tenant beta
for e in 1001 1002 1004; do new_agent acme $e acme-pass-$e; done
new_agent beta 1002 beta-pass-1002
A=${TID[acme]} B=${TID[beta]}
RESP=$CC_VAR/resp.json
HTTP=$(curl -sk -o "$RESP" -w '%{http_code}' -X PUT -H "Authorization: Bearer ${KEY[acme]}" \
       -H "Content-Type: audio/wav" --data-binary "@$AUD/qmusic.wav" "$API/v1/tenants/acme/prompts/qmusic")
check prompt_qmusic [ "$HTTP" = 201 ] || cat "$RESP"
queue() { # SLUG JSON
	api POST "/v1/tenants/$1/queues" "${KEY[$1]}" "$2"
	check "queue_$1_$(jq -r .name <<< "$2")" [ "$HTTP" = 201 ] || echo "# HTTP $HTTP $(cat "$RESP")"
}
queue acme '{"name":"front","strategy":"longest_idle","ring_timeout_s":10,"wrapup_s":60,"max_wait_s":0,"music":"qmusic"}'
queue acme '{"name":"back","strategy":"longest_idle","ring_timeout_s":10,"wrapup_s":0,"max_wait_s":0,"music":"qmusic"}'
queue beta '{"name":"bonly","strategy":"longest_idle","ring_timeout_s":10,"wrapup_s":0,"max_wait_s":0}'
qid() { sql "SELECT id FROM cc.queues WHERE tenant_id = '$1' AND name = '$2'"; }
aid() { sql "SELECT id FROM cc.agents WHERE tenant_id = '$1' AND extension = '$2'"; }
member() { # TENANT_ID QUEUE EXT
	sql "INSERT INTO cc.queue_members (tenant_id, queue_id, agent_id, priority)
	     VALUES ('$1', '$(qid "$1" "$2")', '$(aid "$1" "$3")', 1)" > /dev/null
}
member "$A" front 1001
member "$A" back 1002
member "$B" bonly 1002
NF=+8657100000021 NB=+8657100000022
assign_number acme "$NF"
sql "UPDATE cc.numbers SET target_type = 'queue', target_queue = '$(qid "$A" front)' WHERE e164 = '$NF'" > /dev/null
assign_number beta "$NB"
# acme calls out through this carrier (beta may not call out)
PSTN=$(pick_port)
new_trunk pstn-out "$(pick_port)" "$PSTN"
check pstn_enabled pstn_enable acme "$NF"
# routingd reads the tenants again on their notices (an API write each)
new_agent acme 1009 acme-pass-1009
new_agent beta 1009 beta-pass-1009

CASES="q ag num rx ref cs cc cn ch cr"
declare -A FROM
n=30
for c in $CASES; do
	BS_SIP[c-$c]=$(pick_port 2)
	FROM[$c]=+86138000000$n; n=$((n + 1))
	new_trunk "caller-$c" "${BS_SIP[c-$c]}"
	bs_peer "c-$c" "$AUD/700.wav" "${FROM[$c]}"
done
check trunks_loaded wait_for 20 trunk_known "${BS_SIP[c-cr]}"
bs_start a1 "$AUD/330.wav" 1001 acme.cc.test acme-pass-1001
bs_start a2 "$AUD/250.wav" 1002 acme.cc.test acme-pass-1002
bs_start a4 "$AUD/900.wav" 1004 acme.cc.test acme-pass-1004 manual
check registered_1001 wait_for 15 registered 1001@acme.cc.test
check registered_1002 wait_for 15 registered 1002@acme.cc.test
check registered_1004 wait_for 15 registered 1004@acme.cc.test
check mediad_alive wait_for 20 media_alive 1

state() { # EXT STATE [REASON]
	api PUT "/v1/tenants/acme/agents/$1/state" "${KEY[acme]}" \
		"{\"state\":\"$2\"${3:+,\"reason\":\"$3\"}}"
	[ "$HTTP" = 200 ]
}
state_is() { api GET "/v1/tenants/acme/agents/$1/state" "${KEY[acme]}"; [ "$(jr .state)" = "$2" ]; }
# ------------------------------------------------------------- helpers
dial() { bs_cmd "c-$1" dial "sip:$2@127.0.0.1:$CC_SIP_PORT"; wait_for 15 bs_in_call "c-$1"; }
hangup() { bs_cmd "c-$1" hangup; wait_for 10 bs_ended "c-$1"; sleep 0.3; }
heard() { bs_heard "c-$1"; }
ended_n() { local n; n=$(grep -ac -E 'Call with .* terminated|session closed' "$SIPW/bs/$1/out" 2>/dev/null); echo "${n:-0}"; }
ended_past() { [ "$(ended_n "$1")" -gt "$2" ]; }
# the labels of FILE's slices: m (music 500), a (1001: 330), b (1002: 250), c (caller 700), s other, - silent
labels() {
	local x
	for x in $(freqs "$1"); do
		if [ "$x" = - ]; then printf -- '-'
		elif near "$x" 500; then printf m
		elif near "$x" 330; then printf a
		elif near "$x" 250; then printf b
		elif near "$x" 700; then printf c
		else printf s; fi
	done
}
in_order() { labels "$1" | tr -d '-' | tr -s 'mabcs' | grep -Eq "$2"; }
call_of() { sql "SELECT id FROM cc.calls WHERE from_number = '$1' AND direction = 'inbound' ORDER BY started_at DESC LIMIT 1"; }
rec() { # FROM COLUMNS: the caller's ended record
	sql "SELECT $2 FROM cc.calls WHERE from_number = '$1' AND direction = 'inbound' AND ended_at IS NOT NULL
	     ORDER BY started_at DESC LIMIT 1"
}
rec_is() { [ "$(rec "$1" "$2")" = "$3" ]; }
# the tenant's events as the API streams them, and as billingd keeps them
# in cc.call_events (the history reports read back)
SSE_PID=""
curl -sk -N -H "Authorization: Bearer ${KEY[acme]}" "$API/v1/tenants/acme/events" > "$SIPW/sse.out" 2>/dev/null &
SSE_PID=$!
curl -sk -N -H "Authorization: Bearer ${KEY[beta]}" "$API/v1/tenants/beta/events" > "$SIPW/sse-beta.out" 2>/dev/null &
SSE_B=$!
xfer_ev() { # CALL: its transferred events, as "from_agent type name kind" lines
	sed -n 's/^data: //p' "$SIPW/sse.out" | jq -r --arg c "$1" \
		'select(.type == "transferred" and .call == $c) | "\(.from_agent) \(.target.type) \(.target.name) \(.kind)"' 2>/dev/null
}
xfer_ev_is() { [ "$(xfer_ev "$1")" = "$2" ]; }
xfer_kept() { # CALL: the same, from cc.call_events
	sql "SELECT (body->>'from_agent') || ' ' || (body->'target'->>'type') || ' ' || (body->'target'->>'name') || ' ' || (body->>'kind')
	     FROM cc.call_events WHERE call_id = '$1' AND type = 'transferred' ORDER BY ts"
}
xfer_kept_is() { [ "$(xfer_kept "$1")" = "$2" ]; }
xfer() { # CALL JSON [SLUG]
	local s=${3:-acme}
	api POST "/v1/tenants/$s/calls/$1/transfer" "${KEY[$s]}" "$2"
}
MLOG=$CC_VAR/log/mediad.log
# the caller dials front; 1001 (ready, 1002 away) answers
answered_by_a1() { # CASE
	local a0; a0=$(answered_n a1)
	check "$1_a1_ready" state 1001 ready
	check "$1_answered" dial "$1" "$NF"
	check "$1_a1_answers" wait_for 20 n_is_past a1 "$a0"
	has_call() { [ -n "$(call_of "${FROM[$1]}")" ]; }
	wait_for 10 has_call "$1"    # the record comes through billingd
	CALL=$(call_of "${FROM[$1]}")
	sleep 3
}

# ------------------------------------------------ blind, by the API, to a queue
check a2_away state 1002 not_ready lunch
check q_a1_away state 1001 not_ready lunch
check q_queued dial q "$NF"
CALL=$(call_of "${FROM[q]}")
waiting() { api GET "/v1/tenants/acme/queues/$1/live" "${KEY[acme]}"; [ "$HTTP" = 200 ] && [ "$(jr '.waiting | length')" = "$2" ]; }
check q_waiting wait_for 15 waiting front 1
xfer "$CALL" '{"target":{"type":"agent","name":"1002"}}'
check q_queued_not_bridged_409 [ "$HTTP" = 409 ] || echo "# HTTP $HTTP $(cat "$RESP")"
a0=$(answered_n a1)
check q_a1_ready state 1001 ready
check q_a1_answers wait_for 20 n_is_past a1 "$a0"
sleep 3
# hold by the API: the caller hears the queue's music, then 1001 again
api POST "/v1/tenants/acme/calls/$CALL/hold" "${KEY[acme]}"
check q_hold_200 [ "$HTTP" = 200 ] || echo "# HTTP $HTTP $(cat "$RESP")"
api POST "/v1/tenants/acme/calls/$CALL/hold" "${KEY[beta]}"
check q_hold_other_tenants_key_404 [ "$HTTP" = 404 ]
sleep 3
api POST "/v1/tenants/acme/calls/$CALL/unhold" "${KEY[acme]}"
check q_unhold_200 [ "$HTTP" = 200 ] || echo "# HTTP $HTTP $(cat "$RESP")"
sleep 3
# refusals first, while the call is bridged
xfer "$CALL" '{"target":{"type":"agent","name":"1002"}}' beta
check q_other_tenants_key_404 [ "$HTTP" = 404 ]
xfer "$CALL" '{"target":{"type":"queue","name":"bonly"}}'
check q_other_tenants_queue_422 [ "$HTTP" = 422 -a "$(jr .error.field)" = target.name ]
xfer "$CALL" '{"target":{"type":"agent","name":"1009x"}}'
check q_bad_agent_422 [ "$HTTP" = 422 -a "$(jr .error.field)" = target.name ]
e1=$(ended_n a1) a20=$(answered_n a2)
check q_a2_ready state 1002 ready
xfer "$CALL" '{"target":{"type":"queue","name":"back"}}'
check q_transfer_200 [ "$HTTP" = 200 ] || echo "# HTTP $HTTP $(cat "$RESP")"
check q_a1_leg_ended wait_for 10 ended_past a1 "$e1"
check q_a1_wrapup wait_for 10 state_is 1001 wrapup
check q_a2_answers wait_for 25 n_is_past a2 "$a20"
sleep 4
hangup q
wait_for 10 bs_ended a2
sleep 0.5
echo "# caller heard: $(labels "$(heard q)")"
echo "# 1002 heard: $(labels "$(bs_heard a2)")"
check q_caller_heard_1001_then_1002 in_order "$(heard q)" 'a.*m.*a.*b'
check q_1002_hears_caller has_freq "$(bs_heard a2)" 700
check q_event wait_for 15 xfer_ev_is "$CALL" "1001 queue back blind"
# the record: the queue it ended in, answered, the first agent who answered, one transfer
check q_record wait_for 30 rec_is "${FROM[q]}" "queue || ' ' || queue_result || ' ' || agent || ' ' || transfers || ' ' || holds || ' ' || (hold_ms >= 2500)::text" "back answered 1001 1 1 true"
check q_requeued_logged grep -q "queued in back" "$MLOG"
xfer "$CALL" '{"target":{"type":"agent","name":"1002"}}'
check q_ended_call_404 [ "$HTTP" = 404 ]

# ------------------------------------------------ blind, by the API, to an agent
check ag_a2_away state 1002 not_ready lunch
answered_by_a1 ag
e1=$(ended_n a1) a20=$(answered_n a2)
xfer "$CALL" '{"target":{"type":"agent","name":"1002"}}'
check ag_transfer_200 [ "$HTTP" = 200 ] || echo "# HTTP $HTTP $(cat "$RESP")"
check ag_a1_leg_ended wait_for 10 ended_past a1 "$e1"
check ag_a1_wrapup wait_for 10 state_is 1001 wrapup
# rung directly: 1002 is not_ready for the ACD and still rings
check ag_a2_rung_directly wait_for 20 n_is_past a2 "$a20"
sleep 4
hangup ag
wait_for 10 bs_ended a2
sleep 0.5
echo "# caller heard: $(labels "$(heard ag)")"
check ag_caller_heard_1001_then_1002 in_order "$(heard ag)" 'a.*b'
check ag_1002_hears_caller has_freq "$(bs_heard a2)" 700
check ag_event wait_for 15 xfer_ev_is "$CALL" "1001 agent 1002 blind"
check ag_event_kept wait_for 15 xfer_kept_is "$CALL" "1001 agent 1002 blind"
check ag_record wait_for 30 rec_is "${FROM[ag]}" "transfers" "1"

# ------------------------------------------------ blind, by the API, to a number
(cd "$SIPW" && timeout -s KILL 60 sipp -i 127.0.0.1 -mp "$(pick_port 4)" -sf "$SIPP_DIR/pstn_uas_bye.xml" \
	-p "$PSTN" -m 1 -trace_msg -message_file pstn-x.log -nostdin -timeout 55 > pstn-x.out 2>&1; echo $? > pstn-x.rc) &
SIPP_PIDS="${SIPP_PIDS:-} $!"
wait_for 5 eval 'ss -Huan "sport = :$PSTN" | grep -q .'
answered_by_a1 num
# a tenant that may not call out: beta's call ids are not acme's, so the
# check is tenantd's (before routingd): 422 for beta even for a real call id
xfer "$CALL" '{"target":{"type":"number","name":"+8613700000001"}}' beta
check num_tenant_without_pstn_422 [ "$HTTP" = 422 -a "$(jr .error.field)" = target.name ]
e1=$(ended_n a1)
xfer "$CALL" '{"target":{"type":"number","name":"+8613700000001"}}'
check num_transfer_200 [ "$HTTP" = 200 ] || echo "# HTTP $HTTP $(cat "$RESP")"
check num_a1_leg_ended wait_for 10 ended_past a1 "$e1"
check num_dialled_out wait_for 20 grep -q '^INVITE sip:+8613700000001@' "$SIPW/pstn-x.log"
inv=$(awk '/^INVITE sip:\+8613700000001@/,/^$/' "$SIPW/pstn-x.log")
check num_tenants_caller_id grep -q -- "${NF#+}" <<< "$inv"
# the far end hangs up after 2 s: the caller's call ends
check num_caller_gets_bye wait_for 20 bs_ended c-num
check num_pstn_ok wait_for 20 eval '[ "$(cat "$SIPW/pstn-x.rc" 2>/dev/null)" = 0 ]'
check num_event wait_for 15 xfer_ev_is "$CALL" "1001 number +8613700000001 blind"
check num_record wait_for 30 rec_is "${FROM[num]}" "transfers" "1"
check a1_ready_after state 1001 ready

# ------------------------------------ blind, by a REFER from the agent's phone
# (baresip's `transfer`: REFER in the dialog of mediad's acd leg, through
# Kamailio). A Refer-To of another domain is refused (403; baresip then
# ends its call itself); then, on the next call, to extension 1002.
check ref_a2_ready state 1002 ready      # ready in "back" only: not offered front's caller
answered_by_a1 rx
bs_cmd a1 transfer "sip:1002@beta.cc.test"
check rx_other_domain_403 wait_for 10 grep -q "agent 1001's REFER names another domain" "$MLOG"
check rx_phone_got_403 wait_for 10 grep -aq "transfer failed: 403" "$SIPW/bs/a1/out"
hangup rx
check rx_no_transfer [ -z "$(xfer_ev "$CALL")" ]
check rx_record wait_for 30 rec_is "${FROM[rx]}" "transfers" "0"
answered_by_a1 ref
e1=$(ended_n a1) a20=$(answered_n a2)
bs_cmd a1 transfer "sip:1002@acme.cc.test"
check ref_accepted wait_for 10 grep -q "agent 1001 REFERs the call to agent 1002" "$MLOG"
check ref_a1_leg_ended wait_for 10 ended_past a1 "$e1"
check ref_a2_answers wait_for 20 n_is_past a2 "$a20"
sleep 4
hangup ref
wait_for 10 bs_ended a2
sleep 0.5
echo "# caller heard: $(labels "$(heard ref)")"
check ref_caller_heard_1001_then_1002 in_order "$(heard ref)" 'a.*b'
check ref_1002_hears_caller has_freq "$(bs_heard a2)" 700
check ref_notify_sipfrag grep -aq 'Event: refer' "$SIPW/bs/a1/out"
check ref_event wait_for 15 xfer_ev_is "$CALL" "1001 agent 1002 blind"
check ref_record wait_for 30 rec_is "${FROM[ref]}" "transfers" "1"

# --------------- REFER stays refused from and towards a carrier (403, Kamailio)
CAR=$(pick_port) A3=$(pick_port)
new_trunk carrier-r "$CAR"
new_agent acme 1003 acme-pass-1003
new_number acme +8657100000023 1003
check refer_trunk_loaded wait_for 20 trunk_known "$CAR"
check refer_register_1003 sip_register 1003 acme.cc.test acme-pass-1003 "$A3"
r0=$(kam_stat cc_refused_in_dialog)
sip_agent "$A3" 1 agent_uas_refer.xml; ua=$AGENT_PID
check refer_from_carrier_403 sipp_run refer-carrier -sf "$SIPP_DIR/carrier_refer.xml" -s +8657100000023 \
	-set from +8613800000099 -p "$CAR" -default_behaviors all,-abortunexp -m 1 -d 1000 -timeout 15 -timeout_error
wait "$ua"; rc=$?
expect_eq refer_towards_carrier_403 "$rc" 0
check refer_refusals_counted [ "$(kam_stat cc_refused_in_dialog)" -ge $((r0 + 2)) ]
check sse_beta_sees_no_transfer not grep -q '^event: transferred' "$SIPW/sse-beta.out"
# a REFER sent straight to mediad's port (not relayed by Kamailio), with a
# dialog's ids or not: 403, counted
refers_refused() { curl -s "http://127.0.0.1:$CC_MEDIA_METRICS_PORT/metrics" | awk '/^cc_media_refers_refused_total / { print $2 }'; }
f0=$(refers_refused)
RP=$(pick_port)
cat > "$SIPW/raw-refer.msg" <<SIP
REFER sip:mediad@127.0.0.1:$CC_MEDIA_SIP_PORT SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:$RP;branch=z9hG4bK-refer-$RP
From: <sip:1001@acme.cc.test>;tag=a1
To: <sip:mediad@127.0.0.1>;tag=m1
Call-ID: refer-straight-$RP
CSeq: 2 REFER
Contact: <sip:1001@127.0.0.1:$RP>
Refer-To: <sip:+8613700000009@acme.cc.test>
Max-Forwards: 70
Content-Length: 0

SIP
code=$("$SIPSEND" -b "127.0.0.1:$RP" -s "127.0.0.1:$CC_MEDIA_SIP_PORT" -w 3000 "$SIPW/raw-refer.msg" | grep '^SIP/2.0 [2-6]' | tail -1 | awk '{ print $2 }')
expect_eq refer_straight_to_mediad_403 "${code:-none}" 403
check refer_straight_counted [ "$(refers_refused)" -gt "${f0:-0}" ]

# ------------------------------- consult transfer by the API, then complete
# the caller is held (the queue's music), 1002 is rung and talks with 1001
# only; complete: the caller with 1002, 1001 to wrap-up
check cs_a2_away state 1002 not_ready lunch   # rung directly all the same
answered_by_a1 cs
e1=$(ended_n a1) a20=$(answered_n a2)
xfer "$CALL" '{"target":{"type":"agent","name":"1002"},"mode":"consult"}'
check cs_consult_200 [ "$HTTP" = 200 ] || echo "# HTTP $HTTP $(cat "$RESP")"
check cs_a2_answers wait_for 20 n_is_past a2 "$a20"
xfer "$CALL" '{"target":{"type":"agent","name":"1002"}}'
check cs_second_transfer_409 [ "$HTTP" = 409 ]
api POST "/v1/tenants/acme/calls/$CALL/hold" "${KEY[acme]}"
check cs_hold_during_consult_409 [ "$HTTP" = 409 ]
api POST "/v1/tenants/beta/calls/$CALL/transfer/complete" "${KEY[beta]}"
check cs_complete_other_tenant_404 [ "$HTTP" = 404 ]
sleep 4
check cs_a1_still_on_call [ "$(ended_n a1)" = "$e1" ]
api POST "/v1/tenants/acme/calls/$CALL/transfer/complete" "${KEY[acme]}"
check cs_complete_200 [ "$HTTP" = 200 ] || echo "# HTTP $HTTP $(cat "$RESP")"
check cs_a1_leg_ended wait_for 10 ended_past a1 "$e1"
check cs_a1_wrapup wait_for 10 state_is 1001 wrapup
sleep 4
hangup cs
wait_for 10 bs_ended a2
sleep 0.5
echo "# caller heard: $(labels "$(heard cs)")"
echo "# 1001 heard: $(labels "$(bs_heard a1)")"
echo "# 1002 heard: $(labels "$(bs_heard a2)")"
# the caller: 1001, the music while they consult, then 1002
check cs_caller_heard_a_music_b in_order "$(heard cs)" 'a.*m.*b'
check cs_caller_not_1002_before_music not in_order "$(heard cs)" 'b.*m'
# 1001: the caller, then 1002 (never the music); 1002: 1001, then the caller
check cs_1001_heard_caller_then_1002 in_order "$(bs_heard a1)" 'c.*b'
check cs_1001_never_music not has_freq "$(bs_heard a1)" 500
check cs_1002_heard_1001_then_caller in_order "$(bs_heard a2)" 'a.*c'
check cs_event wait_for 15 xfer_ev_is "$CALL" "1001 agent 1002 consult"
check cs_event_kept wait_for 15 xfer_kept_is "$CALL" "1001 agent 1002 consult"
check cs_record wait_for 30 rec_is "${FROM[cs]}" "transfers || ' ' || holds || ' ' || (hold_ms > 0)::text" "1 1 true"

# ----------- consult: the target not registered, then cancelled by the API
check cc_a1_ready state 1001 ready
answered_by_a1 cc
e1=$(ended_n a1) a20=$(answered_n a2) e2=$(ended_n a2)
xfer "$CALL" '{"target":{"type":"agent","name":"1009"},"mode":"consult"}'
check cc_consult_unregistered_200 [ "$HTTP" = 200 ] || echo "# HTTP $HTTP $(cat "$RESP")"
check cc_unregistered_back_with_caller wait_for 15 grep -q "consult transfer to 1009 cancelled: not registered" "$MLOG"
api POST "/v1/tenants/acme/calls/$CALL/transfer/complete" "${KEY[acme]}"
check cc_complete_without_consult_409 [ "$HTTP" = 409 ]
sleep 2
xfer "$CALL" '{"target":{"type":"agent","name":"1002"},"mode":"consult"}'
check cc_consult_200 [ "$HTTP" = 200 ] || echo "# HTTP $HTTP $(cat "$RESP")"
check cc_a2_answers wait_for 20 n_is_past a2 "$a20"
sleep 3
api POST "/v1/tenants/acme/calls/$CALL/transfer/cancel" "${KEY[acme]}"
check cc_cancel_200 [ "$HTTP" = 200 ] || echo "# HTTP $HTTP $(cat "$RESP")"
check cc_a2_leg_ended wait_for 10 ended_past a2 "$e2"
sleep 4
check cc_a1_still_on_call [ "$(ended_n a1)" = "$e1" ]
hangup cc
wait_for 10 ended_past a1 "$e1"
sleep 0.5
echo "# caller heard: $(labels "$(heard cc)")"
check cc_caller_back_with_1001 in_order "$(heard cc)" 'a.*m.*a'
check cc_caller_never_1002 not has_freq "$(heard cc)" 250
check cc_record wait_for 30 rec_is "${FROM[cc]}" "transfers || ' ' || holds" "0 2"

# -------- consult to a number: the far end answers, then hangs up: back with the caller
(cd "$SIPW" && timeout -s KILL 60 sipp -i 127.0.0.1 -mp "$(pick_port 4)" -sf "$SIPP_DIR/pstn_uas_bye.xml" \
	-p "$PSTN" -m 1 -trace_msg -message_file pstn-c.log -nostdin -timeout 55 > pstn-c.out 2>&1; echo $? > pstn-c.rc) &
SIPP_PIDS="${SIPP_PIDS:-} $!"
wait_for 5 eval 'ss -Huan "sport = :$PSTN" | grep -q .'
check cn_a1_ready state 1001 ready
answered_by_a1 cn
e1=$(ended_n a1)
xfer "$CALL" '{"target":{"type":"number","name":"+8613700000002"},"mode":"consult"}'
check cn_consult_200 [ "$HTTP" = 200 ] || echo "# HTTP $HTTP $(cat "$RESP")"
check cn_dialled_out wait_for 20 grep -q '^INVITE sip:+8613700000002@' "$SIPW/pstn-c.log"
check cn_target_hung_up_back wait_for 20 grep -q "consult transfer to +8613700000002 cancelled: the target hung up" "$MLOG"
sleep 3
check cn_a1_still_on_call [ "$(ended_n a1)" = "$e1" ]
hangup cn
wait_for 10 ended_past a1 "$e1"
sleep 0.5
echo "# caller heard: $(labels "$(heard cn)")"
check cn_caller_back_with_1001 in_order "$(heard cn)" 'a.*m.*a'
check cn_record wait_for 30 rec_is "${FROM[cn]}" "transfers || ' ' || holds" "0 1"

# ---------------- consult: the agent hangs up once the target answered: completed
check ch_a1_ready state 1001 ready
answered_by_a1 ch
e1=$(ended_n a1) a20=$(answered_n a2)
xfer "$CALL" '{"target":{"type":"agent","name":"1002"},"mode":"consult"}'
check ch_consult_200 [ "$HTTP" = 200 ] || echo "# HTTP $HTTP $(cat "$RESP")"
check ch_a2_answers wait_for 20 n_is_past a2 "$a20"
sleep 2
bs_cmd a1 hangup
check ch_completed wait_for 10 grep -q "agent 1001 hung up on the consult: completed" "$MLOG"
sleep 4
hangup ch
wait_for 10 bs_ended a2
sleep 0.5
echo "# caller heard: $(labels "$(heard ch)")"
check ch_caller_heard_1002_after in_order "$(heard ch)" 'a.*m.*b'
check ch_event wait_for 15 xfer_ev_is "$CALL" "1001 agent 1002 consult"

# ------- consult: the agent hangs up while the target still rings: blind to it
# 1004 answers by hand: its phone rings, 1001 hangs up, the consult's leg is
# cancelled and 1004 is rung again as a blind transfer's target; the caller
# (music meanwhile, never dropped) then talks with 1004
rang4() { local n; n=$(grep -ac 'Incoming call from' "$SIPW/bs/a4/out" 2>/dev/null); echo "${n:-0}"; }
rang4_past() { [ "$(rang4)" -gt "$1" ]; }
check cr_a1_ready state 1001 ready
answered_by_a1 cr
r4=$(rang4)
xfer "$CALL" '{"target":{"type":"agent","name":"1004"},"mode":"consult"}'
check cr_consult_200 [ "$HTTP" = 200 ] || echo "# HTTP $HTTP $(cat "$RESP")"
check cr_a4_rings wait_for 15 rang4_past "$r4"
r4=$(rang4)
sleep 2                          # the caller on hold: the queue's music
bs_cmd a1 hangup
check cr_blind_logged wait_for 10 grep -q "agent 1001 hung up on a ringing consult: blind to agent 1004" "$MLOG"
check cr_caller_not_dropped not bs_ended c-cr
check cr_a4_rung_again wait_for 15 rang4_past "$r4"
sleep 1
bs_cmd a4 accept
check cr_a4_answers wait_for 10 n_is_past a4 0
sleep 4
check cr_caller_still_on not bs_ended c-cr
hangup cr
sleep 0.5
echo "# caller heard: $(labels "$(heard cr)")"
check cr_caller_heard_a_then_music in_order "$(heard cr)" 'a.*m'
check cr_caller_heard_1004_900hz has_freq "$(heard cr)" 900
check cr_event wait_for 15 xfer_ev_is "$CALL" "1001 agent 1004 blind"
check cr_a1_wrapup_not_on_call wait_for 10 state_is 1001 wrapup
check cr_record wait_for 30 rec_is "${FROM[cr]}" "transfers || ' ' || holds" "1 1"

exit $FAILED

#!/usr/bin/env bash
# mediad's side of the ACD (docs/MEDIA.md "A caller in a queue", docs/ACD.md)
# through the real stack: baresip callers from the carrier's side (700 Hz
# each, recording what they hear) call numbers whose target is a queue;
# baresip agents answer (1001 plays 330 Hz). The queue's music is a 500 Hz
# prompt of the tenant's, so a recording tells music from the position
# announcement (speech) and from the agent.
#
# Cases, most central first: a caller queued while no agent is ready hears
# the music and the position announcement (speech cutting into the music,
# the music again after it), shows in the live view; the agent made ready
# is rung as an `acd` leg, answers, and audio flows both ways (the music
# stops); the agent's phone holds (re-INVITE a=sendonly): the caller hears
# the queue's music again, then resume: the agent again; the record says
# queue, answered, agent, holds. A queue with callbacks: `*` then `1`:
# mediad says goodbye and hangs up, the entry stays in the live view as a
# callback; when an agent goes ready the agent is rung first (the callback
# offer: no caller leg), answers, and the customer is dialled through the
# carrier and bridged; the customer's BYE ends it (the agent gets a BYE).
# A full queue (max_size 1) refuses the second caller with its overflow
# `hangup` route: mediad plays the prompt and hangs up. Tenant
# isolation: beta's ready 1001 in beta's queue of the same name is never
# rung for acme's callers.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
BUILD=${CC_BUILD:-$TOP/build}
if [ ! -x "$BUILD/media/mediad" ] || [ ! -f "$TOP/routing/acd.c" ]; then
	echo "# skip: mediad or routingd's ACD (routing/acd.c) is not built"
	exit 0
fi
trap 'bs_stop_all; stack_down' EXIT
stack_up || exit 1
AUD=$SIPW/audio; mkdir -p "$AUD"
for f in 330 700; do tone_wav "$AUD/$f.wav" "$f" 120; done
tone_wav "$AUD/qmusic.wav" 500 20

# ------------------------------------------------------------------ setup
new_tenant acme
new_tenant beta
new_agent acme 1001 acme-pass-1001
new_agent beta 1001 beta-pass-1001
A=${TID[acme]} B=${TID[beta]}
RESP=$CC_VAR/resp.json
HTTP=$(curl -sk -o "$RESP" -w '%{http_code}' -X PUT -H "Authorization: Bearer ${KEY[acme]}" \
       -H "Content-Type: audio/wav" --data-binary "@$AUD/qmusic.wav" "$API/v1/tenants/acme/prompts/qmusic")
check prompt_qmusic [ "$HTTP" = 201 ] || cat "$RESP"
queue() { # SLUG JSON
	api POST "/v1/tenants/$1/queues" "${KEY[$1]}" "$2"
	check "queue_$1_$(jq -r .name <<< "$2")" [ "$HTTP" = 201 ] || echo "# HTTP $HTTP $(cat "$RESP")"
}
queue acme '{"name":"repair","strategy":"longest_idle","ring_timeout_s":10,"wrapup_s":0,"max_wait_s":0,"music":"qmusic","announce":{"position":true,"wait":true,"every_s":10}}'
queue acme '{"name":"cbq","strategy":"longest_idle","ring_timeout_s":10,"wrapup_s":0,"max_wait_s":0,"music":"qmusic","announce":{"position":true,"wait":false,"every_s":10},"callback":true}'
queue acme '{"name":"tiny","strategy":"longest_idle","ring_timeout_s":10,"wrapup_s":0,"max_wait_s":0,"max_size":1,"music":"qmusic","overflow":{"type":"hangup","prompt":"goodbye"}}'
queue beta '{"name":"repair","strategy":"longest_idle","ring_timeout_s":10,"wrapup_s":0,"max_wait_s":0}'
qid() { sql "SELECT id FROM cc.queues WHERE tenant_id = '$1' AND name = '$2'"; }
aid() { sql "SELECT id FROM cc.agents WHERE tenant_id = '$1' AND extension = '$2'"; }
member() { # TENANT_ID QUEUE EXT
	sql "INSERT INTO cc.queue_members (tenant_id, queue_id, agent_id, priority)
	     VALUES ('$1', '$(qid "$1" "$2")', '$(aid "$1" "$3")', 1)" > /dev/null
}
member "$A" repair 1001
member "$A" cbq 1001
member "$A" tiny 1001
member "$B" repair 1001
queue_number() { # SLUG E164 QUEUE
	assign_number "$1" "$2" || return 1
	sql "UPDATE cc.numbers SET target_type = 'queue', target_queue = '$(qid "${TID[$1]}" "$3")'
	     WHERE e164 = '$2'" > /dev/null
}
NQ=+8657100000011 NCB=+8657100000012 NT=+8657100000013 NB=+8657100000014
queue_number acme "$NQ" repair
queue_number acme "$NCB" cbq
queue_number acme "$NT" tiny
queue_number beta "$NB" repair
# the callback's customer is dialled out through the carrier
PSTN=$(pick_port)
new_trunk pstn-out "$(pick_port)" "$PSTN"
check pstn_enabled pstn_enable acme "$NQ"
# routingd reads the tenants again on their notices (an API write each)
new_agent acme 1009 acme-pass-1009
new_agent beta 1009 beta-pass-1009

CASES="music cb t1 t2"
declare -A FROM
n=20
for c in $CASES; do
	BS_SIP[c-$c]=$(pick_port 2)
	FROM[$c]=+86138000000$n; n=$((n + 1))
	new_trunk "caller-$c" "${BS_SIP[c-$c]}"
	bs_peer "c-$c" "$AUD/700.wav" "${FROM[$c]}"
done
check trunks_loaded wait_for 20 trunk_known "${BS_SIP[c-t2]}"
bs_start a1 "$AUD/330.wav" 1001 acme.cc.test acme-pass-1001
bs_start b1 "$AUD/330.wav" 1001 beta.cc.test beta-pass-1001
check registered_acme_1001 wait_for 15 registered 1001@acme.cc.test
check registered_beta_1001 wait_for 15 registered 1001@beta.cc.test
check mediad_alive wait_for 20 media_up

state() { # SLUG EXT STATE [REASON]
	api PUT "/v1/tenants/$1/agents/$2/state" "${KEY[$1]}" \
		"{\"state\":\"$3\"${4:+,\"reason\":\"$4\"}}"
	[ "$HTTP" = 200 ]
}
# ------------------------------------------------------------- helpers
dial() { bs_cmd "c-$1" dial "sip:$2@127.0.0.1:$CC_SIP_PORT"; wait_for 15 bs_in_call "c-$1"; }
hangup() { bs_cmd "c-$1" hangup; wait_for 10 bs_ended "c-$1"; sleep 0.3; }
heard() { bs_heard "c-$1"; }
# the labels of FILE's slices: m (music 500), a (agent 330), s (other loud: speech), - silent
labels() {
	local x
	for x in $(freqs "$1"); do
		if [ "$x" = - ]; then printf -- '-'
		elif near "$x" 500; then printf m
		elif near "$x" 330; then printf a
		else printf s; fi
	done
}
# in_order FILE PATTERN: FILE's labels (repeats and gaps squeezed) match the ERE
in_order() { labels "$1" | tr -d '-' | tr -s 'mas' | grep -Eq "$2"; }
live() { api GET "/v1/tenants/$1/queues/$2/live" "${KEY[$1]}"; [ "$HTTP" = 200 ]; }
waiting() { live "$1" "$2" && [ "$(jr '.waiting | length')" = "$3" ]; }
rec_of() { # FROM: the caller's inbound record (queue result agent)
	sql "SELECT COALESCE(queue, '-') || ' ' || COALESCE(queue_result, '-') || ' ' || COALESCE(agent, '-') FROM cc.calls
	     WHERE from_number = '$1' AND direction = 'inbound' AND ended_at IS NOT NULL
	     ORDER BY started_at DESC LIMIT 1"
}
rec_is() { [ "$(rec_of "$1")" = "$2" ]; }
MLOG=$CC_VAR/log/mediad.log
# routingd's questions to mediad, asked as routingd (its NATS user)
REQ=$BUILD/tests/natsreq
as() { local u=$1; shift; CC_NATS_CREDS=$CC_VAR/secrets/nats_$u "$REQ" "$NATS" "$@" 2>> "$SIPW/natsreq.err"; }
INST=$(grep -o 'mediad [0-9a-f-]\{36\} at' "$CC_VAR/log/routingd.log" | tail -1 | cut -d' ' -f2)
media_ask() { ANS=$(as routingd "cc.rpc.media.$INST.$1" "$2" 3000); }
acd_of() { # CALLER: the acd state mediad's .calls gives the caller's call
	local call; call=$(sql "SELECT id FROM cc.calls WHERE from_number = '$1' AND direction = 'inbound' ORDER BY started_at DESC LIMIT 1")
	media_ask calls "{\"id\":\"$(uuid)\"}"
	jq -r --arg c "$call" '.calls[] | select(.call == $c) | .queue + " " + .acd' <<< "$ANS"
}
acd_is() { [ "$(acd_of "$1")" = "$2" ]; }

# ------------------------------- queued: music and the position, then the agent
check a1_not_ready state acme 1001 not_ready lunch
check b1_ready state beta 1001 ready
b0=$(answered_n b1) b0r=$(rang_n b1)
check music_answered dial music "$NQ"
check music_live_waiting wait_for 15 waiting acme repair 1
check music_live_position_1 [ "$(jr '.waiting[0].position')" = 1 ]
check music_live_caller [ "$(jr '.waiting[0].caller')" = "${FROM[music]}" ]
check music_calls_say_queued wait_for 10 acd_is "${FROM[music]}" "repair queued"
# routingd's requests mediad refuses (each a test): hostile offers, an op or
# a route it cannot take, a call it does not hold
CALL=$(sql "SELECT id FROM cc.calls WHERE from_number = '${FROM[music]}' AND direction = 'inbound' ORDER BY started_at DESC LIMIT 1")
refused() { # NAME WHAT BODY WHY
	media_ask "$2" "$3"
	expect_eq "$1" "$(jq -r '(.ok|tostring) + " " + (.why // "")' <<< "$ANS")" "false $4"
}
refused offer_unknown_call offer "{\"id\":\"$(uuid)\",\"call\":\"$(uuid)\",\"offer\":\"$(uuid)\",\"agents\":[{\"agent\":\"1001\",\"epoch\":1}]}" "no such call"
refused offer_no_agents offer "{\"id\":\"$(uuid)\",\"call\":\"$CALL\",\"offer\":\"$(uuid)\",\"agents\":[]}" "agents must be a list of 1 to 16 {agent, epoch}"
refused offer_agent_uri offer "{\"id\":\"$(uuid)\",\"call\":\"$CALL\",\"offer\":\"$(uuid)\",\"agents\":[{\"agent\":\"sip:1001@evil\",\"epoch\":1}]}" "agents must be a list of 1 to 16 {agent, epoch}"
refused offer_not_an_id offer "{\"id\":\"$(uuid)\",\"call\":\"$CALL\",\"offer\":\"x\",\"agents\":[{\"agent\":\"1001\",\"epoch\":1}]}" "offer is not an id"
refused op_not_bridged op "{\"id\":\"$(uuid)\",\"call\":\"$CALL\",\"op\":\"hold\"}" "not bridged"
refused op_unknown op "{\"id\":\"$(uuid)\",\"call\":\"$CALL\",\"op\":\"explode\"}" "op must be hold or unhold"
refused route_to_queue route "{\"id\":\"$(uuid)\",\"call\":\"$CALL\",\"target\":{\"type\":\"queue\",\"name\":\"tiny\"}}" "a queue target is routingd's"
refused route_bad_target route "{\"id\":\"$(uuid)\",\"call\":\"$CALL\",\"target\":{\"type\":\"agent\",\"name\":\"../1\"}}" "not a target"
check music_still_queued acd_is "${FROM[music]}" "repair queued"
# the music, the announcement 1.5 s in, the music again (10 s between announcements)
sleep 6
a0=$(answered_n a1)
check a1_ready state acme 1001 ready
check music_agent_answers wait_for 20 n_is_past a1 "$a0"
check music_live_empty_once_bridged wait_for 10 waiting acme repair 0
check music_calls_say_bridged acd_is "${FROM[music]}" "repair bridged"
sleep 4
# hold from the agent's phone: the caller hears the queue's music, then the agent again
bs_cmd a1 hold
sleep 4
bs_cmd a1 resume
sleep 4
# (transfers, by a REFER from the phone and by the API: 84_acd_transfer)
hangup music
wait_for 10 bs_ended a1
sleep 0.5
echo "# queued caller heard: $(labels "$(heard music)")"
echo "# agent heard: $(labels "$(bs_heard a1)")"
check music_heard_500hz has_freq "$(heard music)" 500
# music, the announcement (speech), music, the agent, music (hold), the agent
check music_announcement_between_music in_order "$(heard music)" 'ms+m'
check music_then_agent in_order "$(heard music)" 'm.*a'
check music_hold_music_then_agent in_order "$(heard music)" 'm.*a.*m.*a'
check agent_hears_caller_700hz has_freq "$(bs_heard a1)" 700
check agent_never_hears_music not has_freq "$(bs_heard a1)" 500
check music_leg_is_acd grep -q 'queue repair: ringing agent 1001' "$MLOG"
check music_position_asked grep -q 'queued in repair: position 1' "$MLOG"
check music_on_hold_logged grep -q 'on hold' "$MLOG"
check music_record wait_for 30 rec_is "${FROM[music]}" "repair answered 1001"
holds=$(sql "SELECT holds || ' ' || (hold_ms > 0)::text FROM cc.calls WHERE from_number = '${FROM[music]}' AND direction = 'inbound' LIMIT 1")
expect_eq music_record_held_once "$holds" "1 true"
# beta's 1001 of beta's own queue "repair" never rang for acme's caller
check beta_1001_not_rung_for_acme [ "$(rang_n b1)" = "$b0r" ]
check beta_1001_not_answered_for_acme [ "$(answered_n b1)" = "$b0" ]

# ------------------------------------------------ callback: * then 1
check a1_away state acme 1001 not_ready lunch
check cb_answered dial cb "$NCB"
check cb_live_waiting wait_for 15 waiting acme cbq 1
sleep 3
bs_cmd c-cb sndcode '*'
sleep 2
bs_cmd c-cb sndcode 1
check cb_mediad_hangs_up wait_for 25 bs_ended c-cb
check cb_entry_kept waiting acme cbq 1
check cb_entry_is_callback [ "$(jr '.waiting[0].state')" = callback ]
check cb_logged grep -q 'callback taken: goodbye' "$MLOG"
echo "# callback caller heard: $(labels "$(heard cb)")"
# the callback's turn: the agent made ready is rung first (no caller leg),
# answers, and then the customer is dialled through the carrier and bridged
(cd "$SIPW" && timeout -s KILL 60 sipp -i 127.0.0.1 -mp "$(pick_port 4)" -sf "$SIPP_DIR/pstn_uas_bye.xml" \
	-p "$PSTN" -m 1 -trace_msg -message_file pstn-cb.log -nostdin -timeout 55 > pstn-cb.out 2>&1; echo $? > pstn-cb.rc) &
SIPP_PIDS="${SIPP_PIDS:-} $!"
wait_for 5 eval 'ss -Huan "sport = :$PSTN" | grep -q .'
a0=$(answered_n a1)
ended_n() { local n; n=$(grep -ac -E 'Call with .* terminated|session closed' "$SIPW/bs/a1/out" 2>/dev/null); echo "${n:-0}"; }
e0=$(ended_n)
check cb_a1_ready state acme 1001 ready
check cb_agent_rung_first wait_for 25 n_is_past a1 "$a0"
check cb_offer_taken grep -q "callback offer: ${FROM[cb]} in queue cbq" "$MLOG"
check cb_customer_dialled wait_for 20 grep -q "^INVITE sip:${FROM[cb]}@" "$SIPW/pstn-cb.log"
check cb_customer_bridged wait_for 20 grep -q "callback: agent 1001 answered, dialling ${FROM[cb]}" "$MLOG"
# the customer hangs up after 2 s: the agent gets a BYE, the entry is over
agent_bye() { [ "$(ended_n)" -gt "$e0" ]; }
check cb_agent_gets_bye wait_for 20 agent_bye
check cb_customer_call_ok wait_for 20 eval '[ "$(cat "$SIPW/pstn-cb.rc" 2>/dev/null)" = 0 ]'
check cb_entry_done wait_for 15 waiting acme cbq 0
check cb_a1_away_again state acme 1001 not_ready lunch

# ---------------------- a full queue: the second caller gets the overflow route
check t1_answered dial t1 "$NT"
check t1_live_waiting wait_for 15 waiting acme tiny 1
check t2_answered dial t2 "$NT"
check t2_overflow_hangs_up wait_for 25 bs_ended c-t2
check t2_refused_by_the_queue grep -q 'queue tiny refused the call' "$MLOG"
echo "# refused caller heard: $(labels "$(heard t2)")"
check t2_never_music not has_freq "$(heard t2)" 500
check t1_still_waiting waiting acme tiny 1
hangup t1
check t1_abandoned_leaves wait_for 15 waiting acme tiny 0
check t1_record wait_for 30 rec_is "${FROM[t1]}" "tiny abandoned -"

exit $FAILED

#!/usr/bin/env bash
# Calls to a flow reach mediad (docs/MEDIA.md), through the real Kamailio
# and routingd. mediad itself is stood in for: its NATS side is
# tests/tools/mediabeat (media/rpc.c alone, heartbeating), its SIP side a
# SIPp phone on CC_MEDIA_SIP_PORT (Kamailio's address group 3).
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
trap stack_down EXIT
stack_up || exit 1

acme_with_agent
MP=$CC_MEDIA_SIP_PORT
# the stack's own mediad (where it is built) makes way for the stand-ins;
# what routingd counted of it is the baseline
"$TOP/ops/stack.sh" stop mediad > /dev/null 2>&1
check stack_mediad_gone wait_for 10 media_alive 0
LOST0=$(routing_metric cc_routing_media_lost_total)
now_ms() { date +%s%3N; }
# received LOG: only the messages a SIPp peer received (its log has both)
received() { awk '/message (received|sent)/ { r = /received/ } r' "$1"; }
# sql_is WANT QUERY / metric_is NAME WANT: for wait_for (asked again each time)
sql_is() { [ "$(sql "$2")" = "$1" ]; }
metric_is() { [ "$(routing_metric "$1")" = "$2" ]; }
uuid_ok() { [[ $1 =~ ^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$ ]]; }

# a flow (straight into the database: the flows API is tenantd's) and a
# number pointing at it; a change of an agent makes tenantd tell routingd
FLOW=$(uuid) VER=$(uuid)
sql "BEGIN;
     INSERT INTO cc.flows (id, tenant_id, name, version_id) VALUES ('$FLOW', '${TID[acme]}', 'main', '$VER');
     INSERT INTO cc.flow_versions (id, flow_id, tenant_id, body)
       VALUES ('$VER', '$FLOW', '${TID[acme]}', '{\"start\":\"bye\",\"nodes\":{\"bye\":{\"type\":\"hangup\"}}}');
     COMMIT;" > /dev/null
assign_number acme +8657199990001
sql "UPDATE cc.numbers SET target_type = 'flow', target_flow = '$FLOW', target_extension = NULL
     WHERE e164 = '+8657199990001'" > /dev/null
new_agent acme 1002 acme-pass-1002
flow_refused() { sip_call_refused "$1" "$CARRIER" +8657199990001 +8613800000001 > /dev/null 2>&1; }

# --- no mediad alive: 503 at once (not the 2 s timer's)
check no_mediad_503 wait_for 15 flow_refused 503
t0=$(now_ms)
check no_mediad_503_again flow_refused 503
t=$(( $(now_ms) - t0 ))
check no_mediad_503_within_1s [ "$t" -lt 1000 ]
echo "# no mediad: 503 in $t ms (SIPp's whole call)"
expect_eq no_mediad_instances "$(routing_metric cc_routing_media_instances_alive)" 0

# --- a heartbeat: routingd sends flow calls to it
mediabeat "127.0.0.1:$MP"
check heartbeat_makes_mediad_alive wait_for 10 media_alive 1
check mediabeat_seen_by_routingd wait_for 5 grep -q 'routingd has seen mediad' "$SIPW/mediabeat.out"
# tenantd's change notices reach mediad's side (cc.cfg.<tenant>)
new_agent acme 1003 acme-pass-1003
check mediad_hears_cfg_notice wait_for 10 grep -q "^cfg ${TID[acme]}" "$SIPW/mediabeat.out"

# mediad's answers to routingd's requests (media/rpc.c): kept by id
INST=$(sed -n 's/^instance //p' "$SIPW/mediabeat.out" | head -n 1)
mreq() { CC_NATS_CREDS=$CC_VAR/secrets/nats_routingd "${CC_BUILD:-$TOP/build}/tests/natsreq" "$NATS" "cc.rpc.media.$INST.$1" "$2"; }
expect_eq mediad_answers_calls "$(mreq calls '{"id":"r1"}')" '{"id":"r1","calls":[]}'
expect_eq mediad_hangup_no_such_call "$(mreq hangup "{\"id\":\"r2\",\"call\":\"$(uuid)\"}")" '{"id":"r2","error":"no such call"}'
expect_eq mediad_hangup_cached "$(mreq hangup '{"id":"r2","call":"x"}')" '{"id":"r2","error":"no such call"}'
expect_eq mediad_hangup_not_an_id "$(mreq hangup '{"id":"r3","call":"x"}')" '{"id":"r3","error":"call is not an id"}'
expect_eq mediad_request_needs_id "$(mreq calls '{}')" '{"error":"a request needs an id"}'
check mediad_user_only_requests not env CC_NATS_CREDS="$CC_VAR/secrets/nats_tools" \
	"${CC_BUILD:-$TOP/build}/tests/natsreq" "$NATS" "cc.rpc.media.$INST.calls" '{"id":"r4"}' 500

# mediad alive at its address but silent on SIP: 503 after 2 s, not 30
t0=$(now_ms)
check silent_mediad_503 flow_refused 503
t=$(( $(now_ms) - t0 ))
check silent_mediad_503_within_4s [ "$t" -lt 4000 ]
echo "# silent mediad: 503 in $t ms"
check silent_mediad_503_not_at_once [ "$t" -ge 1500 ]

# --- a carrier's call reaches mediad with Kamailio's X-CC headers, never
# the carrier's own
sip_agent "$MP" 1 media_uas.xml
check carrier_call_reaches_mediad sipp_run xcc-call -sf "$SIPP_DIR/carrier_call_xcc.xml" \
	-s +8657199990001 -set from +8613800000001 -p "$CARRIER" -default_behaviors all,-abortunexp \
	-m 1 -d 500 -timeout 10 -timeout_error
wait "$AGENT_PID"
ML=$SIPW/agent-$MP.log
invite() { awk '/^INVITE /{p=1} p && /^$/{exit} p' "$ML" | tr -d '\r'; }
hdr() { invite | sed -n "s/^$1: *//p" | head -n 1; }
check mediad_ruri grep -q "^INVITE sip:+8657199990001@127.0.0.1:$MP " "$ML"
XCALL=$(hdr X-CC-Call)
check mediad_x_cc_call uuid_ok "$XCALL"
expect_eq mediad_x_cc_tenant "$(hdr X-CC-Tenant)" "${TID[acme]}"
expect_eq mediad_x_cc_flow "$(hdr X-CC-Flow)" "$VER"
expect_eq mediad_x_cc_domain "$(hdr X-CC-Domain)" acme.cc.test
expect_eq mediad_x_cc_caller "$(hdr X-CC-Caller)" +8613800000001
expect_eq mediad_one_x_cc_each "$(invite | grep -c '^X-CC-')" 5
check carrier_x_cc_never_reach_mediad not grep -q forged-by-carrier <(received "$ML")
check carrier_forged_x_cc_sent grep -q forged-by-carrier "$SIPW/xcc-call.log"
check carrier_bye_reached_mediad grep -q '^BYE ' "$ML"
check carrier_info_reached_mediad grep -q '^Signal=1' "$ML"
# the carrier's RFC 4733 offer reaches mediad as it was (no transcoding)
check telephone_event_offered_to_mediad grep -q '^a=rtpmap:101 telephone-event/8000' <(received "$ML")
check codecs_untouched grep -q '^m=audio [0-9]* RTP/AVP 0 8 101' <(received "$ML")
check flow_call_events_say_mediad wait_for 15 sql_is 2 "SELECT count(*) FROM cc.call_events WHERE call_id = '$XCALL' AND type IN ('answered', 'ended') AND body->>'mediad' = 'true'"
check flow_call_recorded wait_for 15 sql_is "answered $VER" "SELECT result || ' ' || flow FROM cc.calls WHERE id = '$XCALL'"

# --- mediad's legs: to an extension rings that agent (X-CC-* never reach
# the phone, the phone's never reach mediad); the leg's record has its parent
sip_agent "$A1001" 1 agent_uas_xcc.xml
LEGID=$(uuid)
leg() { # leg TAG TO TENANT [LEG]
	sipp_run "leg-$1" -sf "$SIPP_DIR/media_leg.xml" -s "$2" -set from +8613800000001 \
		-set domain acme.cc.test -set tenant "$3" -set parent "$XCALL" -set leg "${4:-agent}" \
		-set legid "$LEGID" -set auth "$(cat "$CC_VAR/secrets/media")" \
		-p "$MP" -default_behaviors all,-abortunexp -m 1 -d 500 -timeout 10 -timeout_error
}
check media_leg_rings_agent leg agent 1001 "${TID[acme]}"
wait "$AGENT_PID"
AL=$SIPW/agent-$A1001.log
check agent_got_leg grep -q '^INVITE sip:1001@' "$AL"
check agent_sees_caller grep -q '^From: .*+8613800000001' "$AL"
# mediad's own X-CC-* (tenant, parent, leg, its secret) never reach a phone;
# Kamailio writes the agent's desktop two of its own: the caller's call id
# and the IVR's digits (docs/DESK.md)
check x_cc_never_reach_agent not grep -q -E '^X-CC-(Tenant|Parent|Leg|Auth)' <(received "$AL")
check x_cc_agent_only_its_own eval '[ -z "$(received "$AL" | grep "^X-CC-" | grep -v -E "^X-CC-(Call|Vars):")" ]'
check x_cc_call_is_the_callers eval 'received "$AL" | grep -q "^X-CC-Call: $XCALL"'
check agent_x_cc_never_reach_mediad not grep -q forged-by-agent <(received "$SIPW/leg-agent.log")
check agent_forged_x_cc_sent grep -q forged-by-agent "$AL"
check leg_record_has_parent wait_for 15 sql_is 1 "SELECT count(*) FROM cc.calls WHERE parent_call = '$XCALL' AND direction = 'internal'"
# the leg's record is named by the id mediad gave it (X-CC-Call from group 3)
expect_eq leg_record_named_by_mediad "$(sql "SELECT id FROM cc.calls WHERE parent_call = '$XCALL'")" "$LEGID"

# a leg's refusals: PSTN for a tenant without PSTN (403), a tenant that is
# not one (403), nothing routable (404)
leg_refused() { # leg_refused CODE TO TENANT [LEGID]
	local sf=$SIPW/leg-refused-$1.xml
	sed "s/@CODE@/$1/g" "$SIPP_DIR/media_leg_refused.xml.in" > "$sf"
	sipp_run "legx-$1-$2" -sf "$sf" -s "$2" -set from +8613800000001 -set domain acme.cc.test \
		-set tenant "$3" -set parent "$XCALL" -set leg pstn -set legid "${4:-$(uuid)}" -set auth "$(cat "$CC_VAR/secrets/media")" -p "$MP" -m 1 \
		-timeout 8 -timeout_error
}
check media_leg_pstn_not_enabled_403 leg_refused 403 +8613912345678 "${TID[acme]}"
check media_leg_unknown_tenant_403 leg_refused 403 1001 "$(uuid)"
check media_leg_bad_tenant_403 leg_refused 403 1001 not-a-tenant
check media_leg_nothing_404 leg_refused 404 55 "${TID[acme]}"
# a leg id that is no uuid is not taken: Kamailio names the leg itself
check media_leg_bad_id_ignored leg_refused 404 56 "${TID[acme]}" "x');--"
check media_leg_bad_id_not_recorded wait_for 10 sql_is 1 "SELECT count(*) FROM cc.calls WHERE to_number = '56' AND result = 'rejected'"

# the same INVITE from anywhere but mediad's address is no leg: an
# unauthenticated stranger is challenged, never routed as mediad
STRANGER=$(pick_port)
forged=$(printf 'INVITE sip:1001@acme.cc.test SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:%s;branch=z9hG4bKxcc%s\nFrom: <sip:+8613800000001@acme.cc.test>;tag=x\nTo: <sip:1001@acme.cc.test>\nCall-ID: xcc-%s@x\nCSeq: 1 INVITE\nContact: <sip:x@127.0.0.1:%s>\nX-CC-Tenant: %s\nX-CC-Parent: %s\nX-CC-Leg: agent\nMax-Forwards: 70\nContent-Length: 0\n' \
	"$STRANGER" "$RANDOM" "$RANDOM" "$STRANGER" "${TID[acme]}" "$XCALL")
expect_eq x_cc_from_stranger_is_no_leg "$(sip_raw_code stranger "$STRANGER" "$forged")" 407
# from mediad's own address but without the media secret (a local process
# on mediad's port while mediad is down): refused, counted
fromm=${forged//127.0.0.1:$STRANGER/127.0.0.1:$MP}
expect_eq leg_without_secret_403 "$(sip_raw_code nosecret "$MP" "$fromm")" 403
expect_eq leg_without_secret_counted "$(kam_stat cc_refused_media_auth)" 1
# with a wrong one: the same
wrong=${fromm/X-CC-Leg: agent/X-CC-Leg: agent
X-CC-Auth: 0123456789abcdef0123456789abcdef}
expect_eq leg_wrong_secret_403 "$(sip_raw_code wrongsecret "$MP" "$wrong")" 403
# with the secret but over TCP from mediad's port number: Kamailio's
# address table has no transport, so this is what a local process could
# do; mediad speaks UDP only, and a TCP peer is a stranger (challenged)
good=${fromm/X-CC-Leg: agent/X-CC-Leg: agent
X-CC-Auth: $(cat "$CC_VAR/secrets/media")}
goodt=${good//SIP\/2.0\/UDP/SIP/2.0/TCP}
expect_eq leg_over_tcp_is_no_leg "$(sip_raw_code tcpleg "$MP" "$goodt" tcp)" 407

# --- NATS away for a while with a call up: routingd cannot hear mediad
# then, which proves nothing: the call goes on, mediad stays alive
rm -f "$SIPW/agent-$MP.log"
sip_agent "$MP" 1
sipp_run natsaway -sf "$SIPP_DIR/carrier_call.xml" -s +8657199990001 -set from +8613800000004 \
	-p "$CARRIER" -default_behaviors all,-abortunexp -m 1 -d 14000 -timeout 30 -timeout_error &
AWAY_PID=$!
answered() { grep -q '^ACK ' "$SIPW/agent-$MP.log" 2>/dev/null; }
check nats_away_call_answered wait_for 10 answered
"$TOP/ops/stack.sh" stop nats > /dev/null 2>&1
sleep 5
"$TOP/ops/stack.sh" start nats > /dev/null 2>&1
check nats_away_call_goes_on wait "$AWAY_PID"
wait "$AGENT_PID"
check nats_away_bye_from_caller grep -q '^BYE ' "$SIPW/agent-$MP.log"
expect_eq nats_away_no_call_lost "$(routing_metric cc_routing_media_lost_calls_total)" 0
check nats_away_mediad_alive wait_for 10 media_alive 1
expect_eq nats_away_no_instance_lost "$(routing_metric cc_routing_media_lost_total)" "$LOST0"

# --- mediad lost with a call up: the caller gets a BYE, the record says why
rm -f "$SIPW/agent-$MP.log"
sip_agent "$MP" 1
sipp_run lost -sf "$SIPP_DIR/carrier_call_cut.xml" -s +8657199990001 -set from +8613800000002 \
	-p "$CARRIER" -default_behaviors all,-abortunexp -m 1 -timeout 30 -timeout_error &
LOST_PID=$!
check lost_call_answered wait_for 10 answered
kill -KILL "$MEDIABEAT_PID"
t0=$(now_ms)
check lost_caller_gets_bye wait "$LOST_PID"
t=$(( $(now_ms) - t0 ))
check lost_bye_within_6s [ "$t" -lt 6000 ]
echo "# mediad killed: the caller's BYE $t ms later (CC_ROUTING_MEDIA_DEAD_MS ${CC_ROUTING_MEDIA_DEAD_MS:-3000})"
wait "$AGENT_PID"
check lost_mediad_side_gets_bye grep -q '^BYE ' "$SIPW/agent-$MP.log"
LCALL=$(awk '/^INVITE /{p=1} p && /^X-CC-Call:/{print $2; exit}' "$SIPW/agent-$MP.log" | tr -d '\r')
check lost_record_reason wait_for 15 sql_is "media server lost" "SELECT reason FROM cc.calls WHERE id = '$LCALL'"
# Kamailio 5.6.3 may end a dialog for dlg.end_dlg without running
# dialog:end; routingd then reports the end itself (routing/media.h)
echo "# ends routingd reported itself: $(routing_metric cc_routing_media_ends_reported_total)"
expect_eq lost_calls_metric "$(routing_metric cc_routing_media_lost_calls_total)" 1
expect_eq lost_no_mediad_alive "$(routing_metric cc_routing_media_instances_alive)" 0
t0=$(now_ms)
check lost_new_calls_503 flow_refused 503
t=$(( $(now_ms) - t0 ))
check lost_new_calls_503_at_once [ "$t" -lt 1000 ]

# a new instance: flows answer again, Kamailio untouched
kam_pid=$(cat "$CC_VAR/run/kamailio.pid")
mediabeat "127.0.0.1:$MP"
check new_instance_alive wait_for 10 media_alive 1
rm -f "$SIPW/agent-$MP.log"
sip_agent "$MP" 1
check new_instance_gets_calls sip_call "$CARRIER" +8657199990001 +8613800000003 300
wait "$AGENT_PID"
expect_eq kamailio_not_restarted "$(cat "$CC_VAR/run/kamailio.pid")" "$kam_pid"

# a new instance at the same address replaces the old one at once
mediabeat "127.0.0.1:$MP"
check replaced_instance_lost wait_for 10 metric_is cc_routing_media_lost_total $((LOST0 + 2))
expect_eq replaced_one_alive "$(routing_metric cc_routing_media_instances_alive)" 1

exit $FAILED

#!/usr/bin/env bash
# The SIP edge as an attacker or an unlucky phone meets it: one check per
# refusal in ops/kamailio/kamailio.cfg (docs/ARCHITECTURE.md, "What an
# attacker can do"). Raw messages come from tests/tools/sipsend, so they can
# carry what SIPp will not send: invalid UTF-8, forged To-tags and Route
# sets, no Contact, a Via port out of range.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
trap stack_down EXIT
export CC_SIP_TCP_PER_ADDR=20 CC_MAX_CALL_S=25
stack_up || exit 1

CARRIER=$(pick_port) PSTN=$(pick_port) STRANGER=$(pick_port)
A1001=$(pick_port) A1002=$(pick_port) A1003=$(pick_port) A1008=$(pick_port) B2001=$(pick_port)
new_trunk carrier1 "$CARRIER" "$PSTN"
LATE=$(pick_port)
new_trunk carrier2 "$LATE"
new_tenant acme; new_tenant beta
for e in 1001 1002 1003 1004 1005 1006 1008; do new_agent acme $e "acme-pass-$e"; done
new_agent beta 2001 beta-pass-2001; new_agent beta 1001 beta-pass-1001
new_number acme +8657112345678 1001
new_number acme +8657112345608 1008
new_number acme +8657112345606 1006
A1006=$(pick_port)
new_number beta +8610000000001 2001
# PSTN calls need a plan or the operator's flag, and a chosen caller ID
pstn_enable acme +8657112345678
SIP=127.0.0.1:$CC_SIP_PORT

# invite RURI FROM-USER CALL-ID [EXTRA-HEADERS] [VIA-PORT]: a raw INVITE from
# the local port given to sip_raw (no SDP; EXTRA is header lines with "\n")
invite() {
	local ruri=$1 from=$2 cid=$3 extra=${4:-} via=${5:-@PORT@}
	printf 'INVITE %s SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:%s;branch=z9hG4bK%s\nFrom: <sip:%s@127.0.0.1>;tag=f%s\nTo: <%s>\nCall-ID: %s\nCSeq: 1 INVITE\nContact: <sip:%s@127.0.0.1:@PORT@>\nMax-Forwards: 70\n%sContent-Length: 0\n\n' \
		"$ruri" "$via" "$RANDOM$RANDOM" "$from" "$RANDOM" "$ruri" "$cid" "$from" "$extra"
}
# raw_code TAG PORT MESSAGE: the final reply to MESSAGE sent from PORT
raw_code() { sip_raw_code "$1" "$2" "${3//@PORT@/$2}"; }
# agent_refused CODE USER DOMAIN PASSWORD TARGET [CALL-ID-FORMAT] [EXTRA]
# (the format is SIPp's -cid_str: SIPp matches replies by its own Call-ID)
agent_refused() {
	local sf=$SIPW/ainv-$RANDOM.xml
	render "$SIPP_DIR/agent_invite_refused.xml.in" "$sf" CODE="$1" TARGET="$5" EXTRA="${7:-}"
	sipp_run "ainv-$2-$1" -sf "$sf" -set user "$2" -set domain "$3" -au "$2" -ap "$4" \
		-cid_str "${6:-%u-%p@%s}" -p "$(pick_port)" -m 1 -timeout 8 -timeout_error
}
# agent_answered USER DOMAIN PASSWORD TARGET [EXTRA]
agent_answered() {
	local sf=$SIPW/aans-$RANDOM.xml
	render "$SIPP_DIR/agent_invite_answered.xml.in" "$sf" TARGET="$4" EXTRA="${5:-}"
	sipp_run "aans-$1" -sf "$sf" -set user "$1" -set domain "$2" -au "$1" -ap "$3" \
		-p "$(pick_port)" -m 1 -d 500 -timeout 10 -timeout_error
}
invites_at() { grep -c '^INVITE ' "$SIPW/agent-$1.log" 2>/dev/null || true; }
listened() { grep -c . "$SIPW/listen-$1.log" 2>/dev/null || true; }

check register_1001 sip_register 1001 acme.cc.test acme-pass-1001 "$A1001"
check register_1002 sip_register 1002 acme.cc.test acme-pass-1002 "$A1002"
check register_beta_2001 sip_register 2001 beta.cc.test beta-pass-2001 "$B2001"

# --- 1. a request jansson cannot encode never reuses the previous question
sip_agent "$A1001" 3; a1001=$AGENT_PID
check routed_call_first sip_call "$CARRIER" +8657112345678 +8613800000001 300
check bad_utf8_ruri_400 [ "$(raw_code utf8-ruri "$CARRIER" "$(invite $'sip:+99\xff\xfe@'"$SIP" +8613800000001 "u1-$RANDOM@x")")" = 400 ]
check bad_utf8_from_400 [ "$(raw_code utf8-from "$CARRIER" "$(invite "sip:+8657112345678@$SIP" $'+86138\xff' "u2-$RANDOM@x")")" = 400 ]
check bad_utf8_callid_400 [ "$(raw_code utf8-cid "$CARRIER" "$(invite "sip:+8657112345678@$SIP" +8613800000001 $'u3-\xff\xfe@x')")" = 400 ]
# an authenticated agent of beta right after acme's routed call: refused,
# and acme's phone (the previous question's target) does not ring
check agent_bad_utf8_callid_400 agent_refused 400 2001 beta.cc.test beta-pass-2001 1001@beta.cc.test $'b-\xff-%u-%p@%s'
sleep 1
expect_eq stale_question_never_rings_previous_target "$(invites_at "$A1001")" 1
check unencodable_counted [ "$(kam_stat cc_refused_encoding)" -ge 4 ]
kill "$a1001" 2>/dev/null; wait "$a1001" 2>/dev/null

# a phone answering "486 Busy \xff\xfe": its call ends busy, and no other
# call gets the previous event (acme's answered call above keeps its end)
wait_for 10 calls_are acme 1
api GET /v1/tenants/acme/calls "${KEY[acme]}"
first_end=$(jr '.items[0].ended_at') first_talk=$(jr '.items[0].talk_seconds')
check register_1008 sip_register 1008 acme.cc.test acme-pass-1008 "$A1008"
sip_listen "$A1008" 15 $'486 Busy \xff\xfe here'
check busy_reason_not_utf8_reaches_carrier sip_call_refused 486 "$CARRIER" +8657112345608 +8613800000002
busy_record() {
	api GET "/v1/tenants/acme/calls?limit=50" "${KEY[acme]}"
	[ "$(jr '[.items[] | select(.number == "+8657112345608")][0].result')" = busy ]
}
check bad_reason_call_recorded_busy wait_for 10 busy_record
sleep 1
api GET "/v1/tenants/acme/calls?limit=50" "${KEY[acme]}"
expect_eq previous_call_end_untouched "$(jr '[.items[] | select(.number == "+8657112345678")][0] | "\(.ended_at) \(.talk_seconds)"')" "$first_end $first_talk"
expect_eq no_duplicate_ended_events "$(sql "SELECT count(*) FROM cc.call_events WHERE type = 'ended' GROUP BY call_id ORDER BY 1 DESC LIMIT 1")" 1
kill "$LISTEN_PID" 2>/dev/null

# --- 2. forged in-dialog requests are not relayed (to the carrier or a phone)
sip_listen "$PSTN" 20
forged_route="Route: <sip:$SIP;lr>\n"
forged() { # forged METHOD RURI
	printf '%s %s SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:@PORT@;branch=z9hG4bK%s\nFrom: <sip:x@127.0.0.1>;tag=f%s\nTo: <%s>;tag=forgedtotag\nCall-ID: forged-%s@x\nCSeq: 1 %s\nContact: <sip:x@127.0.0.1:@PORT@>\n%bMax-Forwards: 70\nContent-Length: 0\n\n' \
		"$1" "$2" "$RANDOM" "$RANDOM" "$2" "$RANDOM" "$1" "$forged_route"
}
check forged_invite_to_carrier_481 [ "$(raw_code fi "$STRANGER" "$(forged INVITE "sip:+900555000@127.0.0.1:$PSTN")")" = 481 ]
check forged_message_to_carrier_481 [ "$(raw_code fm "$STRANGER" "$(forged MESSAGE "sip:+900555000@127.0.0.1:$PSTN")")" = 481 ]
check forged_bye_to_carrier_481 [ "$(raw_code fb "$STRANGER" "$(forged BYE "sip:+900555000@127.0.0.1:$PSTN")")" = 481 ]
rm -f "$SIPW/agent-$A1001.log"
sip_agent "$A1001" 1; a1001=$AGENT_PID
check forged_invite_to_phone_481 [ "$(raw_code fp "$STRANGER" "$(forged INVITE "sip:1001@127.0.0.1:$A1001")")" = 481 ]
# the same from a trunk's address: a trunk is trusted for its calls, not for
# dialogs it does not have
check forged_invite_from_trunk_481 [ "$(raw_code ft "$CARRIER" "$(forged INVITE "sip:+900555000@127.0.0.1:$PSTN")")" = 481 ]
# an initial request with a preloaded route towards the carrier
check preloaded_route_to_carrier_403 [ "$(raw_code pre "$STRANGER" "$(invite "sip:+900555000@127.0.0.1:$PSTN" x "pre-$RANDOM@x" "Route: <sip:127.0.0.1:$PSTN;lr>\n")")" = 403 ]
check preloaded_second_route_403 [ "$(raw_code pre2 "$CARRIER" "$(invite "sip:+8657112345678@$SIP" +8613800000001 "pre2-$RANDOM@x" "Route: <sip:$SIP;lr>, <sip:127.0.0.1:$PSTN;lr>\n")")" = 403 ]
sleep 1
expect_eq carrier_got_nothing_forged "$(listened "$PSTN")" 0
expect_eq phone_got_nothing_forged "$(invites_at "$A1001")" 0
check in_dialog_refusals_counted [ "$(kam_stat cc_refused_in_dialog)" -ge 7 ]
# a phone whose outbound proxy is the platform sends Route: <platform;lr>:
# removed, and the call goes on
sip_agent "$A1002" 1; a1002=$AGENT_PID
check own_route_accepted agent_answered 1001 acme.cc.test acme-pass-1001 1002@acme.cc.test "      Route: <sip:$SIP;lr>
"
wait "$a1002" 2>/dev/null
kill "$a1001" "$LISTEN_PID" 2>/dev/null; wait "$a1001" 2>/dev/null

# --- 2b. a party to a real call cannot use it: the agent's in-dialog
# MESSAGE is refused, its OPTIONS naming a sink (and an ;alias) reaches the
# other end of the call only; a stranger holding the call's real ids is no
# party (it could end or redirect calls it is not in)
SINK=$(pick_port)
sip_listen "$SINK" 20
render "$SIPP_DIR/agent_uas_abuse.xml.in" "$SIPW/abuse.xml" SINK="sip:spam@127.0.0.1:$SINK" \
	SINKALIAS="127.0.0.1~$SINK~1"
(cd "$SIPW" && timeout -s KILL 30 sipp -i 127.0.0.1 -mp "$(pick_port 4)" -sf "$SIPW/abuse.xml" -p "$A1001" -m 1 \
	-trace_msg -message_file abuse-agent.log -trace_err -error_file abuse-agent.err -nostdin -timeout 20 \
	> abuse-agent.out 2>&1; echo $? > abuse.rc) &
abuser=$!
SIPP_PIDS="$SIPP_PIDS $abuser"
wait_for 5 ss_bound_udp "$A1001"
(sip_call "$CARRIER" +8657112345678 +8613800000005 4000; echo $? > "$SIPW/abuse-call.rc") &
abuse_call=$!
dlg_up() { CC_RPC_PORT=$CC_RPC_PORT "$TOP/ops/kamrpc.sh" dlg.list | jq -e '[.result[]? | select(.state == 4)] | length > 0' > /dev/null; }
wait_for 5 dlg_up
d=$(CC_RPC_PORT=$CC_RPC_PORT "$TOP/ops/kamrpc.sh" dlg.list | jq -c '[.result[] | select(.state == 4)][0]')
cid=$(jq -r '.call_id // ."call-id"' <<< "$d") ftag=$(jq -r '.caller.tag // .from_tag' <<< "$d") ttag=$(jq -r '.callee.tag // .to_tag' <<< "$d")
stranger_bye=$(printf 'BYE sip:1001@127.0.0.1:%s SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:@PORT@;branch=z9hG4bKsb%s\nRoute: <sip:%s;lr>\nFrom: <sip:+8613800000005@127.0.0.1>;tag=%s\nTo: <sip:+8657112345678@%s>;tag=%s\nCall-ID: %s\nCSeq: 99 BYE\nMax-Forwards: 70\nContent-Length: 0\n\n' \
	"$A1001" "$RANDOM" "$SIP" "$ftag" "$SIP" "$ttag" "$cid")
check stranger_with_real_dialog_ids_403 [ "$(raw_code sbye "$STRANGER" "$stranger_bye")" = 403 ]
wait "$abuse_call"
wait "$abuser"
expect_eq real_call_survives_stranger "$(cat "$SIPW/abuse-call.rc")" 0
expect_eq party_message_403_options_to_other_end "$(cat "$SIPW/abuse.rc")" 0
[ "$(cat "$SIPW/abuse.rc")" = 0 ] || sed 's/^/#   /' "$SIPW/abuse-agent.err" | tail -5
sleep 0.5
expect_eq party_cannot_reach_a_sink "$(listened "$SINK")" 0
check party_options_went_to_the_other_end grep -q '^OPTIONS sip:spam@' "$SIPW/call-$CARRIER-+8657112345678.log"
kill "$LISTEN_PID" 2>/dev/null

# --- 3. no call without a dialog; a Via the reply cannot use
nocontact=$(printf 'INVITE sip:+8657112345678@%s SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:%s;branch=z9hG4bKnc%s\nFrom: <sip:+8613800000001@127.0.0.1>;tag=nc\nTo: <sip:+8657112345678@%s>\nCall-ID: nc-%s@x\nCSeq: 1 INVITE\nMax-Forwards: 70\nContent-Length: 0\n\n' "$SIP" "$CARRIER" "$RANDOM" "$SIP" "$RANDOM")
check invite_without_contact_400 [ "$(sip_raw_code nc "$CARRIER" "$nocontact")" = 400 ]
check agent_invite_without_contact_400 [ "$(sip_raw_code anc "$STRANGER" "${nocontact//+8613800000001@127.0.0.1/1001@acme.cc.test}")" = 400 ]
check via_port_99999_400 [ "$(raw_code via "$CARRIER" "$(invite "sip:+8657112345678@$SIP" +8613800000001 "via-$RANDOM@x" "" 99999)")" = 400 ]
# a Content-Length Kamailio cannot parse: no reply can be built for it, so
# it is dropped (it used to be routed)
badcl=$(invite "sip:+8657112345678@$SIP" +8613800000001 "cl-$RANDOM@x")
rm -f "$SIPW/agent-$A1001.log"
sip_agent "$A1001" 1; a1001=$AGENT_PID
check negative_content_length_dropped [ "$(raw_code cl "$CARRIER" "${badcl/Content-Length: 0/Content-Length: -5}")" = none ]
sleep 1
kill "$a1001" 2>/dev/null; wait "$a1001" 2>/dev/null
expect_eq negative_content_length_not_routed "$(invites_at "$A1001")" 0
# a 200 OK the caller never ACKs: the dialog ends after 32 s with its end
# event (it held the tenant's credit for the whole maximum call length)
sip_agent "$A1008" 1; a1008=$AGENT_PID
raw_code noack "$CARRIER" "$(invite "sip:+8657112345608@$SIP" +8613800000009 "noack-$RANDOM@x")" > "$SIPW/noack.code" &
noack_pid=$!
# an ACK 8 s late does not stretch the call's lifetime (25 s here,
# CC_MAX_CALL_S; a credit grant takes the same path): it ends 25 s after
# the 200 OK, not 25 s after the ACK
check register_1006 sip_register 1006 acme.cc.test acme-pass-1006 "$A1006"
sip_agent "$A1006" 1; a1006=$AGENT_PID
printf '%s\n\n' "$(invite "sip:+8657112345606@$SIP" +8613800000008 "late-$RANDOM@x")" | sed "s/@PORT@/$LATE/g" > "$SIPW/late.msg"
"$SIPSEND" -b "127.0.0.1:$LATE" -s "$SIP" -w 45000 -a 8000 "$SIPW/late.msg" > "$SIPW/late.out" 2>&1 &
late_pid=$!

# --- 4. the registrar: contacts are reached where the REGISTER came from
reg_custom() { # reg_custom TAG CODE USER CONTACT PORT [IP]
	local sf=$SIPW/regc-$1.xml
	render "$SIPP_DIR/register_custom.xml.in" "$sf" CODE="$2" CONTACT="$4"
	sipp_run "regc-$1" -sf "$sf" -set user "$3" -set domain acme.cc.test -au "$3" -ap "${PASS:-acme-pass-$3}" \
		-p "$5" -i "${6:-127.0.0.1}" -m 1 -timeout 8 -timeout_error
}
sip_listen "$PSTN" 20
R1004=$(pick_port)
check register_carrier_contact_accepted_but_fixed reg_custom carrier 200 1004 "<sip:+8613955556666@127.0.0.1:$PSTN>" "$R1004"
ul=$(CC_RPC_PORT=$CC_RPC_PORT "$TOP/ops/kamrpc.sh" ul.lookup '["location","1004@acme.cc.test"]')
check registration_reached_at_source grep -q "sip:127.0.0.1:$R1004" <<< "$ul"
# a colleague dials 1004: the carrier gets nothing (the phone's own port does)
sip_agent "$R1004" 1; r1004=$AGENT_PID
check colleague_call_goes_to_source sip_agent_call 1002 acme.cc.test acme-pass-1002 1004 "$(pick_port)"
wait "$r1004" 2>/dev/null
sleep 1
expect_eq carrier_contact_never_rung "$(listened "$PSTN")" 0
kill "$LISTEN_PID" 2>/dev/null
check register_platform_contact_403 reg_custom self 403 1004 "<sip:1004@$SIP>" "$(pick_port)"
two=$(printf 'REGISTER sip:acme.cc.test SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:@PORT@;branch=z9hG4bKtw%s\nFrom: <sip:1004@acme.cc.test>;tag=tw\nTo: <sip:1004@acme.cc.test>\nCall-ID: tw-%s@x\nCSeq: 1 REGISTER\nContact: <sip:1004@127.0.0.1:5099>, <sip:1004@%s>\nMax-Forwards: 70\nContent-Length: 0\n\n' "$RANDOM" "$RANDOM" "$SIP")
check register_two_contacts_in_one_header_400 [ "$(raw_code two "$STRANGER" "$two")" = 400 ]
trunk_reg=$(printf 'REGISTER sip:acme.cc.test SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:%s;branch=z9hG4bKtr%s\nFrom: <sip:1004@acme.cc.test>;tag=tr\nTo: <sip:1004@acme.cc.test>\nCall-ID: tr-%s@x\nCSeq: 1 REGISTER\nContact: <sip:1004@127.0.0.1:%s>\nMax-Forwards: 70\nContent-Length: 0\n\n' "$CARRIER" "$RANDOM" "$RANDOM" "$CARRIER")
check register_from_trunk_403 [ "$(sip_raw_code treg "$CARRIER" "$trunk_reg")" = 403 ]
# at most CC_MAX_CONTACTS (5) phones per agent
for i in 1 2 3 4 5; do
	p=$(pick_port)
	check "max_contacts_$i" reg_custom "m$i" 200 1005 "<sip:1005@127.0.0.1:$p>" "$p"
done
p=$(pick_port)
check max_contacts_sixth_refused reg_custom m6 503 1005 "<sip:1005@127.0.0.1:$p>" "$p"

# --- 5. agents assert no identity; PSTN calls carry the platform's
(cd "$SIPW" && exec sipp -i 127.0.0.1 -sf "$SIPP_DIR/pstn_uas.xml" -p "$PSTN" -m 1 -trace_msg \
	-message_file pstn-id.log -nostdin -timeout 20 > pstn-id.out 2>&1) &
pstn=$!
sleep 0.3
check agent_pstn_with_forged_identity agent_answered 1002 acme.cc.test acme-pass-1002 +8613812345678@acme.cc.test \
"      P-Asserted-Identity: <sip:+4930123456789@beta.cc.test>
      P-Preferred-Identity: <sip:+4930123456789@beta.cc.test>
      Remote-Party-ID: <sip:+4930123456789@beta.cc.test>;party=calling
      Privacy: none
      Diversion: <sip:+4930123456789@beta.cc.test>;reason=unconditional
      P-Charge-Info: <sip:+4930123456789@beta.cc.test>
      Identity: forged-shaken-token;info=<https://example.com/cert>
      Referred-By: <sip:+4930123456789@beta.cc.test>
      b: <sip:+4930123456789@beta.cc.test>
      X-Caller: +4930123456789
"
wait "$pstn"
inv=$(awk '/^INVITE /,/^$/' "$SIPW/pstn-id.log")
check carrier_sees_no_agent_identity not grep -qiE '^(P-Preferred-Identity|Remote-Party-ID|Privacy|Diversion|P-Charge-Info|Identity|Referred-By|b|X-Caller):|4930123456789' <<< "$inv"
check carrier_sees_no_stored_from not grep -q 'cc_from=' <<< "$inv"
check carrier_sees_platform_pai grep -qiE '^P-Asserted-Identity: <sip:\+8657112345678@' <<< "$inv"
# topology hiding: the agent's Via, Contact and Call-ID (its address) stay home
agent_cid=$(awk 'tolower($1) == "call-id:" { print $2; exit }' "$SIPW/aans-1002.log")
echo "$inv" | grep -iE '^(Via|Contact|Call-ID|Record-Route):' | sed 's/^/#   carrier saw: /'
check carrier_sees_no_agent_via [ "$(grep -i '^Via:' <<< "$inv" | grep -cvE "127\.0\.0\.1:$CC_SIP_PORT;|192\.0\.2\.1;")" = 0 ]
check carrier_sees_masked_contact grep -qiE '^Contact: <?sip:[^>]*192\.0\.2\.1' <<< "$inv"
check carrier_sees_no_agent_call_id not grep -qF "$agent_cid" <<< "$inv"
check call_with_masks_completes grep -q '^BYE ' "$SIPW/pstn-id.log"

# --- 6. an agent's call to another tenant's domain is not reinterpreted
rm -f "$SIPW/agent-$A1001.log"
sip_agent "$A1001" 1; a1001b=$AGENT_PID
check other_tenant_domain_404 agent_refused 404 1002 acme.cc.test acme-pass-1002 1001@beta.cc.test
check foreign_domain_404 agent_refused 404 1002 acme.cc.test acme-pass-1002 1001@example.com
sleep 1
kill "$a1001b" 2>/dev/null; wait "$a1001b" 2>/dev/null
expect_eq other_tenant_domain_rang_nobody "$(invites_at "$A1001")" 0

# --- 7. guessing is refused; the office's working phone is not
(sipp_run refresh -sf "$SIPP_DIR/register_twice.xml" -set user 1003 -set domain acme.cc.test \
	-au 1003 -ap acme-pass-1003 -p "$A1003" -m 1 -d 4000 -timeout 15 -timeout_error; echo $? > "$SIPW/refresh.rc") &
refresh=$!
sleep 1
check guess_1003_locked_after_3 sip_register_refused 1003 acme.cc.test wrong-password "$(pick_port)"
check guesser_locked_even_with_password sip_register_forbidden 1003 acme.cc.test "$(pick_port)"
wait "$refresh"
expect_eq registered_phone_refreshes_while_locked "$(cat "$SIPW/refresh.rc")" 0
# a guess spread over ten addresses (127.0.0.2-11): the user is locked for
# an eleventh address, right password or not, but not for an address that
# authenticated as that user before (a second device of the office, a
# rebooted phone with a new Call-ID)
for i in $(seq 2 11); do
	PASS=wrong-guess reg_custom "g$i" 401 1004 "<sip:1004@127.0.0.$i:5070>" "$(pick_port)" "127.0.0.$i" > /dev/null 2>&1 || true
done
check distributed_guess_locks_user sipp_run regf-g12 -sf "$SIPP_DIR/register_forbidden.xml" -set user 1004 \
	-set domain acme.cc.test -p "$(pick_port)" -i 127.0.0.12 -m 1 -timeout 5 -timeout_error
check lockouts_logged grep -q 'auth: 1004@acme.cc.test locked for guessing' "$CC_VAR/log/kamailio.log"
check known_address_not_locked_out sip_register 1004 acme.cc.test acme-pass-1004 "$(pick_port)"
check lockouts_counted [ "$(kam_stat cc_auth_locked)" -ge 1 ]

# --- 16. evapi: only the authenticated routingd hears and answers
exec 7<>/dev/tcp/127.0.0.1/"$CC_EVAPI_PORT"
exec 8<>/dev/tcp/127.0.0.1/"$CC_EVAPI_PORT"
ns() { printf '%d:%s,' "${#1}" "$1"; }
ns '{"auth":"not-the-secret-at-all"}' >&8
ns '{"ti":1,"tl":1,"action":"pstn","uri":"sip:+900555000@127.0.0.1:'"$PSTN"'"}' >&8
sleep 0.5
sip_agent "$A1001" 1; a1001=$AGENT_PID
check call_routed_beside_rogue_clients sip_call "$CARRIER" +8657112345678 +8613800000003 300
wait "$a1001" 2>/dev/null
rogue=$(timeout 1 cat <&7 | wc -c; true)
expect_eq rogue_evapi_client_hears_nothing "$rogue" 0
check rogue_auth_logged grep -q 'did not authenticate: refused' "$CC_VAR/log/kamailio.log"
exec 7>&- 8>&-
# junk first, then the secret, on one connection: the junk closed it
exec 9<>/dev/tcp/127.0.0.1/"$CC_EVAPI_PORT"
ns '{"hello":1}' >&9
sleep 0.3
ns "{\"auth\":\"$(cat "$CC_VAR/secrets/evapi")\"}" >&9 2>/dev/null
sleep 0.3
one_routingd() { CC_RPC_PORT=$CC_RPC_PORT "$TOP/ops/kamrpc.sh" pv.shvGet '["routingd"]' | tr -d ' \t\n' | grep -q '"value":1'; }
check secret_after_junk_not_accepted one_routingd
check refused_connection_logged_once [ "$(grep -c 'did not authenticate' "$CC_VAR/log/kamailio.log")" = 2 ]
exec 9>&- 2>/dev/null
# a second routingd (a rolling restart): every call is decided once
metrics2=$(pick_port)
mapfile -t renv < <(tr '\0' '\n' < "/proc/$(cat "$CC_VAR/run/routingd.pid")/environ" | grep '^CC_')
env "${renv[@]}" CC_ROUTING_METRICS_PORT="$metrics2" CC_ROUTING_RT_PRIO=0 CC_SPOOL_DIR="$CC_VAR/spool2" \
	"$CC_BUILD/routing/routingd" > "$CC_VAR/log/routingd2.log" 2>&1 &
second=$!
SIPP_PIDS="$SIPP_PIDS $second"
two_connected() { CC_RPC_PORT=$CC_RPC_PORT "$TOP/ops/kamrpc.sh" pv.shvGet '["routingd"]' | tr -d ' \t\n' | grep -q '"value":2'; }
check second_routingd_authenticated wait_for 10 two_connected
decisions() {
	local a b
	a=$(curl -s "http://127.0.0.1:$CC_ROUTING_METRICS_PORT/metrics" | awk '$1 == "cc_routing_decisions_total" { print $2 }')
	b=$(curl -s "http://127.0.0.1:$metrics2/metrics" | awk '$1 == "cc_routing_decisions_total" { print $2 }')
	echo $(( ${a:-0} + ${b:-0} ))
}
before=$(decisions) calls_before=$(calls_count acme)
sip_agent "$A1001" 5; a1001=$AGENT_PID
check five_calls_two_routingd sipp_run two -sf "$SIPP_DIR/carrier_call.xml" -s +8657112345678 -set from +8613800000004 \
	-p "$CARRIER" -default_behaviors all,-abortunexp -m 5 -r 5 -d 200 -timeout 20 -timeout_error
wait "$a1001" 2>/dev/null
expect_eq each_call_decided_once $(( $(decisions) - before )) 5
check each_call_one_record wait_for 10 calls_are acme $((calls_before + 5))
kill "$second" 2>/dev/null

# --- 8. TCP: one address cannot take every connection slot
if [ "$(id -u)" = 0 ] && command -v iptables > /dev/null; then
	held=0 fds=()
	for i in $(seq 1 30); do
		if { exec {fd}<>/dev/tcp/127.0.0.1/"$CC_SIP_PORT"; } 2> /dev/null; then
			printf 'INVITE sip:half@127.0.0.1 SIP/2.0\r\nContent-Length: 99999\r\n' >&"$fd"
			fds+=("$fd"); held=$((held + 1))
		fi
	done
	expect_eq tcp_per_address_limit "$held" 20
	expect_eq tcp_limits_address_and_slash24 "$(iptables -S INPUT | grep -c "cc-sip-$CC_SIP_PORT ")" 2
	opt=$(printf 'OPTIONS sip:%s SIP/2.0\nVia: SIP/2.0/TCP 127.0.0.2:@PORT@;branch=z9hG4bKt%s\nFrom: <sip:x@127.0.0.2>;tag=t\nTo: <sip:%s>\nCall-ID: t-%s@x\nCSeq: 1 OPTIONS\nMax-Forwards: 70\nContent-Length: 0\n\n' "$SIP" "$RANDOM" "$SIP" "$RANDOM")
	p=$(pick_port)
	expect_eq tcp_other_address_served "$(sip_raw_code tcp2 "$p" "${opt//@PORT@/$p}" tcp 127.0.0.2)" 200
	for fd in "${fds[@]}"; do exec {fd}>&-; done
	sleep 0.5
	p=$(pick_port)
	expect_eq tcp_address_served_after_close "$(sip_raw_code tcp1 "$p" "$(sed "s/127.0.0.2/127.0.0.1/g; s/@PORT@/$p/" <<< "$opt")" tcp)" 200
else
	echo "# not root or no iptables: the per-address TCP limit is not applied here"
fi

# --- 3 (end). the late ACK and the never-ACKed call
wait "$late_pid"
bye_ms=$(awk '$2 == "BYE" { sub(/^\+/, "", $1); print $1; exit }' "$SIPW/late.out")
echo "# late ACK: $(tr '\n' ' ' < "$SIPW/late.out")"
check late_ack_does_not_stretch_lifetime [ "${bye_ms:-0}" -ge 23000 -a "${bye_ms:-99999}" -le 28000 ]
wait "$noack_pid"
expect_eq noack_call_answered "$(cat "$SIPW/noack.code")" 200
noack_ended() {
	api GET "/v1/tenants/acme/calls?limit=100" "${KEY[acme]}"
	[ "$(jr '[.items[] | select(.from == "+8613800000009")][0].ended_at')" != null ]
}
check noack_dialog_ends wait_for 60 noack_ended
api GET "/v1/tenants/acme/calls?limit=100" "${KEY[acme]}"
t=$(jr '[.items[] | select(.from == "+8613800000009")][0].talk_seconds')
check noack_dialog_ends_after_32_s [ "${t:-0}" -ge 30 -a "${t:-99}" -le 40 ]
kill "$a1001" "$a1008" "$a1006" 2>/dev/null
"$TOP/ops/stack.sh" stop kamailio > /dev/null 2>&1
check firewall_rules_removed_at_stop not grep -q "cc-sip-$CC_SIP_PORT " <(iptables -S INPUT 2>/dev/null)
# a stop after a part was stopped alone stops the rest: the firewall's
# second removal (no rule left) failed the stop, which left NATS and
# rtpengine running after every run of this suite
pids=$(cat "$CC_VAR/run/nats.pid" "$CC_VAR/run/rtpengine.pid" 2>/dev/null)
"$TOP/ops/stack.sh" stop > /dev/null 2>&1
check stop_after_partial_stop_stops_all [ -n "$pids" ] && not kill -0 $pids 2>/dev/null
check second_firewall_remove_ok "$TOP/ops/sip-firewall.sh" remove "$CC_SIP_PORT" "$CC_SIP_TLS_PORT"

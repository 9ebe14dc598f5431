#!/usr/bin/env bash
# mediad's engine through real SIP peers, no mocks: build/tests/mediatest
# runs the engine (media/libmedia.a: the SIP gate, legs, mixer, players,
# DTMF) that mediad runs, without a flow, the catalog or NATS. SIPp plays
# Kamailio (mediad's INVITE with X-CC-*, SIPp's RFC 4733 pcap, a SIP INFO
# digit) and hostile peers (raw INVITEs: wrong source, missing or bad
# headers, no common codec); baresip (baresip-core) is an agent that
# mediatest rings through a "proxy" and that records what it hears
# (sndfile module), checked with sox. No stack: nothing here needs one.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
BUILD=${CC_BUILD:-$TOP/build}
MT=$BUILD/tests/mediatest
W=$(mktemp -d /tmp/cc-media.XXXXXX)
MT_PID="" BS_PID="" M2_PID=""
cleanup() {
	[ -n "$MT_PID" ] && kill "$MT_PID" 2>/dev/null
	[ -n "$BS_PID" ] && kill "$BS_PID" 2>/dev/null
	[ -n "$M2_PID" ] && kill "$M2_PID" 2>/dev/null
	wait 2>/dev/null
	rm -f "$PICKED"
	if [ "$FAILED" = 1 ]; then
		for f in "$W"/*.out "$W"/*.err; do
			[ -s "$f" ] && { printf '\n--- %s\n' "$f"; tail -n 30 "$f"; }
		done
	fi
	rm -rf "$W"
}
trap cleanup EXIT
[ -x "$MT" ] || { fail mediatest_built "$MT missing (make)"; exit 1; }

KAM=$(pick_port) MT_PORT=$(pick_port)
# mediatest_start [DIAL_URI VIA HOLD_MS]: takes INVITEs from $KAM only
mediatest_start() {
	: > "$W/mt.out"
	"$MT" "$MT_PORT" "127.0.0.1:$KAM" "$@" > "$W/mt.out" 2> "$W/mt.err" &
	MT_PID=$!
	wait_for 5 grep -q '^ready' "$W/mt.out"
}
# mediatest_stop: SIGTERM; its exit status
mediatest_stop() {
	kill -TERM "$MT_PID" 2>/dev/null
	wait "$MT_PID"
	local rc=$?
	MT_PID=""
	return $rc
}
# call TAG PTS PCAP INFO_DIGIT [sipp args]: Kamailio's INVITE to mediatest
call() {
	local tag=$1 pts=$2 pcap=$3 digit=$4; shift 4
	(cd "$W" && timeout -s KILL 30 sipp "127.0.0.1:$MT_PORT" -p "$KAM" -i 127.0.0.1 \
		-mp "$(pick_port 4)" -sf "$SIPP_DIR/media_call.xml" -m 1 -d 1000 \
		-key cc_call "$(uuid)" -key cc_tenant "$(uuid)" -key cc_flow "$(uuid)" \
		-key pts "$pts" -key pcap "$pcap" -key info_digit "$digit" \
		-trace_msg -message_file "$tag.log" -trace_err -error_file "$tag.err" -nostdin \
		"$@" > "$tag.out" 2>&1)
}
count() { grep -c -- "$1" "$W/mt.out"; }
has() { grep -q -- "$1" "$W/mt.out"; }

# raw INVITE FROM_PORT HEADERS SDP_PTS: the final status mediatest answers
raw_invite() {
	local from=$1 hdrs=$2 pts=${3:-0} body cid via=$1
	cid=$(uuid)
	body=$(printf 'v=0\r\no=k 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 30999 RTP/AVP %s\r\n' "$pts")
	{
		printf 'INVITE sip:+8675512345678@127.0.0.1:%s SIP/2.0\r\n' "$MT_PORT"
		printf 'Via: SIP/2.0/UDP 127.0.0.1:%s;branch=z9hG4bK-%s\r\n' "$via" "$cid"
		printf 'From: <sip:+8613800000001@127.0.0.1>;tag=%s\r\n' "${cid:0:8}"
		printf 'To: <sip:+8675512345678@127.0.0.1>\r\nCall-ID: %s\r\nCSeq: 1 INVITE\r\n' "$cid"
		printf 'Contact: <sip:k@127.0.0.1:%s>\r\nMax-Forwards: 70\r\n' "$via"
		printf '%s\n' "$hdrs"
		printf 'Content-Type: application/sdp\r\nContent-Length: %s\r\n\r\n%s' "${#body}" "$body"
	} > "$W/raw.msg"
	"$SIPSEND" -b "127.0.0.1:$from" -s "127.0.0.1:$MT_PORT" -w 2000 "$W/raw.msg" \
		| grep -v '^SIP/2.0 1' | tail -1 | awk '{ print $2 }'
}
good_hdrs() {
	printf 'X-CC-Call: %s\r\nX-CC-Tenant: %s\r\nX-CC-Flow: %s\r\nX-CC-Domain: acme.cc.test\r\nX-CC-Caller: +8613800000001\r\n' \
		"$(uuid)" "$(uuid)" "$(uuid)"
}

check mediatest_starts mediatest_start

# ---- Kamailio's INVITE: answered, RFC 4733 digit once, INFO digit
call pcmu "0 101" /usr/share/sip-tester/dtmf_2833_1.pcap 7
check pcmu_call_completes test $? = 0
check pcmu_answered has "^call .* PCMU$"
wait_for 5 has '^ended '
# the pcap's '1' has its end packet three times: one digit
expect_eq rfc4733_digit_reported_once "$(count '^digit 1 rfc4733$')" 1
expect_eq info_dtmf_relay_digit "$(count '^digit 7 info$')" 1
in=$(sed -n 's/^ended .* in=\([0-9]*\) .*/\1/p' "$W/mt.out" | tail -1)
out=$(sed -n 's/^ended .* out=\([0-9]*\) .*/\1/p' "$W/mt.out" | tail -1)
check rtp_events_received test "${in:-0}" -ge 10
# the caller heard the player (50 packets a second while the call lasted)
check rtp_sent_to_caller test "${out:-0}" -ge 50

# ---- G.722 is preferred when offered; digits still come as RFC 4733
: > "$W/mt.out.g722"
before=$(count '^digit 9 rfc4733$')
call g722 "9 0 101" /usr/share/sip-tester/dtmf_2833_9.pcap 5
check g722_call_completes test $? = 0
check g722_answered has "^call .* G722$"
wait_for 5 test "$(count '^digit 9 rfc4733$')" = $((before + 1))
expect_eq g722_rfc4733_digit "$(count '^digit 9 rfc4733$')" $((before + 1))

# ---- PCMA without telephone-event: still answered (digits would be in-band)
call pcma "8" /usr/share/sip-tester/g711a.pcap 3
check pcma_without_telephone_event_answered has "^call .* PCMA$"
# SIPp's g711a.pcap is 30 ms packets: each is decoded whole, none dropped
wait_for 5 test "$(count '^ended ')" -ge 3
pcma_end=$(grep '^ended ' "$W/mt.out" | tail -1)
check ptime_30ms_packets_taken grep -q ' dropped=0 ' <<< "$pcma_end"
pin=$(sed -n 's/.* in=\([0-9]*\) .*/\1/p' <<< "$pcma_end")
check ptime_30ms_packets_counted test "${pin:-0}" -ge 40

# ---- refusals (each one a test): 403 from anywhere but Kamailio, 403
#      without a header or with a bad one, 488 without a common codec
OTHER=$(pick_port)
expect_eq refuses_invite_not_from_kamailio "$(raw_invite "$OTHER" "$(good_hdrs)")" 403
expect_eq accepts_raw_invite_from_kamailio "$(raw_invite "$KAM" "$(good_hdrs)")" 200
expect_eq refuses_missing_flow "$(raw_invite "$KAM" "$(good_hdrs | grep -v X-CC-Flow)")" 403
expect_eq refuses_missing_domain "$(raw_invite "$KAM" "$(good_hdrs | grep -v X-CC-Domain)")" 403
expect_eq refuses_tenant_not_uuid \
	"$(raw_invite "$KAM" "$(good_hdrs | sed 's/^X-CC-Tenant: .*/X-CC-Tenant: acme\r/')")" 403
expect_eq refuses_call_twice \
	"$(raw_invite "$KAM" "$(good_hdrs; printf 'X-CC-Call: %s\r\n' "$(uuid)")")" 403
expect_eq refuses_domain_with_bad_chars \
	"$(raw_invite "$KAM" "$(good_hdrs | sed 's/^X-CC-Domain: .*/X-CC-Domain: a;b@c\r/')")" 403
expect_eq refuses_caller_not_a_number \
	"$(raw_invite "$KAM" "$(good_hdrs | sed 's/^X-CC-Caller: .*/X-CC-Caller: <script>\r/')")" 403
expect_eq refuses_no_common_codec "$(raw_invite "$KAM" "$(good_hdrs)" "18")" 488
expect_eq refuses_telephone_event_alone "$(raw_invite "$KAM" "$(good_hdrs)" "101")" 488

# out-of-dialog requests: OPTIONS is answered, anything else but INVITE 405
options_code() {
	printf 'OPTIONS sip:m@127.0.0.1:%s SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%s;branch=z9hG4bK-o%s\r\nFrom: <sip:k@127.0.0.1>;tag=1\r\nTo: <sip:m@127.0.0.1>\r\nCall-ID: o%s\r\nCSeq: 1 %s\r\nContent-Length: 0\r\n\r\n' \
		"$MT_PORT" "$KAM" "$RANDOM" "$RANDOM" "$1" | sed "1s/^OPTIONS/$1/" > "$W/opt.msg"
	"$SIPSEND" -b "127.0.0.1:$KAM" -s "127.0.0.1:$MT_PORT" -w 2000 "$W/opt.msg" | tail -1 | awk '{ print $2 }'
}
expect_eq options_answered "$(options_code OPTIONS)" 200
expect_eq message_refused_405 "$(options_code MESSAGE)" 405

# ---- SIGTERM: BYE to the raw call left up, clean exit
check sigterm_exits_cleanly mediatest_stop
check sigterm_ended_the_open_call grep -q '^ended ' "$W/mt.out"
if grep -qE 'LeakSanitizer|AddressSanitizer|runtime error' "$W/mt.err"; then
	fail no_leaks_at_exit "$(head -c 300 "$W/mt.err")"
else
	ok no_leaks_at_exit
fi

# ---- baresip as an agent: mediatest rings it (as mediad rings agents
#      through Kamailio), it answers, hears the player, sends its tone back
BS=$W/baresip BS_SIP=$(pick_port) BS_RTP=$(pick_port 4)
mkdir -p "$BS"
cat > "$BS/config" <<EOC
poll_method		epoll
sip_listen		127.0.0.1:$BS_SIP
net_interface		127.0.0.1
audio_source		ausine,440
ausrc_srate		48000
ausrc_channels		2
rtp_ports		$BS_RTP-$((BS_RTP + 3))
rtcp_mux		no
rtp_timeout		0
snd_path		$BS
module_path		/usr/lib/baresip/modules
module			g711.so
module			ausine.so
module			sndfile.so
module_app		account.so
module_app		menu.so
EOC
echo "<sip:agent@127.0.0.1:$BS_SIP>;answermode=auto;regint=0;audio_codecs=pcma,pcmu;mwi=no;pubint=0" > "$BS/accounts"
: > "$BS/contacts"
(cd "$BS" && exec baresip -f "$BS" < /dev/null > "$W/baresip.out" 2>&1) &
BS_PID=$!
wait_for 5 ss_bound_udp "$BS_SIP"
mediatest_start "sip:agent@acme.cc.test" "127.0.0.1:$BS_SIP" 3000
check agent_leg_answered wait_for 10 has '^leg answered PCMA$'
check agent_leg_hung_up wait_for 10 has '^leg ended '
leg_in=$(sed -n 's/^leg ended in=\([0-9]*\) .*/\1/p' "$W/mt.out")
check agent_rtp_received test "${leg_in:-0}" -ge 100
mediatest_stop
kill "$BS_PID" 2>/dev/null; wait "$BS_PID" 2>/dev/null; BS_PID=""
dec=$(ls "$BS"/dump-*-dec.wav 2>/dev/null | head -1)
rms=$( [ -n "$dec" ] && sox "$dec" -n stat 2>&1 | awk '/RMS +amplitude/ { print $3 }')
# the tone is 1 kHz at -12 dBFS, 1 s on, 1 s off: RMS about 0.12
check agent_heard_audio awk -v r="${rms:-0}" 'BEGIN { exit !(r > 0.05) }'

# ====================================================================
# mediad itself, in the stack (PostgreSQL, NATS, Kamailio, routingd)
[ -x "$BUILD/media/mediad" ] || { fail mediad_built "$BUILD/media/mediad missing"; exit 1; }
trap 'cleanup; stack_down' EXIT
stack_up || exit 1
DUMP=$BUILD/tests/natsdump
metric() { curl -s --max-time 2 "http://127.0.0.1:$1/metrics" | awk -v m="$2" '$1 == m { print $2 }'; }
check stack_mediad_metrics test -n "$(metric "$CC_MEDIA_METRICS_PORT" cc_media_calls)"
# the stack's mediad trusts Kamailio's address only
MEDIA_FROM=$(pick_port)
MT_PORT=$CC_MEDIA_SIP_PORT
expect_eq stack_mediad_refuses_not_kamailio "$(raw_invite "$MEDIA_FROM" "$(good_hdrs)")" 403
check stack_mediad_counts_refusal test \
	"$(curl -s "http://127.0.0.1:$CC_MEDIA_METRICS_PORT/metrics" | awk '/^cc_media_invites_refused_total\{reason="source"\}/ { print $2 }')" -ge 1

# a second mediad on the stack's PostgreSQL and NATS, with SIPp as its
# Kamailio, runs a tenant's flow: a menu whose '1' plays goodbye then
# hangs up; its agent node rings extension 1001 before that
new_tenant acme
T=${TID[acme]} D=${DOMAIN[acme]}
FLOW=$(uuid) VER=$(uuid)
BODY='{"start":"menu","nodes":{"menu":{"type":"menu","prompt":"please_hold","timeout_s":5,"retries":0,"options":{"1":"try"},"default":"bye"},"try":{"type":"agent","extension":"1001","timeout_s":5,"next":"bye"},"bye":{"type":"play","prompts":["goodbye"],"next":"end"},"end":{"type":"hangup"}}}'
sql "BEGIN; INSERT INTO cc.flows (id, tenant_id, name, version_id) VALUES ('$FLOW', '$T', 'main', '$VER');
     INSERT INTO cc.flow_versions (id, flow_id, tenant_id, body, prompts) VALUES ('$VER', '$FLOW', '$T', '$BODY', '{please_hold,goodbye}'); COMMIT;" > /dev/null
KAM2=$(pick_port) M2_SIP=$(pick_port) M2_METRICS=$(pick_port)
M2_RTP=$(pick_media_rtp)
(
	export CC_PG_URL; CC_PG_URL=$(printf 'postgresql://cc_mediad:%s@127.0.0.1:%s/cc' "$(cat "$CC_VAR/secrets/pg_cc_mediad")" "$CC_PG_PORT")
	export CC_NATS_URL=nats://127.0.0.1:$CC_NATS_PORT CC_NATS_CREDS=$CC_VAR/secrets/nats_mediad
	export CC_SPOOL_DIR=$W/spool2 CC_MEDIA_SIP_PORT=$M2_SIP CC_MEDIA_METRICS_PORT=$M2_METRICS
	export CC_MEDIA_RTP_MIN=$M2_RTP CC_MEDIA_RTP_MAX=$((M2_RTP + 199))
	export CC_MEDIA_PROXY=127.0.0.1:$KAM2 CC_PROMPTS_DIR=$BUILD/prompts
	mkdir -p "$CC_SPOOL_DIR"
	exec "$BUILD/media/mediad" > "$W/mediad2.out" 2> "$W/mediad2.err"
) &
M2_PID=$!
m2_up() { test -n "$(metric "$M2_METRICS" cc_media_calls 2>/dev/null)"; }
check mediad2_starts wait_for 10 m2_up
CALL=$(uuid)
(cd "$W" && timeout -s KILL 40 sipp "127.0.0.1:$M2_SIP" -p "$KAM2" -i 127.0.0.1 -mp "$(pick_port 4)" \
	-sf "$SIPP_DIR/media_ivr.xml" -m 1 -key cc_call "$CALL" -key cc_tenant "$T" -key cc_flow "$VER" \
	-key cc_domain "$D" -key pcap /usr/share/sip-tester/dtmf_2833_1.pcap \
	-trace_msg -message_file ivr.log -trace_err -error_file ivr.err -nostdin > ivr.out 2>&1)
check flow_call_hung_up_by_mediad test $? = 0
events() { "$DUMP" "$NATS" CC_EVENTS 2>/dev/null | grep "\"$CALL\""; }
check flow_media_ended_published wait_for 10 sh -c "'$DUMP' '$NATS' CC_EVENTS 2>/dev/null | grep '\"$CALL\"' | grep -q media_ended"
ev=$(events)
check flow_ivr_menu_digit grep -q '"node":"menu".*"digit":"1"' <<< "$ev"
# SIPp is this mediad's "Kamailio": the agent leg goes to it and is
# never answered, so the node's 5 s end it (no CANCEL on the wire: SIPp
# sent no provisional, and RFC 3261 9.1 allows none before one; Kamailio
# always sends 100)
echo "$ev" > "$W/events.out"
check flow_agent_failed_no_answer grep -q '"reason":"no answer"' <<< "$ev"
check agent_leg_invite_headers grep -q "^X-CC-Leg: agent" "$W/ivr.log"
check agent_leg_request_uri grep -q "^INVITE sip:1001@$D SIP/2.0" "$W/ivr.log"
check flow_media_ended_ivr_ended grep -q '"result":"ivr_ended"' <<< "$ev"
# a caller who hangs up during the menu's prompt: the call ends cleanly
CALL2=$(uuid)
(cd "$W" && timeout -s KILL 30 sipp "127.0.0.1:$M2_SIP" -p "$KAM2" -i 127.0.0.1 -mp "$(pick_port 4)" \
	-sf "$SIPP_DIR/media_call.xml" -m 1 -d 500 -key cc_call "$CALL2" -key cc_tenant "$T" \
	-key cc_flow "$VER" -key pts "8 101" -key pcap /usr/share/sip-tester/g711a.pcap \
	-key info_digit 9 -trace_msg -message_file abandon.log -trace_err -error_file abandon.err \
	-nostdin > abandon.out 2>&1)
check caller_hangs_up_during_prompt test $? = 0
abandoned() { "$DUMP" "$NATS" CC_EVENTS 2>/dev/null | grep "\"$CALL2\"" | grep -q '"result":"ivr_abandoned"'; }
check media_ended_ivr_abandoned wait_for 10 abandoned
check mediad2_has_no_calls_left test "$(metric "$M2_METRICS" cc_media_calls)" = 0
check mediad2_has_no_legs_left test "$(metric "$M2_METRICS" cc_media_legs)" = 0
# refusals that need the catalog: a flow version that does not exist (404);
# a second INVITE for a call mediad already has (482)
MT_PORT=$M2_SIP
hdrs_for() { printf 'X-CC-Call: %s\r\nX-CC-Tenant: %s\r\nX-CC-Flow: %s\r\nX-CC-Domain: %s\r\nX-CC-Caller: +8613800000001\r\n' "$1" "$T" "$2" "$D"; }
expect_eq refuses_unknown_flow_version "$(raw_invite "$KAM2" "$(hdrs_for "$(uuid)" "$(uuid)")" "8")" 404
expect_eq refuses_flow_of_another_tenant \
	"$(raw_invite "$KAM2" "$(hdrs_for "$(uuid)" "$VER" | sed "s/^X-CC-Tenant: .*/X-CC-Tenant: $(uuid)\r/")" "8")" 404
DUP=$(uuid)
expect_eq raw_flow_call_answered "$(raw_invite "$KAM2" "$(hdrs_for "$DUP" "$VER")" "8")" 200
expect_eq refuses_same_call_twice "$(raw_invite "$KAM2" "$(hdrs_for "$DUP" "$VER")" "8")" 482
check mediad2_counts_rfc4733 test "$(curl -s "http://127.0.0.1:$M2_METRICS/metrics" | awk '/^cc_media_dtmf_total\{source="rfc4733"\}/ { print $2 }')" -ge 1
check mediad2_mixer_p99_published test -n "$(metric "$M2_METRICS" cc_media_mixer_frame_seconds_p99)"
# SIGTERM with a call in its menu: the caller gets mediad's BYE
CALL3=$(uuid)
(cd "$W" && timeout -s KILL 30 sipp "127.0.0.1:$M2_SIP" -p "$KAM2" -i 127.0.0.1 -mp "$(pick_port 4)" \
	-sf "$SIPP_DIR/media_ivr.xml" -m 1 -key cc_call "$CALL3" -key cc_tenant "$T" -key cc_flow "$VER" \
	-key cc_domain "$D" -key pcap /usr/share/sip-tester/g711a.pcap \
	-trace_msg -message_file term.log -trace_err -error_file term.err -nostdin > term.out 2>&1) &
TERM_SIPP=$!
# (the raw call above is still up: it never sent its ACK)
m2_in_call() { test "$(metric "$M2_METRICS" cc_media_calls)" = 2; }
check mediad2_has_the_call wait_for 10 m2_in_call
kill -TERM "$M2_PID"; wait "$M2_PID"
check mediad2_sigterm_clean test $? = 0
wait "$TERM_SIPP"
check sigterm_byes_the_caller test $? = 0
check sigterm_logged_the_calls grep -q 'signal 15: ending 2 calls' "$W/mediad2.err"
M2_PID=""
if grep -qE 'LeakSanitizer|AddressSanitizer|runtime error' "$W/mediad2.err"; then
	fail mediad2_no_sanitizer_reports "$(grep -m3 -E 'Sanitizer|runtime error' "$W/mediad2.err")"
else
	ok mediad2_no_sanitizer_reports
fi
exit 0

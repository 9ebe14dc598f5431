#!/usr/bin/env bash
# Real softphones through the real platform: baresip (baresip-core) and
# Linphone (linphonec), each registered over UDP, TCP and TLS, take a
# carrier call (SIPp), hold it, and are hung up from either side. SIPp
# never shows what they do: Linphone uses the GRUU the registrar gives it
# as its dialog Contact, baresip advertises its listening port for TLS,
# and both send a Route header. Each call's record is checked.
#
# The twelve calls run at once (one phone, one trunk each), so the file
# takes one hold (CC_PHONES_HOLD_S, 40 s: past the 32 s at which a phone
# whose ACK was lost gives up) plus the stack's start.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
TOOLS=$TOP/tests/tools
HOLD=${CC_PHONES_HOLD_S:-40}
PHONES=()
stop_phones() {
	local p
	for p in "${PHONES[@]}"; do
		"$TOOLS/${CLIENT[$p]}_phone.sh" stop "$PHONE_DIR/$p" > /dev/null 2>&1
	done
}
trap 'stop_phones; stack_down' EXIT
stack_up || exit 1
# beside SIPp's logs: CC_TEST_SAVE keeps them of a failing run
PHONE_DIR=$SIPW/phones

declare -A CLIENT TRANSPORT EXT TRUNK_PORT MEDIA_PORT WHO
CARRIER=$(pick_port) PSTN=$(pick_port)
new_trunk carrier1 "$CARRIER" "$PSTN"
new_tenant acme

# one phone per (client, transport, side that hangs up)
ext=1100
for client in baresip linphone; do
	for tr in udp tcp tls; do
		for who in carrier phone; do
			p=$client-$tr-$who ext=$((ext + 1))
			PHONES+=("$p")
			CLIENT[$p]=$client TRANSPORT[$p]=$tr EXT[$p]=$ext WHO[$p]=$who
			TRUNK_PORT[$p]=$(pick_port) MEDIA_PORT[$p]=$(pick_port 4)
			new_agent acme "$ext" "acme-pass-$ext"
			new_number acme "+865711000$ext" "$ext"
			new_trunk "carrier-$p" "${TRUNK_PORT[$p]}"
		done
	done
done
# a caller: a baresip over TLS that dials the PSTN and a colleague, with
# its Route header on, and is reached in the dialog on its connection
CALLER=baresip-tls-caller
CLIENT[$CALLER]=baresip TRANSPORT[$CALLER]=tls EXT[$CALLER]=1199
PHONES+=("$CALLER")
new_agent acme 1199 acme-pass-1199
new_number acme +8657110001199 1199
# PSTN calls need a plan or the operator's flag, and a caller ID
pstn_enable acme +8657110001199
# ... and a colleague it calls (SIPp)
COLLEAGUE=$(pick_port)
new_agent acme 1198 acme-pass-1198

start_phone() { # start_phone NAME
	local p=$1 tr=${TRANSPORT[$1]} proxy=127.0.0.1:$CC_SIP_PORT
	[ "$tr" = tls ] && proxy=127.0.0.1:$CC_SIP_TLS_PORT
	case ${CLIENT[$p]} in
	baresip)
		# SIP on PORT (UDP, TCP) and PORT+1 (TLS), control, RTP
		"$TOOLS/baresip_phone.sh" start "$PHONE_DIR/$p" "$tr" "${EXT[$p]}" acme.cc.test \
			"acme-pass-${EXT[$p]}" "$proxy" "$(pick_port 2)" "$(pick_port)" "$(pick_port 4)" ;;
	linphone)
		"$TOOLS/linphone_phone.sh" start "$PHONE_DIR/$p" "$tr" "${EXT[$p]}" acme.cc.test \
			"acme-pass-${EXT[$p]}" "$proxy" "$(pick_port)" "$(pick_port 6)" ;;
	esac
}
# phone_log NAME: the file holding the SIP messages the phone saw
phone_log() { case ${CLIENT[$1]} in baresip) echo "$PHONE_DIR/$1/out" ;; linphone) echo "$PHONE_DIR/$1/log" ;; esac; }
# the platform has a binding for the phone's extension
registered() {
	CC_RPC_PORT=$CC_RPC_PORT "$TOP/ops/kamrpc.sh" ul.lookup "[\"location\",\"${EXT[$1]}@acme.cc.test\"]" |
		grep -q '"Address"'
}
# the phone says the call is up
in_call() {
	case ${CLIENT[$1]} in
	baresip) grep -aq 'Call established' "$PHONE_DIR/$1/out" ;;
	linphone) grep -aq 'connected\.' "$PHONE_DIR/$1/out" ;;
	esac
}
hang_up() {
	case ${CLIENT[$1]} in
	baresip) "$TOOLS/baresip_phone.sh" cmd "$PHONE_DIR/$1" hangup > /dev/null ;;
	linphone) "$TOOLS/linphone_phone.sh" cmd "$PHONE_DIR/$1" terminate ;;
	esac
}
# got REQUEST NAME: the phone's log shows REQUEST (INVITE, ACK, BYE) coming
# from the platform: its top Via is the platform's (one the phone sends
# has the phone's own)
got() {
	awk -v req="^$1 sip:" -v via="127\\.0\\.0\\.1:($CC_SIP_PORT|$CC_SIP_TLS_PORT)[;> \r]" '
		$0 ~ req { want = 1; next }
		want && /^Via:/ { if ($0 ~ via) found = 1; want = 0 }
		END { exit !found }' "$(phone_log "$2")"
}
# invite_has_route LOG: the INVITE a SIPp peer received had a Route header
invite_has_route() {
	awk '/^INVITE sip:/ { in_invite = 1 } in_invite && /^\r?$/ { in_invite = 0 }
		in_invite && tolower($0) ~ /^route:/ { found = 1 } END { exit !found }' "$1"
}
# every trunk is in Kamailio's address table (tenantd reloads it at most
# every 5.2 s: a call sooner gets 403 until then)
trunks_known() {
	local dump p; dump=$(CC_RPC_PORT=$CC_RPC_PORT "$TOP/ops/kamrpc.sh" permissions.addressDump)
	for p in "${PHONES[@]}"; do
		[ -z "${TRUNK_PORT[$p]:-}" ] || grep -q "\"port\":[[:space:]]*${TRUNK_PORT[$p]}," <<< "$dump" || return 1
	done
}

for p in "${PHONES[@]}"; do start_phone "$p"; done
for p in "${PHONES[@]}"; do
	check "register_$p" wait_for 15 registered "$p" ||
		grep -a -E 'error|warning|failed|SIP/2.0 [3-6]' "$(phone_log "$p")" | grep -v mediastreamer | tail -n 8 | sed 's/^/#   /'
done
check trunks_loaded wait_for 15 trunks_known
check register_colleague sip_register 1198 acme.cc.test acme-pass-1198 "$COLLEAGUE"

# ------------------------------------------------------------------ calls
for s in carrier_hold carrier_hold_phone_bye; do
	early=$((HOLD * 1000))
	# the phone is told to hang up HOLD s after it answered: a BYE more
	# than 3 s before that is its own
	[ "$s" = carrier_hold_phone_bye ] && early=$(((HOLD - 3) * 1000))
	sed "s/@HOLD_MS@/$early/g" "$SIPP_DIR/$s.xml.in" > "$SIPW/$s.xml"
done
# call NAME: the carrier calls the phone's number from the phone's own
# trunk, holds, and one side hangs up; SIPp's exit code into NAME.rc
call() {
	local p=$1 sf=carrier_hold
	[ "${WHO[$p]}" = phone ] && sf=carrier_hold_phone_bye
	(cd "$SIPW" && exec timeout -s KILL $((HOLD + 50)) sipp 127.0.0.1:"$CC_SIP_PORT" -i 127.0.0.1 \
		-mp "${MEDIA_PORT[$p]}" -sf "$SIPW/$sf.xml" -s "+865711000${EXT[$p]}" -set from +8613800000001 \
		-p "${TRUNK_PORT[$p]}" -default_behaviors all,-abortunexp -m 1 -timeout $((HOLD + 40)) \
		-timeout_error -trace_msg -message_file "$p.log" -trace_err -error_file "$p.err" -nostdin \
		> "$p.out" 2>&1) &
	local sipp=$!
	if [ "${WHO[$p]}" = phone ]; then
		wait_for 15 in_call "$p" && sleep "$HOLD" && hang_up "$p"
	fi
	wait "$sipp"
	echo $? > "$SIPW/$p.rc"
}
t0=$SECONDS
pids=""
for p in "${PHONES[@]}"; do
	[ "$p" = "$CALLER" ] && continue
	call "$p" &
	pids="$pids $!"
done

# meanwhile the caller dials the PSTN: its INVITE carries its outbound
# proxy as Route header, which must not reach the carrier; the carrier
# hangs up after 2 s, and its BYE must reach the caller on its TLS
# connection (its Contact names its listening port), and the phone's 200
# OK must come back to the carrier in the carrier's terms (the Call-ID it
# knows: topology hiding masks it towards carriers)
(cd "$SIPW" && exec timeout -s KILL 30 sipp -i 127.0.0.1 -sf "$SIPP_DIR/pstn_uas_bye.xml" -p "$PSTN" -m 1 \
	-trace_msg -message_file pstn.log -trace_err -error_file pstn.err -nostdin -timeout 25 > pstn.out 2>&1) &
pstn=$!
sleep 0.3
"$TOOLS/baresip_phone.sh" cmd "$PHONE_DIR/$CALLER" dial "sip:+8613812345678@acme.cc.test" > /dev/null
wait "$pstn"
expect_eq pstn_hung_up_caller $? 0
check caller_reached_pstn grep -q '^INVITE sip:+8613812345678@' "$SIPW/pstn.log"
check phone_route_not_passed_to_carrier not invite_has_route "$SIPW/pstn.log"
check caller_got_pstn_bye got BYE "$CALLER"
# and its colleague by extension: nor to another agent's phone
sip_agent "$COLLEAGUE"; colleague=$AGENT_PID
"$TOOLS/baresip_phone.sh" cmd "$PHONE_DIR/$CALLER" dial "sip:1198@acme.cc.test" > /dev/null
wait_for 15 got_invite "$COLLEAGUE" && sleep 2
hang_up "$CALLER"
wait "$colleague"
check caller_reached_colleague got_invite "$COLLEAGUE"
check phone_route_not_passed_to_agent not invite_has_route "$SIPW/agent-$COLLEAGUE.log"

wait $pids
echo "# the calls took $((SECONDS - t0)) s (hold $HOLD s)"

# ---------------------------------------------------------------- checks
record() { # record NAME: the call record of the phone's number, into RESP
	api GET "/v1/tenants/acme/calls?limit=100" "${KEY[acme]}"
	jq -e --arg n "+865711000${EXT[$1]}" '[.items[] | select(.number == $n and .direction == "inbound")][0] // empty' "$RESP" > "$RESP.one"
}
ended() { record "$1" && [ "$(jq -r .ended_at "$RESP.one")" != null ]; }
for p in "${PHONES[@]}"; do
	[ "$p" = "$CALLER" ] && continue
	check "${p}_rang" got INVITE "$p"
	check "${p}_answered" in_call "$p"
	# the carrier's ACK went through the platform to the phone
	check "${p}_got_ack" got ACK "$p"
	# SIPp's scenario: held for the whole hold, then the BYE from the
	# hanging-up side reached the other and was answered
	expect_eq "${p}_held_then_hung_up_by_${WHO[$p]}" "$(cat "$SIPW/$p.rc")" 0
	[ "${WHO[$p]}" = carrier ] && check "${p}_got_bye" got BYE "$p"
	if wait_for 10 ended "$p"; then
		r=$(jq -r '"\(.result) \(.talk_seconds)"' "$RESP.one")
		talk=${r#* }
		expect_eq "${p}_record_answered" "${r% *}" answered
		check "${p}_talk_seconds" [ "$talk" -ge $((HOLD - 2)) -a "$talk" -le $((HOLD + 4)) ]
	else
		fail "${p}_record_ended" "no ended record: $(cat "$RESP.one" 2>/dev/null)"
	fi
done

#!/usr/bin/env bash
# SIP through the real Kamailio, rtpengine, routingd, NATS and billingd,
# with SIPp as carrier and agent phones.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
trap stack_down EXIT
stack_up || exit 1

CARRIER=$(pick_port) PSTN=$(pick_port) STRANGER=$(pick_port)
A1001=$(pick_port) A1002=$(pick_port) B1001=$(pick_port) A1009=$(pick_port) A1003=$(pick_port)
new_trunk carrier1 "$CARRIER" "$PSTN"
new_tenant acme; new_tenant beta
new_agent acme 1001 acme-pass-1001; new_agent acme 1002 acme-pass-1002
new_agent acme 1009 acme-pass-1009
new_agent acme 1003 acme-pass-1003
new_agent acme 1005 acme-pass-1005; new_agent acme 1006 acme-pass-1006
new_agent beta 1001 beta-pass-1001
new_agent beta 1005 beta-pass-1005; new_agent beta 2001 beta-pass-2001
new_number acme +8657112345678 1001
new_number acme +8657112345600 1009
new_number acme +8657112345603 1003
new_number beta +8610000000001 1001
# PSTN calls need a plan or the operator's flag, and a chosen caller ID
pstn_enable acme +8657112345678
api POST /v1/tenants/acme/blocklist "${KEY[acme]}" '{"e164":"+8613900000666"}'
api POST /v1/tenants/acme/blocklist "${KEY[acme]}" '{"prefix":"86150"}'

# --- registration
check register_agent sip_register 1001 acme.cc.test acme-pass-1001 "$A1001"
check register_agent_2 sip_register 1002 acme.cc.test acme-pass-1002 "$A1002"
check register_same_ext_other_tenant sip_register 1001 beta.cc.test beta-pass-1001 "$B1001"
# (failures lock out that user from that address for 5 min: each case
# uses a user no later test needs)
check register_wrong_password_then_403 sip_register_refused 1009 acme.cc.test wrong-password "$(pick_port)"
check register_same_ext_other_tenants_password sip_register_refused 1005 acme.cc.test beta-pass-1005 "$(pick_port)"
check register_other_tenants_user_refused sip_register_refused 2001 acme.cc.test beta-pass-2001 "$(pick_port)"
check register_unknown_domain_403 sip_register_forbidden 1001 nobody.cc.test "$(pick_port)"
q=$(PGPASSWORD=$(cat "$CC_VAR/secrets/pg_admin") psql -h 127.0.0.1 -p "$CC_PG_PORT" -U cc_admin -d cc -tAc \
	"SELECT count(*) FROM kamailio.location" 2>/dev/null)
# usrloc writes back every 10 s (db_mode 2): check Kamailio's memory instead
ul=$(CC_RPC_PORT=$CC_RPC_PORT "$TOP/ops/kamrpc.sh" ul.lookup '["location","1001@acme.cc.test"]')
check usrloc_has_contact grep -q "127.0.0.1:$A1001" <<< "$ul"

# --- a carrier call rings the agent, is answered, and its record appears
sip_agent "$A1001"; agent=$AGENT_PID
sip_agent "$B1001" 1; beta_agent=$AGENT_PID
t0=$(date +%s)
check carrier_call_answered sip_call "$CARRIER" +8657112345678 +8613800000001 1000
wait "$agent"
check agent_rang got_invite "$A1001"
check sdp_anchored_by_rtpengine grep -Eq "^m=audio (4|5)[0-9]{4} " "$SIPW/agent-$A1001.log"
check carrier_without_plus_routes true
wait_for 10 calls_are acme 1
api GET /v1/tenants/acme/calls "${KEY[acme]}"
check call_record_shape [ "$(jr '.items[0].result')" = answered -a "$(jr '.items[0].direction')" = inbound \
	-a "$(jr '.items[0].from')" = +8613800000001 -a "$(jr '.items[0].number')" = +8657112345678 \
	-a "$(jr '.items[0].agent')" = 1001 -a "$(jr '.items[0].talk_seconds')" -ge 1 \
	-a "$(jr '.items[0].ended_at')" != null ]
check beta_agent_not_rung_by_acme_number not got_invite "$B1001"

# --- the same extension in another tenant rings only there
check carrier_call_beta sip_call "$CARRIER" 8610000000001 +8613800000002 300
wait "$beta_agent"
check beta_agent_rang got_invite "$B1001"

# --- refusals
check unknown_number_404 sip_call_refused 404 "$CARRIER" +8699999999999 +8613800000001
check blocklisted_caller_603 sip_call_refused 603 "$CARRIER" +8657112345678 +8613900000666
check blocklisted_prefix_603 sip_call_refused 603 "$CARRIER" +8657112345678 +8615000000001
check agent_not_registered_480 sip_call_refused 480 "$CARRIER" +8657112345600 +8613800000001
check stranger_foreign_domain_403 sip_call_refused 403 "$STRANGER" +8657112345678 +8613800000001
wait_for 10 calls_are acme 5
api GET /v1/tenants/acme/calls "${KEY[acme]}"
check rejected_records [ "$(jr '[.items[] | select(.result == "rejected") | .sip_code] | sort | join(",")')" = 480,603,603 ]

# --- an agent calls a colleague by extension
sip_agent "$A1002"; colleague=$AGENT_PID
check agent_calls_extension sip_agent_call 1001 acme.cc.test acme-pass-1001 1002 "$(pick_port)"
wait "$colleague"
check colleague_rang got_invite "$A1002"
# beta's 1001 dialling 1002 must not reach acme's 1002
check other_tenant_extension_404 sip_agent_call_refused 404 1001 beta.cc.test beta-pass-1001 1002 "$(pick_port)"
check agent_wrong_password_refused sip_agent_call_refused 407 1006 acme.cc.test not-the-password 1002 "$(pick_port)"

# --- an agent calls out through the carrier with the tenant's number as caller ID
(cd "$SIPW" && exec sipp -i 127.0.0.1 -sf "$SIPP_DIR/pstn_uas.xml" -p "$PSTN" -m 1 -trace_msg \
	-message_file pstn.log -nostdin -timeout 20 > pstn.out 2>&1) &
pstn=$!
sleep 0.3
check agent_calls_pstn sip_agent_call 1001 acme.cc.test acme-pass-1001 +8613812345678 "$(pick_port)"
wait "$pstn"
check pstn_got_invite grep -q '^INVITE sip:+8613812345678@127.0.0.1' "$SIPW/pstn.log"
check pstn_caller_id grep -Eqi '^From:.*sip:\+8657112345678@' "$SIPW/pstn.log"
wait_for 10 calls_are acme 7
api GET /v1/tenants/acme/calls "${KEY[acme]}"
check outbound_record [ "$(jr '[.items[] | select(.direction == "outbound")][0].to')" = +8613812345678 ]

# --- tenant isolation of records
api GET /v1/tenants/beta/calls "${KEY[beta]}"
check beta_sees_only_its_calls [ "$(jr '.items | length')" = 2 ]
api GET /v1/tenants/acme/calls "${KEY[beta]}"
expect_eq calls_other_tenant_404 "$HTTP" 404

# --- a carrier's INVITE and its retransmission arriving together are one
# call: one decision, one INVITE to the agent, one record. Two Kamailio
# workers take the two copies at once; before the transaction was created
# up front, both were decided: at 100 calls/s about one call in ten got a
# phantom second record, and some calls rang the agent twice.
TWICE=200 before=$(calls_count acme)
check register_agent_1003 sip_register 1003 acme.cc.test acme-pass-1003 "$A1003"
sip_agent "$A1003" "$TWICE"; twice_agent=$AGENT_PID
check retransmitted_invites_answered sipp_run "twice" -sf "$SIPP_DIR/carrier_call_twice.xml" -s +8657112345603 \
	-set from +8613800000003 -p "$CARRIER" -default_behaviors all,-abortunexp \
	-m "$TWICE" -r 100 -d 200 -timeout 30 -timeout_error
wait "$twice_agent"
expect_eq retransmitted_invite_rings_once \
	"$(grep '^INVITE ' "$SIPW/agent-$A1003.log" | wc -l)/$(grep -i '^Call-ID:' "$SIPW/agent-$A1003.log" | sort -u | wc -l)" \
	"$TWICE/$TWICE"
check retransmitted_invite_one_record wait_for 10 calls_are acme $((before + TWICE))
sleep 1
expect_eq retransmitted_invite_no_phantom_record "$(calls_count acme)" $((before + TWICE))

# --- a phone on SIP over TLS registers with digest authentication, and a
# carrier call reaches it over that TLS connection (Debian's SIPp has no
# TLS: tests/tools/tls_phone.sh speaks SIP through openssl s_client)
new_agent acme 1007 acme-pass-1007
new_number acme +8657112345607 1007
"$TOP/tests/tools/tls_phone.sh" 127.0.0.1 "$CC_SIP_TLS_PORT" 1007 acme.cc.test acme-pass-1007 486 \
	"$SIPW/tls-1007.log" 20 > "$SIPW/tls-1007.out" 2> "$SIPW/tls-1007.err" &
tls_phone=$!
check tls_register wait_for 10 grep -q registered "$SIPW/tls-1007.out"
ul=$(CC_RPC_PORT=$CC_RPC_PORT "$TOP/ops/kamrpc.sh" ul.lookup '["location","1007@acme.cc.test"]')
check tls_contact_on_tls_socket grep -q "tls:127.0.0.1:$CC_SIP_TLS_PORT" <<< "$ul"
check tls_call_reaches_phone sip_call_refused 486 "$CARRIER" +8657112345607 +8613800000007
wait "$tls_phone"; tls_rc=$?
expect_eq tls_phone_took_invite_and_ack "$tls_rc" 0
[ "$tls_rc" = 0 ] || sed 's/^/#   /' "$SIPW/tls-1007.err"
check tls_invite_came_over_tls grep -q '^Via: SIP/2.0/TLS 127.0.0.1:'"$CC_SIP_TLS_PORT" "$SIPW/tls-1007.log"
tls_record() {
	api GET "/v1/tenants/acme/calls?limit=50" "${KEY[acme]}"
	[ "$(jr '[.items[] | select(.number == "+8657112345607")][0].result')" = busy ]
}
check tls_call_record_busy wait_for 10 tls_record

# --- routingd's metrics count the decisions of this suite and time them
metrics=$(curl -s "http://127.0.0.1:$CC_ROUTING_METRICS_PORT/metrics")
metric() { awk -v n="$1" '$1 == n { print $2 }' <<< "$metrics"; }
check metrics_decisions_counted [ "$(metric cc_routing_decisions_total)" -ge 8 ]
check metrics_histogram_complete [ "$(metric 'cc_routing_decision_seconds_bucket{le="+Inf"}')" = "$(metric cc_routing_decisions_total)" ]
check metrics_p99_positive awk -v v="$(metric cc_routing_decision_seconds_p99)" 'BEGIN { exit !(v > 0 && v < 1) }'
check metrics_model_tenants [ "$(metric cc_routing_model_tenants)" = 2 ]
# routingd decides at real-time priority (the stack's CC_ROUTING_RT_PRIO=10),
# its main thread only: NATS's threads and the spool replayer stay normal.
# Where the kernel refuses (no CAP_SYS_NICE, or a cgroup without real-time
# runtime) it says so and decides at the normal priority.
rt_pid=$(cat "$CC_VAR/run/routingd.pid")
rt_threads=$(ps -L -o tid=,cls=,rtprio= -p "$rt_pid")
if grep -q "cannot decide at real-time priority 10" "$CC_VAR/log/routingd.log"; then
	echo "# routingd may not use real-time priority here: checking its fallback"
	expect_eq routingd_decides_at_rt_priority "$(awk -v p="$rt_pid" '$1 == p { print $2 }' <<< "$rt_threads")" "TS"
else
	expect_eq routingd_decides_at_rt_priority "$(awk -v p="$rt_pid" '$1 == p { print $2, $3 }' <<< "$rt_threads")" "FF 10"
fi
expect_eq routingd_other_threads_normal "$(awk -v p="$rt_pid" '$1 != p && $2 != "TS"' <<< "$rt_threads")" ""

#!/usr/bin/env bash
# routingd's side of the ACD's subjects (docs/ACD.md) through the real
# stack: who may ask what (NATS users' grants), what routingd refuses
# (requests without an id, calls of another tenant, retried requests
# applied once), the journal stream CC_ACD, a number whose target is a
# queue reaching mediad as X-CC-Queue and mediad asking routingd, and
# Kamailio's registration reports reaching the ACD.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
trap stack_down EXIT
stack_up || exit 1
BUILD=${CC_BUILD:-$TOP/build}
REQ=$BUILD/tests/natsreq
as() { local u=$1; shift; CC_NATS_CREDS=$CC_VAR/secrets/nats_$u "$REQ" "$NATS" "$@" 2>> "$SIPW/natsreq.err"; }
field() { jq -r "$1" <<< "$ANS"; }

acme_with_agent
new_tenant beta
new_agent beta 1001 beta-pass-1001
A=${TID[acme]} B=${TID[beta]}

# ------------------------------------------------------------ the journal
jsz() { curl -s --max-time 2 "http://127.0.0.1:$CC_NATS_HTTP_PORT/jsz?streams=true&config=true"; }
acd_stream() { jsz | jq -e '[.account_details[]?.stream_detail[]? | select(.name == "CC_ACD")
	| select(.config.subjects == ["cc.acd.>"] and .config.max_msgs_per_subject == 1)] | length == 1' > /dev/null; }
check journal_stream_made wait_for 10 acd_stream

# ------------------------------------------------------------ grants
# only mediad asks the queue questions, only tenantd the agents' ones
ENQ="{\"id\":\"e-1\",\"instance\":\"11111111-0000-4000-8000-000000000001\",\"call\":\"$(uuid)\",\"tenant\":\"$A\",\"queue\":\"repair\",\"caller\":\"+8613800000001\",\"arrived\":\"2026-12-02T05:00:00Z\"}"
check tools_cannot_enqueue not as tools cc.rpc.route.acd.enqueue "$ENQ" 1000
check tenantd_cannot_enqueue not as tenantd cc.rpc.route.acd.enqueue "$ENQ" 1000
AGQ="{\"id\":\"a-1\",\"tenant\":\"$A\",\"extension\":\"1001\"}"
check mediad_cannot_set_agents not as mediad cc.rpc.route.acd.agent "$AGQ" 1000
check tools_cannot_set_agents not as tools cc.rpc.route.acd.agent "$AGQ" 1000
check tools_cannot_journal not as tools '$JS.API.STREAM.INFO.CC_ACD' '' 1000

# ------------------------------------------------------------ refusals
ANS=$(as mediad cc.rpc.route.acd.enqueue '{"instance":"x"}')
check enqueue_without_id_refused [ "$(field .ok) $(field .why)" = "false a request needs an id" ]
ANS=$(as mediad cc.rpc.route.acd.enqueue "{\"id\":\"e-2\",\"instance\":\"x.y\",\"call\":\"$(uuid)\",\"tenant\":\"$A\",\"queue\":\"repair\"}")
check enqueue_bad_instance_refused [ "$(field .ok)" = false ]
ANS=$(as mediad cc.rpc.route.acd.enqueue "{\"id\":\"e-3\",\"instance\":\"11111111-0000-4000-8000-000000000001\",\"call\":\"$(uuid)\",\"tenant\":\"cccccccc-0000-4000-8000-00000000000c\",\"queue\":\"repair\"}")
check enqueue_unknown_tenant_refused [ "$(field .ok)" = false ]
ANS=$(as mediad cc.rpc.route.acd.enqueue "{\"id\":\"e-4\",\"instance\":\"11111111-0000-4000-8000-000000000001\",\"call\":\"$(uuid)\",\"tenant\":\"$A\",\"queue\":\"repair\",\"skills\":{\"repair\":7}}")
check enqueue_skill_level_7_refused [ "$(field .ok)" = false ]
# a call routingd never sent to a mediad is no caller (issue 14: phantom
# callers), whatever the queue
u0=$(routing_metric cc_routing_acd_requests_untracked_total)
ANS=$(as mediad cc.rpc.route.acd.enqueue "{\"id\":\"e-5\",\"instance\":\"11111111-0000-4000-8000-000000000001\",\"call\":\"$(uuid)\",\"tenant\":\"$A\",\"queue\":\"repair\"}")
check enqueue_invented_call_refused [ "$(field .ok)" = false ]
expect_eq invented_call_counted "$(routing_metric cc_routing_acd_requests_untracked_total)" "$((u0 + 1))"
ANS=$(as mediad cc.rpc.route.acd.callback "{\"id\":\"c-1\",\"call\":\"$(uuid)\",\"tenant\":\"$A\",\"number\":\"+1900; DROP\"}")
check callback_of_invented_call_refused [ "$(field .ok)" = false ]
ANS=$(as mediad cc.rpc.route.acd.result "{\"id\":\"r-1\",\"call\":\"$(uuid)\",\"tenant\":\"$A\",\"result\":\"exploded\"}")
check result_unknown_kind_refused [ "$(field .ok)" = false ]
# a retry (the same id) is answered from the cache, applied once
before=$(routing_metric cc_routing_acd_requests_repeated_total)
ANS=$(as mediad cc.rpc.route.acd.enqueue "{\"id\":\"e-5\",\"instance\":\"11111111-0000-4000-8000-000000000001\",\"call\":\"$(uuid)\",\"tenant\":\"$A\",\"queue\":\"other\"}")
check retry_same_answer [ "$(field .ok) $(field .why)" = "false malformed, or not a call of this media server and tenant" ]
expect_eq retry_counted "$(routing_metric cc_routing_acd_requests_repeated_total)" "$((before + 1))"
# tenantd's questions: an unknown agent 404, a state one may not ask 422,
# another tenant's queue 404
ANS=$(as tenantd cc.rpc.route.acd.agent "{\"id\":\"a-2\",\"tenant\":\"$A\",\"extension\":\"9999\"}")
check agent_unknown_404 [ "$(field .ok) $(field .status)" = "false 404" ]
ANS=$(as tenantd cc.rpc.route.acd.agent "{\"id\":\"a-3\",\"tenant\":\"$A\",\"extension\":\"1001\",\"state\":\"on_call\"}")
check agent_state_on_call_422 [ "$(field .ok) $(field .status)" = "false 422" ]
ANS=$(as tenantd cc.rpc.route.acd.live "{\"id\":\"l-1\",\"tenant\":\"$A\",\"queue\":\"nosuch\"}")
check live_unknown_queue_404 [ "$(field .ok) $(field .status)" = "false 404" ]
ANS=$(as tenantd cc.rpc.route.acd.call "{\"id\":\"k-1\",\"tenant\":\"$B\",\"call\":\"$(uuid)\",\"op\":\"hold\"}")
check hold_unknown_call_404 [ "$(field .ok) $(field .status)" = "false 404" ]

# ------------------------------------------------- registrations reach the ACD
regs() { routing_metric cc_routing_acd_registrations_total; }
r0=$(regs)
R1=$(pick_port)
check register_1001 sip_register 1001 acme.cc.test acme-pass-1001 "$R1"
regs_past() { [ "$(regs)" -gt "$1" ]; }
check registration_reached_acd wait_for 10 regs_past "$r0"
r1=$(regs)
sipp_run "unreg-1001" -sf "$SIPP_DIR/register.xml" -set user 1001 -set domain acme.cc.test \
	-set expires 0 -au 1001 -ap acme-pass-1001 -p "$R1" -m 1 -timeout 5 -timeout_error
check unregistration_reached_acd wait_for 10 regs_past "$r1"
check kamailio_logged_no_error not grep -q 'EV_REG\|usrloc:contact-expired.*error' "$CC_VAR/log/kamailio.log"

# ------------------------------------ a queue number: to mediad as X-CC-Queue
if [ -x "$BUILD/media/mediad" ]; then
	Q=$(uuid)
	sql "INSERT INTO cc.queues (id, tenant_id, name) VALUES ('$Q', '$A', 'repair')" > /dev/null
	assign_number acme +8657100000009
	sql "UPDATE cc.numbers SET tenant_id = '$A', target_type = 'queue', target_queue = '$Q' WHERE e164 = '+8657100000009'" > /dev/null
	# the model learns the number from the tenant's notice (any API write)
	new_agent acme 1002 acme-pass-1002
	enq() { [ "$(routing_metric cc_routing_acd_requests_total)" -gt "$1" ]; }
	e0=$(routing_metric cc_routing_acd_requests_total)
	mediad_up() { media_alive 1; }
	check mediad_alive wait_for 20 mediad_up
	queue_number_routed() {
		sip_call "$CARRIER" +8657100000009 +8613800000001 2000 > /dev/null 2>&1
		enq "$e0"
	}
	check queue_number_reaches_mediad_and_routingd wait_for 45 queue_number_routed
	check routed_event_names_queue grep -q "cc.call.$A.routed .*\"queue\":\"repair\"" <("$BUILD/tests/natsdump" "$NATS" CC_EVENTS 2>/dev/null)
fi

exit $FAILED

#!/usr/bin/env bash
# routingd's loop never waits for a model reload: the model is built on the
# loader thread (routing/loader.c) while calls keep being decided from the
# last one. A reload stuck in PostgreSQL (a lock on cc.numbers) used to
# hold every call of every tenant: 503 after 1.5 s.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
trap stack_down EXIT
stack_up || exit 1

acme_with_agent

metric() {
	curl -s "http://127.0.0.1:$CC_ROUTING_METRICS_PORT/metrics" | awk -v n="$1" '$1 == n { print $2 }'
}
loads_before=$(metric cc_routing_model_loads_total)

# a second agent routingd has not loaded yet (straight into the table: no
# notice). Agent and tenant writes of the API now wait for a lock on
# cc.numbers themselves (their caller_id is a foreign key to it), so the
# reload is asked for by a write that does not touch it: a block-list entry.
sql "INSERT INTO cc.agents (id, tenant_id, extension, name) VALUES ('$(uuid)', '${TID[acme]}', '1002', 'Agent 1002')" > /dev/null
# hold cc.numbers for 8 s, then ask for a reload (a tenant's write)
PGPASSWORD=$(cat "$CC_VAR/secrets/pg_admin") psql -h 127.0.0.1 -p "$CC_PG_PORT" -U cc_admin -d cc -q \
	-c "BEGIN; LOCK TABLE cc.numbers IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(8); COMMIT;" > /dev/null 2>&1 &
locker=$!
sleep 0.5
api POST /v1/tenants/acme/blocklist "${KEY[acme]}" '{"prefix":"86199"}'
locked_reload() { [ "$(sql "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'cc.numbers'::regclass")" -ge 1 ]; }
check reload_waits_on_the_lock wait_for 5 locked_reload

# calls placed while the reload waits are decided at once from the last model
sip_agent "$A1001" 3; agent=$AGENT_PID
t0=$(date +%s%N)
check call_during_stuck_reload_answered sipp_run stuck -sf "$SIPP_DIR/carrier_call.xml" -s +8657112345678 \
	-set from +8613800000001 -p "$CARRIER" -default_behaviors all,-abortunexp -m 3 -r 3 -d 200 \
	-timeout 10 -timeout_error
t1=$(date +%s%N)
check calls_did_not_wait_for_the_reload [ $(( (t1 - t0) / 1000000 )) -lt 4000 ]
p99=$(metric cc_routing_decision_seconds_p99)
check decision_p99_under_10ms_during_reload awk -v v="$p99" 'BEGIN { exit !(v > 0 && v < 0.01) }'
wait "$agent" 2>/dev/null
wait "$locker"
# the reload went through once the lock was gone, and the new agent is in
reloaded() { [ "$(metric cc_routing_model_loads_total)" -gt "$loads_before" ]; }
check reload_completes_after_the_lock wait_for 20 reloaded
check new_agent_in_model [ "$(metric cc_routing_model_agents)" = 2 ]

# ------------------------------------------------ one tenant's notice
# cc.cfg.<tenant> reads that tenant's rows again (a patch of the live
# model, routing/model.c rt_model_patch): what the model holds must match
# the database after every step, for the tenant that changed and for the
# ones that did not.
in_model() { # in_model: the model's numbers and agents are the database's
	local n a
	n=$(sql "SELECT count(*) FROM cc.numbers n JOIN cc.tenants t ON t.id = n.tenant_id WHERE n.target_extension IS NOT NULL")
	a=$(sql "SELECT count(*) FROM cc.agents")
	[ "$(metric cc_routing_model_numbers)" = "$n" -a "$(metric cc_routing_model_agents)" = "$a" ]
}
patched_since() { [ "$(metric cc_routing_model_patches_total)" -gt "$1" ]; }
p0=$(metric cc_routing_model_patches_total)
new_tenant beta
new_agent beta 2001 beta-pass-2001
new_number beta +4930123456789 2001
check tenant_notice_patches_the_model wait_for 10 patched_since "$p0"
check patched_model_matches_database wait_for 10 in_model
check patch_took_under_a_second awk -v v="$(metric cc_routing_model_patch_seconds)" 'BEGIN { exit !(v > 0 && v < 1) }'

# the number moves to acme (two notices: beta's and acme's) and acme
# points it at its agent: the carrier's call rings acme's 1001
api PATCH /v1/numbers/%2B4930123456789 "$OPERATOR" '{"tenant":"acme"}'
api POST /v1/tenants/acme/numbers "${KEY[acme]}" '{"e164":"+4930123456789","target":{"type":"agent","extension":"1001"}}'
check moved_number_targeted [ "$HTTP" = 201 ]
check moved_number_in_model wait_for 10 in_model
sip_agent "$A1001" 1; agent=$AGENT_PID
check moved_number_rings_new_owner sipp_run moved -sf "$SIPP_DIR/carrier_call.xml" -s +4930123456789 \
	-set from +8613800000002 -p "$CARRIER" -default_behaviors all,-abortunexp -m 1 -d 200 \
	-timeout 10 -timeout_error
wait "$agent" 2>/dev/null
moved_record() { [ "$(sql "SELECT t.slug FROM cc.calls c JOIN cc.tenants t ON t.id = c.tenant_id WHERE c.to_number = '+4930123456789' AND c.answered_at IS NOT NULL")" = acme ]; }
check moved_number_recorded_for_new_owner wait_for 10 moved_record

# a disabled tenant's numbers stop routing at its notice; acme's do not
new_number beta +4930123456790 2001
check second_beta_number_in_model wait_for 10 in_model
sed "s/@CODE@/404/g" "$SIPP_DIR/carrier_refused.xml.in" > "$SIPW/gone.xml"
p1=$(metric cc_routing_model_patches_total)
api DELETE /v1/tenants/beta "$OPERATOR"
check disabled_tenant_patched wait_for 10 patched_since "$p1"
check disabled_tenant_number_refused sipp_run gone -sf "$SIPW/gone.xml" -s +4930123456790 \
	-set from +8613800000003 -p "$CARRIER" -m 1 -timeout 10 -timeout_error
sip_agent "$A1001" 1; agent=$AGENT_PID
check other_tenant_still_routes sip_call "$CARRIER" +8657112345678 +8613800000004 200
wait "$agent" 2>/dev/null
# a platform notice (a new trunk) is a full build, and it agrees with the
# patched model
full() { echo $(( $(metric cc_routing_model_loads_total) - $(metric cc_routing_model_patches_total) )); }
f0=$(full)
new_trunk carrier2 "$(pick_port)"
full_since() { [ "$(full)" -gt "$1" ]; }
check platform_notice_full_reload wait_for 10 full_since "$f0"
check full_reload_agrees_with_patches in_model

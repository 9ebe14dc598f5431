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

#!/usr/bin/env bash
# At the benchmarked scale (a million numbers, seconds per model load),
# calls keep being decided while tenants write every second and every
# write asks routingd for a reload: 20 calls/s for 60 s, none may fail.
# Before the loader thread each load blocked the deciding loop for its
# whole duration (a multi-second 503 window for every tenant).
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
trap stack_down EXIT
stack_up || exit 1
: "${RELOAD_TENANTS:=1000}" "${RELOAD_PER_TENANT:=1000}" "${RELOAD_CALLS:=1200}" "${RELOAD_RATE:=20}"

CARRIER=$(pick_port) A1001=$(pick_port)
new_trunk carrier1 "$CARRIER"
new_tenant acme; new_tenant beta
new_agent acme 1001 acme-pass-1001
new_number acme +8657112345678 1001
check register_agent sip_register 1001 acme.cc.test acme-pass-1001 "$A1001"

# the bulk: RELOAD_TENANTS x RELOAD_PER_TENANT numbers straight into the database
bulk_tenants s "$RELOAD_TENANTS" "$RELOAD_PER_TENANT" +86572
metric() {
	curl -s "http://127.0.0.1:$CC_ROUTING_METRICS_PORT/metrics" | awk -v n="$1" '$1 == n { print $2 }'
}
want=$((RELOAD_TENANTS * RELOAD_PER_TENANT))
big() { [ "$(metric cc_routing_model_numbers)" -gt "$want" ]; }
api POST /v1/tenants/acme/blocklist "${KEY[acme]}" '{"e164":"+8613900000001"}'
check big_model_loaded wait_for 120 big
echo "# model load at $(metric cc_routing_model_numbers) numbers: $(metric cc_routing_model_load_seconds) s"
loads_before=$(metric cc_routing_model_loads_total)
full() { echo $(( $(metric cc_routing_model_loads_total) - $(metric cc_routing_model_patches_total) )); }
full_before=$(full) patches_before=$(metric cc_routing_model_patches_total)

# the agent answers every call; the carrier places them at RELOAD_RATE/s
secs=$((RELOAD_CALLS / RELOAD_RATE))
(cd "$SIPW" && exec timeout -s KILL $((secs + 60)) sipp -i 127.0.0.1 -mp "$(pick_port 4)" -sf "$SIPP_DIR/agent_uas.xml" \
	-p "$A1001" -m "$RELOAD_CALLS" -nostdin -timeout $((secs + 40)) > agent-bulk.out 2>&1) &
agent=$!
SIPP_PIDS="$SIPP_PIDS $agent"
sleep 0.5
# tenants write every second, each write a reload notice
(
	i=0
	while [ "$i" -lt "$secs" ]; do
		api POST /v1/tenants/acme/blocklist "${KEY[acme]}" "{\"e164\":\"+86139$(printf '%08d' $((i + 10)))\"}"
		api POST /v1/tenants/beta/blocklist "${KEY[beta]}" "{\"e164\":\"+86139$(printf '%08d' $((i + 10)))\"}"
		# halfway, a platform change (a trunk): one full build
		[ "$i" = $((secs / 2)) ] && new_trunk carrier2 "$(pick_port)"
		i=$((i + 1))
		sleep 1
	done
) &
writer=$!
(cd "$SIPW" && timeout -s KILL $((secs + 60)) sipp 127.0.0.1:"$CC_SIP_PORT" -i 127.0.0.1 -mp "$(pick_port 4)" \
	-sf "$SIPP_DIR/carrier_call.xml" -s +8657112345678 -set from +8613800000001 -p "$CARRIER" \
	-default_behaviors all,-abortunexp -m "$RELOAD_CALLS" -r "$RELOAD_RATE" -d 500 \
	-timeout $((secs + 40)) -nostdin -trace_screen -screen_file bulk.screen > bulk.out 2>&1)
rc=$?
wait "$writer"
wait "$agent" 2>/dev/null
count() { awk -F'|' -v k="$1" '$0 ~ k { gsub(/ /, "", $3); v = $3 } END { print v + 0 }' "$SIPW/bulk.screen"; }
ok_calls=$(count "Successful call") failed=$(count "Failed call")
echo "# $ok_calls calls answered, $failed failed, $(( $(metric cc_routing_model_loads_total) - loads_before )) reloads meanwhile, decision p99 $(metric cc_routing_decision_seconds_p99) s"
expect_eq calls_during_reloads_all_answered "$ok_calls/$failed/$rc" "$RELOAD_CALLS/0/0"
check reloads_happened_meanwhile [ "$(metric cc_routing_model_loads_total)" -ge $((loads_before + 3)) ]
check decision_p99_under_10ms awk -v v="$(metric cc_routing_decision_seconds_p99)" 'BEGIN { exit !(v > 0 && v < 0.01) }'
echo "# meanwhile $(( $(full) - full_before )) full builds ($(metric cc_routing_model_load_seconds) s the last) and $(( $(metric cc_routing_model_patches_total) - patches_before )) one-tenant patches ($(metric cc_routing_model_patch_seconds) s the last)"
check full_reload_forced_meanwhile [ "$(full)" -gt "$full_before" ]
check tenant_writes_patched [ "$(metric cc_routing_model_patches_total)" -ge $((patches_before + 10)) ]
# a tenant's change is routed in a fraction of a full build: the block
# list entry written now refuses the caller's next call
sed "s/@CODE@/603/g" "$SIPP_DIR/carrier_refused.xml.in" > "$SIPW/blocked.xml"
p0=$(metric cc_routing_model_patches_total)
t0=$(date +%s%N)
api POST /v1/tenants/acme/blocklist "${KEY[acme]}" '{"e164":"+8613800000077"}'
patched() { [ "$(metric cc_routing_model_patches_total)" -gt "$p0" ]; }
until patched || [ $(( ($(date +%s%N) - t0) / 1000000 )) -gt 20000 ]; do sleep 0.02; done
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check blocklist_change_routed sipp_run blocked -sf "$SIPW/blocked.xml" -s +8657112345678 -set from +8613800000077 -p "$CARRIER" -m 1 -timeout 5 -timeout_error
echo "# a block-list write to the model that refuses its caller: $ms ms; the last patch $(metric cc_routing_model_patch_seconds) s, a full build $(metric cc_routing_model_load_seconds) s"
check patch_faster_than_a_fifth_of_full awk -v p="$(metric cc_routing_model_patch_seconds)" -v f="$(metric cc_routing_model_load_seconds)" 'BEGIN { exit !(p > 0 && p * 5 < f) }'

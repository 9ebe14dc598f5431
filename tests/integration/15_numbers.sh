#!/usr/bin/env bash
# Numbers are the operator's inventory; a tenant only points its own at
# its agents. Caller IDs are settings among the tenant's numbers; PSTN
# calls need a plan or the operator's flag, stay off refused prefixes and
# within the tenant's call limits; the block list does not fail open on
# callers it cannot read. Every refusal has a check, for both tenants and
# across them.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
trap stack_down EXIT
stack_up || exit 1

new_tenant acme; new_tenant beta
new_agent acme 1001 acme-pass-1001; new_agent acme 1002 acme-pass-1002
new_agent beta 2001 beta-pass-2001; new_agent beta 2002 beta-pass-2002
T='{"type":"agent","extension":"1001"}'
TB='{"type":"agent","extension":"2001"}'

# ------------------------------------------------------- the inventory
api POST /v1/numbers "${KEY[acme]}" '{"e164":"+8657199999999","tenant":"acme"}'
expect_eq inventory_create_tenant_key_403 "$HTTP" 403
api POST /v1/numbers "${KEY[beta]}" '{"e164":"+8657199999999"}'
expect_eq inventory_create_tenant_key_403_beta "$HTTP" 403
api GET /v1/numbers "${KEY[acme]}"
expect_eq inventory_list_tenant_key_403 "$HTTP" 403
api PATCH /v1/numbers/%2B8657112345678 "${KEY[acme]}" '{"tenant":"acme"}'
expect_eq inventory_patch_tenant_key_403 "$HTTP" 403
api POST /v1/numbers "$OPERATOR" '{"e164":"+8657100000001"}'
check stock_number_created [ "$HTTP" = 201 -a "$(jr .tenant)" = null -a "$(jr .target)" = null ]
api POST /v1/numbers "$OPERATOR" '{"e164":"+8657112345678","tenant":"acme"}'
check number_assigned_acme [ "$HTTP" = 201 -a "$(jr .tenant)" = acme ]
api POST /v1/numbers "$OPERATOR" '{"e164":"+8657112345679","tenant":"acme"}'
api POST /v1/numbers "$OPERATOR" '{"e164":"+4930123456789","tenant":"beta"}'
check number_assigned_beta [ "$HTTP" = 201 -a "$(jr .tenant)" = beta ]
api POST /v1/numbers "$OPERATOR" '{"e164":"+8657112345678"}'
expect_eq inventory_duplicate_409 "$HTTP" 409
api POST /v1/numbers "$OPERATOR" '{"e164":"+8657100000009","tenant":"nobody"}'
check inventory_unknown_tenant_422 [ "$HTTP" = 422 -a "$(jr .error.field)" = tenant ]
api POST /v1/numbers "$OPERATOR" '{"e164":"8657100000009"}'
check inventory_bad_e164_422 [ "$HTTP" = 422 -a "$(jr .error.field)" = e164 ]
api POST /v1/numbers "$OPERATOR" '{"tenant":"acme"}'
expect_eq inventory_neither_400 "$HTTP" 400
api POST /v1/numbers "$OPERATOR" '{"e164":"+8657100000009","range":{"from":"+8657100000010","count":2}}'
expect_eq inventory_both_400 "$HTTP" 400
# ranges: bounded, all or nothing, clear errors
api POST /v1/numbers "$OPERATOR" '{"range":{"from":"+8657130000000","count":0}}'
check range_count_0_422 [ "$HTTP" = 422 -a "$(jr .error.field)" = range.count ]
api POST /v1/numbers "$OPERATOR" '{"range":{"from":"+8657130000000","count":1001}}'
check range_count_1001_422 [ "$HTTP" = 422 -a "$(jr .error.field)" = range.count ]
api POST /v1/numbers "$OPERATOR" '{"range":{"from":"+99999999","count":2}}'
check range_past_digits_422 [ "$HTTP" = 422 -a "$(jr .error.field)" = range.count ]
api POST /v1/numbers "$OPERATOR" '{"range":{"from":"+8657100000000","count":5},"tenant":"beta"}'
check range_overlap_409_names_it [ "$HTTP" = 409 ] && grep -q '+8657100000001' "$RESP"
api GET /v1/numbers/%2B8657100000002 "$OPERATOR"
expect_eq range_overlap_created_nothing "$HTTP" 404
api POST /v1/numbers "$OPERATOR" '{"range":{"from":"+8657120000000","count":100},"tenant":"beta"}'
check range_created [ "$HTTP" = 201 -a "$(jr '.items | length')" = 100 -a "$(jr '[.items[].tenant] | unique | join(",")')" = beta \
	-a "$(jr '.items[99]."e164"')" = +8657120000099 ]
expect_eq range_rented_by_beta "$(sql "SELECT count(*) FROM cc.rentals WHERE tenant_id = '${TID[beta]}' AND kind = 'number' AND to_ts IS NULL")" 101
expect_eq stock_rented_by_nobody "$(sql "SELECT count(*) FROM cc.rentals WHERE label = '+8657100000001'")" 0
api GET "/v1/numbers?unassigned=true" "$OPERATOR"
check list_unassigned [ "$HTTP" = 200 -a "$(jr '[.items[]."e164"] | join(",")')" = +8657100000001 ]
api GET "/v1/numbers?tenant=beta&limit=60" "$OPERATOR"
check list_tenant_paged [ "$(jr '.items | length')" = 60 -a "$(jr .next)" != null ]
api GET "/v1/numbers?tenant=beta&limit=60&after=$(jr .next | sed 's/+/%2B/')" "$OPERATOR"
check list_tenant_page_2 [ "$(jr '.items | length')" = 41 -a "$(jr .next)" = null ]
api GET "/v1/numbers?unassigned=maybe" "$OPERATOR"
expect_eq list_unassigned_bad_400 "$HTTP" 400
api GET "/v1/numbers?tenant=nobody" "$OPERATOR"
expect_eq list_unknown_tenant_400 "$HTTP" 400

# --------------------------------------------- a tenant points its own
api POST /v1/tenants/acme/numbers "${KEY[acme]}" "{\"e164\":\"+8657112345678\",\"target\":$T}"
check tenant_targets_own_number [ "$HTTP" = 201 -a "$(jr .target.extension)" = 1001 ]
api POST /v1/tenants/beta/numbers "${KEY[beta]}" "{\"e164\":\"+4930123456789\",\"target\":$TB}"
check beta_targets_own_number [ "$HTTP" = 201 -a "$(jr .target.extension)" = 2001 ]
api POST /v1/tenants/acme/numbers "${KEY[acme]}" "{\"e164\":\"+8657112345678\",\"target\":$T}"
expect_eq target_twice_409 "$HTTP" 409
# squatting: stock, another tenant's, or unknown get one and the same 403
api POST /v1/tenants/acme/numbers "${KEY[acme]}" "{\"e164\":\"+8657100000001\",\"target\":$T}"
check squat_stock_403 [ "$HTTP" = 403 -a "$(jr .error.code)" = forbidden ]
stock_body=$(cat "$RESP")
api POST /v1/tenants/acme/numbers "${KEY[acme]}" "{\"e164\":\"+4930123456789\",\"target\":$T}"
check squat_other_tenants_403 [ "$HTTP" = 403 ]
other_body=$(cat "$RESP")
api POST /v1/tenants/acme/numbers "${KEY[acme]}" "{\"e164\":\"+8657199999999\",\"target\":$T}"
check squat_unknown_403 [ "$HTTP" = 403 ]
unknown_body=$(cat "$RESP")
check squat_no_oracle [ "$stock_body" = "$other_body" -a "$other_body" = "$unknown_body" ]
api POST /v1/tenants/beta/numbers "${KEY[beta]}" "{\"e164\":\"+8657112345678\",\"target\":$TB}"
check squat_beta_takes_acmes_403 [ "$HTTP" = 403 -a "$(cat "$RESP")" = "$stock_body" ]
api POST /v1/tenants/beta/numbers "${KEY[beta]}" "{\"e164\":\"+8657199999999\",\"target\":$TB}"
check squat_beta_unknown_403 [ "$HTTP" = 403 -a "$(cat "$RESP")" = "$stock_body" ]
api GET /v1/numbers/%2B8657199999999 "$OPERATOR"
expect_eq squat_created_nothing "$HTTP" 404
api GET /v1/tenants/acme/numbers "${KEY[acme]}"
check tenant_lists_only_its_own [ "$(jr '[.items[]."e164"] | join(",")')" = +8657112345678,+8657112345679 ]
api GET /v1/tenants/beta/numbers/%2B8657112345678 "${KEY[beta]}"
expect_eq other_tenants_number_404 "$HTTP" 404
api PATCH /v1/tenants/beta/numbers/%2B8657112345678 "${KEY[beta]}" "{\"target\":$TB}"
expect_eq patch_other_tenants_number_404 "$HTTP" 404
api DELETE /v1/tenants/beta/numbers/%2B8657112345678 "${KEY[beta]}"
expect_eq delete_other_tenants_number_404 "$HTTP" 404
# a tenant's DELETE clears the target; the number stays its own
api POST /v1/tenants/acme/numbers "${KEY[acme]}" "{\"e164\":\"+8657112345679\",\"target\":$T}"
api DELETE /v1/tenants/acme/numbers/%2B8657112345679 "${KEY[acme]}"
expect_eq tenant_delete_204 "$HTTP" 204
api GET /v1/numbers/%2B8657112345679 "$OPERATOR"
check tenant_delete_keeps_assignment [ "$(jr .tenant)" = acme -a "$(jr .target)" = null ]
api GET /v1/tenants/acme/numbers/%2B8657112345679 "${KEY[acme]}"
check tenant_sees_untargeted [ "$HTTP" = 200 -a "$(jr .target)" = null ]

# ------------------------------------------------------------- caller IDs
api PATCH /v1/tenants/acme "${KEY[acme]}" '{"caller_id":"+4930123456789"}'
check caller_id_other_tenants_422 [ "$HTTP" = 422 -a "$(jr .error.field)" = caller_id ]
other_cli=$(cat "$RESP")
api PATCH /v1/tenants/acme "${KEY[acme]}" '{"caller_id":"+8657100000001"}'
check caller_id_stock_422 [ "$HTTP" = 422 -a "$(cat "$RESP")" = "$other_cli" ]
api PATCH /v1/tenants/acme "${KEY[acme]}" '{"caller_id":"+8657199999999"}'
check caller_id_unknown_422 [ "$HTTP" = 422 -a "$(cat "$RESP")" = "$other_cli" ]
api PATCH /v1/tenants/beta "${KEY[beta]}" '{"caller_id":"+8657112345678"}'
check caller_id_beta_takes_acmes_422 [ "$HTTP" = 422 -a "$(jr .error.field)" = caller_id ]
api PATCH /v1/tenants/acme "${KEY[acme]}" '{"caller_id":"+8657112345678"}'
check caller_id_own_by_tenant [ "$HTTP" = 200 -a "$(jr .caller_id)" = +8657112345678 ]
api PATCH /v1/tenants/acme "${KEY[acme]}" '{"caller_id":"8657112345678"}'
check caller_id_not_e164_422 [ "$HTTP" = 422 -a "$(jr .error.field)" = caller_id ]
api PATCH /v1/tenants/acme "${KEY[acme]}" '{"caller_id":5}'
expect_eq caller_id_wrong_type_400 "$HTTP" 400
api PATCH /v1/tenants/acme "${KEY[acme]}" '{"pstn_without_plan":true}'
check pstn_flag_tenant_key_403 [ "$HTTP" = 403 -a "$(jr .error.field)" = pstn_without_plan ]
api PATCH /v1/tenants/beta "${KEY[beta]}" '{"max_concurrent_calls":1000}'
check limit_tenant_key_403 [ "$HTTP" = 403 -a "$(jr .error.field)" = max_concurrent_calls ]
api PATCH /v1/tenants/acme "${KEY[acme]}" '{"caller_id":"+8657112345679","max_calls_per_second":5}'
check mixed_patch_tenant_key_403_nothing_changed [ "$HTTP" = 403 ]
api GET /v1/tenants/acme "${KEY[acme]}"
check mixed_patch_left_caller_id [ "$(jr .caller_id)" = +8657112345678 -a "$(jr .max_calls_per_second)" = null ]
api PATCH /v1/tenants/acme "$OPERATOR" '{"max_concurrent_calls":-1}'
check limit_negative_422 [ "$HTTP" = 422 -a "$(jr .error.field)" = max_concurrent_calls ]
api PATCH /v1/tenants/acme "$OPERATOR" '{"unparseable_callers":"maybe"}'
check unparseable_bad_422 [ "$HTTP" = 422 -a "$(jr .error.field)" = unparseable_callers ]
api GET /v1/tenants/acme "${KEY[acme]}"
check tenant_defaults [ "$(jr .pstn_without_plan)" = false -a "$(jr .unparseable_callers)" = refuse \
	-a "$(jr .max_concurrent_calls)" = null ]
# per agent
api PATCH /v1/tenants/acme/agents/1002 "${KEY[acme]}" '{"caller_id":"+4930123456789"}'
check agent_caller_id_other_tenants_422 [ "$HTTP" = 422 -a "$(jr .error.field)" = caller_id ]
api PATCH /v1/tenants/beta/agents/2002 "${KEY[beta]}" '{"caller_id":"+8657112345679"}'
check agent_caller_id_beta_takes_acmes_422 [ "$HTTP" = 422 -a "$(jr .error.field)" = caller_id ]
api POST /v1/tenants/acme/agents "${KEY[acme]}" '{"extension":"1003","name":"Three","password":"acme-pass-1003","caller_id":"+8657100000001"}'
check agent_create_caller_id_stock_422 [ "$HTTP" = 422 -a "$(jr .error.field)" = caller_id ]
api PATCH /v1/tenants/acme/agents/1002 "${KEY[acme]}" '{"caller_id":"+8657112345679"}'
check agent_caller_id_own [ "$HTTP" = 200 -a "$(jr .caller_id)" = +8657112345679 ]
api PATCH /v1/tenants/acme/agents/1001 "${KEY[acme]}" '{"caller_id":"+8657112345679"}'
api PATCH /v1/tenants/acme/agents/1001 "${KEY[acme]}" '{"caller_id":null}'
check agent_caller_id_cleared [ "$HTTP" = 200 -a "$(jr .caller_id)" = null ]

# ---------------------------- the operator unassigns, moves and deletes
api POST /v1/numbers "$OPERATOR" '{"e164":"+8657112345690","tenant":"acme"}'
api PATCH /v1/tenants/acme "${KEY[acme]}" '{"caller_id":"+8657112345690"}'
api PATCH /v1/numbers/%2B8657112345690 "$OPERATOR" '{"tenant":null}'
check unassign [ "$HTTP" = 200 -a "$(jr .tenant)" = null -a "$(jr .target)" = null ]
api GET /v1/tenants/acme "${KEY[acme]}"
expect_eq unassign_clears_caller_id "$(jr .caller_id)" null
api GET /v1/tenants/acme/numbers/%2B8657112345690 "${KEY[acme]}"
expect_eq unassigned_gone_for_tenant_404 "$HTTP" 404
api PATCH /v1/numbers/%2B8657112345690 "$OPERATOR" '{"tenant":"beta"}'
check move_to_beta [ "$HTTP" = 200 -a "$(jr .tenant)" = beta ]
expect_eq move_rents_to_beta "$(sql "SELECT string_agg(t.slug || ':' || (r.to_ts IS NULL), ',' ORDER BY r.id) FROM cc.rentals r JOIN cc.tenants t ON t.id = r.tenant_id WHERE r.label = '+8657112345690'")" "acme:false,beta:true"
api PATCH /v1/numbers/%2B8657112345690 "$OPERATOR" '{"tenant":5}'
expect_eq number_patch_wrong_type_400 "$HTTP" 400
api PATCH /v1/numbers/%2B8657112345690 "$OPERATOR" '{"tenant":"nobody"}'
check number_patch_unknown_tenant_422 [ "$HTTP" = 422 -a "$(jr .error.field)" = tenant ]
api PATCH /v1/numbers/%2B8657199999999 "$OPERATOR" '{"tenant":"acme"}'
expect_eq number_patch_unknown_404 "$HTTP" 404
api PATCH /v1/numbers/%2B8657112345690 "$OPERATOR" '{"owner":"acme"}'
expect_eq number_patch_unknown_field_400 "$HTTP" 400
# an agent's caller ID goes with its number
api PATCH /v1/tenants/beta/agents/2002 "${KEY[beta]}" '{"caller_id":"+8657112345690"}'
expect_eq agent_caller_id_moved_number "$HTTP" 200
api DELETE /v1/numbers/%2B8657112345690 "$OPERATOR"
expect_eq number_delete_204 "$HTTP" 204
api GET /v1/tenants/beta/agents/2002 "${KEY[beta]}"
expect_eq delete_clears_agent_caller_id "$(jr .caller_id)" null
api DELETE /v1/numbers/%2B8657112345690 "$OPERATOR"
expect_eq number_delete_again_404 "$HTTP" 404

# ------------------------------------------------- refused prefixes (API)
api POST /v1/refused-prefixes "${KEY[acme]}" '{"prefix":"900"}'
expect_eq refused_platform_tenant_key_403 "$HTTP" 403
api POST /v1/tenants/acme/refused-prefixes "${KEY[acme]}" '{"prefix":"4420"}'
expect_eq refused_tenant_list_tenant_key_403 "$HTTP" 403
api POST /v1/refused-prefixes "$OPERATOR" '{"prefix":"+900"}'
check refused_platform_created [ "$HTTP" = 201 -a "$(jr .prefix)" = 900 ]
api POST /v1/refused-prefixes "$OPERATOR" '{"prefix":"900"}'
expect_eq refused_platform_duplicate_409 "$HTTP" 409
api POST /v1/refused-prefixes "$OPERATOR" '{"prefix":"9a"}'
check refused_bad_prefix_422 [ "$HTTP" = 422 -a "$(jr .error.field)" = prefix ]
api POST /v1/tenants/acme/refused-prefixes "$OPERATOR" '{"prefix":"4420"}'
expect_eq refused_tenant_created "$HTTP" 201
api GET /v1/tenants/acme/refused-prefixes "${KEY[acme]}"
check refused_tenant_visible [ "$(jr '[.items[].prefix] | join(",")')" = 4420 ]
api GET /v1/tenants/beta/refused-prefixes "${KEY[beta]}"
check refused_not_beta [ "$HTTP" = 200 -a "$(jr '.items | length')" = 0 ]
api GET /v1/tenants/acme/refused-prefixes "${KEY[beta]}"
expect_eq refused_other_tenant_404 "$HTTP" 404

# ----------------------------------------------------- the migration
# 0001 and 0002 on a scratch database with a tenant whose two numbers
# were claimed the old way, then 0003: both stay assigned with their
# targets, and the oldest becomes the caller ID.
MIG=$(sql "SELECT 'mig' || floor(random() * 1e9)::text")
sql "CREATE DATABASE $MIG" > /dev/null
mig() { PGPASSWORD=$(cat "$CC_VAR/secrets/pg_admin") psql -h 127.0.0.1 -p "$CC_PG_PORT" -U cc_admin -d "$MIG" -v ON_ERROR_STOP=1 -qtAX "$@"; }
mig -c "CREATE SCHEMA cc; CREATE SCHEMA kamailio" > /dev/null
for f in 0001_core 0002_billing; do mig -f "$TOP/ops/db/migrations/$f.sql" > /dev/null; done
mig -c "INSERT INTO cc.tenants (id, slug, name, timezone, sip_domain) VALUES ('11111111-1111-4111-8111-111111111111', 'old', 'Old', 'UTC', 'old.cc.test');
INSERT INTO cc.agents (id, tenant_id, extension, name) VALUES ('22222222-2222-4222-8222-222222222222', '11111111-1111-4111-8111-111111111111', '1001', 'A');
INSERT INTO cc.numbers (id, tenant_id, e164, target_type, target_extension, created_at) VALUES
 ('33333333-3333-4333-8333-333333333331', '11111111-1111-4111-8111-111111111111', '+8657100000999', 'agent', '1001', now() - interval '1 day'),
 ('33333333-3333-4333-8333-333333333332', '11111111-1111-4111-8111-111111111111', '+8657100000111', 'agent', '1001', now())" > /dev/null
check migration_applies mig -f "$TOP/ops/db/migrations/0003_numbers.sql"
expect_eq migration_keeps_assignment "$(mig -c "SELECT count(*) FROM cc.numbers WHERE tenant_id IS NOT NULL AND target_extension = '1001'")" 2
expect_eq migration_oldest_is_caller_id "$(mig -c "SELECT caller_id FROM cc.tenants")" +8657100000999
sql "DROP DATABASE $MIG" > /dev/null

# ---------------------------------------------------------------- SIP
CARRIER=$(pick_port) CARRIER2=$(pick_port) PSTN=$(pick_port)
A1001=$(pick_port) A1002=$(pick_port) B2001=$(pick_port)
new_trunk carrier1 "$CARRIER" "$PSTN"
new_trunk carrier2 "$CARRIER2" # a second source while a call holds the first
api POST /v1/tenants/acme/blocklist "${KEY[acme]}" '{"e164":"+8613812345678"}'
api POST /v1/tenants/beta/blocklist "${KEY[beta]}" '{"e164":"+8613812345678"}'
check register_1001 sip_register 1001 acme.cc.test acme-pass-1001 "$A1001"
check register_1002 sip_register 1002 acme.cc.test acme-pass-1002 "$A1002"
check register_2001 sip_register 2001 beta.cc.test beta-pass-2001 "$B2001"
new_agent acme 1004 acme-pass-1004 # never registers
metric() { curl -s "http://127.0.0.1:$CC_ROUTING_METRICS_PORT/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
# change METHOD PATH TOKEN JSON: an API change, then wait for routingd's reload
change() {
	local n; n=$(metric cc_routing_model_loads_total)
	api "$@"
	wait_for 10 eval '[ "$(metric cc_routing_model_loads_total)" -gt '"$n"' ]'
}

# --- the block list reads what it can and refuses what it cannot (M6)
check blocked_percent_encoded_603 sip_call_refused 603 "$CARRIER" +8657112345678 %2B8613812345678
check blocked_uri_parameter_603 sip_call_refused 603 "$CARRIER" +8657112345678 "+8613812345678;isub=1"
check blocked_beta_uri_parameter_603 sip_call_refused 603 "$CARRIER" +4930123456789 "+8613812345678;isub=1"
check unreadable_refused_acme_603 sip_call_refused 603 "$CARRIER" +8657112345678 +8613812345678a
check unreadable_refused_beta_603 sip_call_refused 603 "$CARRIER" +4930123456789 +8613912345678a
change PATCH /v1/tenants/beta "${KEY[beta]}" '{"unparseable_callers":"allow"}'
check unparseable_allow_by_tenant [ "$HTTP" = 200 -a "$(jr .unparseable_callers)" = allow ]
sip_agent "$B2001"; b=$AGENT_PID
check unreadable_allowed_beta sip_call "$CARRIER" +4930123456789 +8613912345678a 200
wait "$b"
check unreadable_still_refused_acme sip_call_refused 603 "$CARRIER" +8657112345678 +8613912345678a

# --- PSTN: a plan or the operator's flag, a caller ID, no refused prefix (H5)
pstn_refused() { # pstn_refused CODE USER DOMAIN PASSWORD TARGET
	sip_agent_call_refused "$1" "$2" "$3" "$4" "$5" "$(pick_port)"
}
check pstn_without_plan_403 pstn_refused 403 1001 acme.cc.test acme-pass-1001 +8613812340000
check pstn_without_plan_reason grep -q '^SIP/2.0 403 PSTN Not Enabled' "$SIPW"/arefused-403-1001-+8613812340000.log
check pstn_without_plan_403_beta pstn_refused 403 2001 beta.cc.test beta-pass-2001 +8613812340000
change PATCH /v1/tenants/acme "$OPERATOR" '{"pstn_without_plan":true,"caller_id":null}'
check pstn_flag_by_operator [ "$HTTP" = 200 -a "$(jr .pstn_without_plan)" = true -a "$(jr .caller_id)" = null ]
change PATCH /v1/tenants/beta "$OPERATOR" '{"pstn_without_plan":true,"caller_id":"+4930123456789"}'
check pstn_no_caller_id_403 pstn_refused 403 1001 acme.cc.test acme-pass-1001 +8613812340001
check pstn_no_caller_id_reason grep -q '^SIP/2.0 403 No Caller ID' "$SIPW"/arefused-403-1001-+8613812340001.log
change PATCH /v1/tenants/acme "${KEY[acme]}" '{"caller_id":"+8657112345678"}'
pstn_uas() { # pstn_uas TAG: the carrier answers one call
	(cd "$SIPW" && exec timeout -s KILL 30 sipp -i 127.0.0.1 -sf "$SIPP_DIR/pstn_uas.xml" -p "$PSTN" -m 1 -trace_msg \
		-message_file "pstn-$1.log" -nostdin -timeout 20 > "pstn-$1.out" 2>&1) &
	PSTN_PID=$!
	wait_for 5 eval 'ss -Huan "sport = :$PSTN" | grep -q .'
}
pstn_uas tenant
check pstn_with_flag sip_agent_call 1001 acme.cc.test acme-pass-1001 +8613812340002 "$(pick_port)"
wait "$PSTN_PID"
check pstn_presents_tenant_caller_id grep -Eqi '^From:.*sip:\+8657112345678@' "$SIPW/pstn-tenant.log"
pstn_uas agent
check pstn_agent_caller_id_call sip_agent_call 1002 acme.cc.test acme-pass-1002 +8613812340003 "$(pick_port)"
wait "$PSTN_PID"
check pstn_presents_agent_caller_id grep -Eqi '^From:.*sip:\+8657112345679@' "$SIPW/pstn-agent.log"
check refused_platform_prefix_403 pstn_refused 403 1001 acme.cc.test acme-pass-1001 +9001234567
check refused_platform_prefix_reason grep -q '^SIP/2.0 403 Destination Not Allowed' "$SIPW"/arefused-403-1001-+9001234567.log
check refused_platform_prefix_403_beta pstn_refused 403 2001 beta.cc.test beta-pass-2001 009001234567
check refused_tenant_prefix_403 pstn_refused 403 1001 acme.cc.test acme-pass-1001 +442012345678
pstn_uas beta
check refused_tenant_prefix_not_beta sip_agent_call 2001 beta.cc.test beta-pass-2001 +442012345678 "$(pick_port)"
wait "$PSTN_PID"
check beta_presents_its_caller_id grep -Eqi '^From:.*sip:\+4930123456789@' "$SIPW/pstn-beta.log"

# --- limits: concurrent calls and calls per second (503), slots released
change PATCH /v1/tenants/acme "$OPERATOR" '{"max_concurrent_calls":1}'
check limit_set_by_operator [ "$HTTP" = 200 -a "$(jr .max_concurrent_calls)" = 1 ]
sip_agent "$A1001"; a=$AGENT_PID
(sip_call "$CARRIER" +8657112345678 +8613800000001 4000) &
held=$!
wait_for 10 eval '[ "$(metric cc_routing_calls_active)" = 1 ]'
check limit_concurrent_503 sip_call_refused 503 "$CARRIER2" +8657112345678 +8613800000002
check limit_concurrent_reason grep -q '^SIP/2.0 503 Too Many Calls' "$SIPW"/refused-503-"$CARRIER2"-+8657112345678.log
check limit_concurrent_outbound_503 pstn_refused 503 1002 acme.cc.test acme-pass-1002 +8613812340004
# the limit is acme's: beta's calls go on
sip_agent "$B2001"; b=$AGENT_PID
check limit_not_beta sip_call "$CARRIER2" +4930123456789 +8613800000003 200
wait "$b"
wait "$held"; check limit_held_call_answered [ $? = 0 ]
wait "$a"
check limit_counted_in_metrics [ "$(metric cc_routing_limit_refused_calls_total)" -ge 2 ]
# the ended call freed its slot; a failed one (480: not registered) frees its own
check limit_slot_released_on_end wait_for 10 eval '[ "$(metric cc_routing_calls_active)" = 0 ]'
change POST /v1/tenants/acme/numbers "${KEY[acme]}" '{"e164":"+8657112345679","target":{"type":"agent","extension":"1004"}}'
check limit_failed_call_480 sip_call_refused 480 "$CARRIER" +8657112345679 +8613800000004
check limit_slot_released_on_failure wait_for 5 eval '[ "$(metric cc_routing_calls_active)" = 0 ]'
sip_agent "$A1001"; a=$AGENT_PID
check limit_after_release sip_call "$CARRIER" +8657112345678 +8613800000005 200
wait "$a"
# calls per second: 8 calls in 0.4 s, a limit of 1 a second
change PATCH /v1/tenants/acme "$OPERATOR" '{"max_concurrent_calls":null,"max_calls_per_second":1}'
check cps_set [ "$HTTP" = 200 -a "$(jr .max_calls_per_second)" = 1 -a "$(jr .max_concurrent_calls)" = null ]
before=$(metric cc_routing_limit_refused_rate_total)
sed "s/@CODE@/503/g" "$SIPP_DIR/carrier_refused.xml.in" > "$SIPW/cps.xml"
sipp_run cps -sf "$SIPW/cps.xml" -s +8657112345679 -set from +8613800000006 -p "$CARRIER" -m 8 -r 20 -timeout 15 > /dev/null
n503=$(grep -c '^SIP/2.0 503 Call Rate Exceeded' "$SIPW/cps.log")
check cps_refused_503 [ "$n503" -ge 5 -a "$n503" -le 7 ]
check cps_counted_in_metrics [ "$(( $(metric cc_routing_limit_refused_rate_total) - before ))" = "$n503" ]

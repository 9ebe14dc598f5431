#!/usr/bin/env bash
# Issue 15, the API half: API key roles (which role answers on which route,
# 403 for a role, 404 outside a supervisor's queues or an agent's own
# extension, another tenant's key 404), the append-only audit log, the
# recording policy of tenant, queues and agents, supervised queues and the
# retention days (docs/RECORDING.md).
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
trap stack_down EXIT
stack_up || exit 1

new_tenant acme
new_tenant beta
A=${KEY[acme]}
api POST /v1/tenants/acme/queues "$A" '{"name":"sales"}'
expect_eq queue_sales "$HTTP" 201
api POST /v1/tenants/acme/queues "$A" '{"name":"repair","recording":"percent","recording_percent":20}'
check queue_recording_percent [ "$HTTP" = 201 -a "$(jr .recording)" = percent -a "$(jr .recording_percent)" = 20 ]
api POST /v1/tenants/acme/queues "$A" '{"name":"bad1","recording":"all","recording_percent":20}'
check queue_percent_with_all_422 [ "$HTTP" = 422 -a "$(jr .error.field)" = recording_percent ]
api POST /v1/tenants/acme/queues "$A" '{"name":"bad2","recording":"percent"}'
expect_eq queue_percent_missing_422 "$HTTP" 422
api POST /v1/tenants/acme/queues "$A" '{"name":"bad3","recording":"percent","recording_percent":101}'
expect_eq queue_percent_over_100_422 "$HTTP" 422
api POST /v1/tenants/acme/queues "$A" '{"name":"bad4","recording":"sometimes"}'
expect_eq queue_bad_policy_422 "$HTTP" 422
api PATCH /v1/tenants/acme/queues/repair "$A" '{"recording":null}'
check queue_recording_inherit [ "$HTTP" = 200 -a "$(jr .recording)" = null -a "$(jr .recording_percent)" = null ]
api GET /v1/tenants/acme/queues/sales "$A"
check queue_get_recording_null [ "$(jr .recording)" = null ]

new_agent acme 1001 s3cret-pass-1
new_agent acme 1002 s3cret-pass-2
new_agent acme 1003 s3cret-pass-3
api PATCH /v1/tenants/acme/agents/1001 "$A" '{"supervises":["sales"],"recording":"all"}'
check agent_supervises [ "$HTTP" = 200 -a "$(jr '.supervises|join(",")')" = sales -a "$(jr .recording)" = all ]
api PATCH /v1/tenants/acme/agents/1002 "$A" '{"queues":{"sales":1}}'
expect_eq agent_1002_in_sales "$HTTP" 200
api PATCH /v1/tenants/acme/agents/1003 "$A" '{"queues":{"repair":1}}'
expect_eq agent_1003_in_repair "$HTTP" 200
api PATCH /v1/tenants/acme/agents/1001 "$A" '{"supervises":["nosuch"]}'
check agent_supervises_unknown_queue_422 [ "$HTTP" = 422 -a "$(jr .error.field)" = supervises ]
api PATCH /v1/tenants/acme/agents/1001 "$A" '{"recording":"percent","recording_percent":-1}'
expect_eq agent_percent_negative_422 "$HTTP" 422
api PATCH /v1/tenants/acme/agents/1001 "$A" '{"supervises":"sales"}'
expect_eq agent_supervises_not_array_400 "$HTTP" 400

# --- the tenant's policy, told to routingd
api PUT /v1/tenants/acme/recording "$A" '{"policy":"percent","percent":30}'
check policy_put [ "$HTTP" = 200 -a "$(jr .policy)" = percent -a "$(jr .percent)" = 30 ]
api PUT /v1/tenants/acme/recording "$A" '{"policy":"all","percent":30}'
check policy_percent_with_all_422 [ "$HTTP" = 422 -a "$(jr .error.field)" = percent ]
api PUT /v1/tenants/acme/recording "$A" '{"policy":"percent"}'
expect_eq policy_percent_missing_422 "$HTTP" 422
api PUT /v1/tenants/acme/recording "$A" '{"policy":"all","colour":"red"}'
expect_eq policy_unknown_field_400 "$HTTP" 400
api GET /v1/tenants/acme/recording "$A"
check policy_get [ "$(jr .policy)" = percent -a "$(jr .percent)" = 30 -a "$(jr .retention_days)" = 365 ]
check policy_in_db [ "$(sql "SELECT recording_policy || recording_percent FROM cc.tenants WHERE slug = 'acme'")" = percent30 ]

# --- keys
api POST /v1/tenants/acme/keys "$A" '{"role":"read_only","name":"wallboard"}'
check key_create_read_only [ "$HTTP" = 201 -a "$(jr .role)" = read_only -a "$(jr '.token|startswith("cc_")')" = true ]
RO=$(jr .token); RO_ID=$(jr .id)
check key_stored_hashed [ "$(sql "SELECT count(*) FROM cc.api_keys WHERE key_hash = encode(sha256('$RO'::bytea), 'hex') AND role = 'read_only'")" = 1 ]
api POST /v1/tenants/acme/keys "$A" '{"role":"supervisor","agent":"1001"}'
check key_create_supervisor [ "$HTTP" = 201 -a "$(jr .agent)" = 1001 ]
SUP=$(jr .token)
api POST /v1/tenants/acme/keys "$A" '{"role":"agent","agent":"1002"}'
expect_eq key_create_agent "$HTTP" 201
AG=$(jr .token)
api POST /v1/tenants/acme/keys "$A" '{"role":"records_admin"}'
expect_eq key_create_records_admin "$HTTP" 201
RA=$(jr .token)
api POST /v1/tenants/acme/keys "$A" '{"role":"supervisor"}'
check key_supervisor_needs_agent_422 [ "$HTTP" = 422 -a "$(jr .error.field)" = agent ]
api POST /v1/tenants/acme/keys "$A" '{"role":"read_only","agent":"1001"}'
expect_eq key_read_only_no_agent_422 "$HTTP" 422
api POST /v1/tenants/acme/keys "$A" '{"role":"root"}'
check key_bad_role_422 [ "$HTTP" = 422 -a "$(jr .error.field)" = role ]
api POST /v1/tenants/acme/keys "$A" '{"role":"agent","agent":"9999"}'
expect_eq key_unknown_agent_422 "$HTTP" 422
new_agent beta 2001 s3cret-pass-9
api POST /v1/tenants/acme/keys "$A" '{"role":"agent","agent":"2001"}'
expect_eq key_other_tenants_agent_422 "$HTTP" 422
api POST /v1/tenants/acme/keys "$A" '{"role":"admin","token":"mine"}'
expect_eq key_unknown_field_400 "$HTTP" 400
api GET /v1/tenants/acme/keys "$A"
check key_list_no_tokens [ "$HTTP" = 200 -a "$(jr '.items|length')" = 5 -a "$(jq -r '[.items[]|has("token")]|any' "$RESP")" = false ]
api GET /v1/tenants/acme/keys "$RO"
expect_eq key_list_read_only_403 "$HTTP" 403
api POST /v1/tenants/acme/keys "$SUP" '{"role":"admin"}'
check key_create_by_supervisor_403 [ "$HTTP" = 403 -a "$(jr .error.code)" = forbidden ]
api POST /v1/tenants/acme/keys "${KEY[beta]}" '{"role":"admin"}'
expect_eq key_create_other_tenant_404 "$HTTP" 404
api GET /v1/tenants/acme/keys "${KEY[beta]}"
expect_eq key_list_other_tenant_404 "$HTTP" 404
api DELETE "/v1/tenants/acme/keys/$RO_ID" "${KEY[beta]}"
expect_eq key_revoke_other_tenant_404 "$HTTP" 404
api GET /v1/tenants/acme/audit "${KEY[beta]}"
expect_eq audit_other_tenant_404 "$HTTP" 404

# --- the matrix
api GET /v1/tenants/acme/queues "$RO"
expect_eq read_only_get_200 "$HTTP" 200
api POST /v1/tenants/acme/queues "$RO" '{"name":"ro"}'
check read_only_write_403 [ "$HTTP" = 403 -a "$(jr .error.code)" = forbidden ]
api PATCH /v1/tenants/acme/agents/1002 "$RO" '{"name":"x"}'
expect_eq read_only_patch_403 "$HTTP" 403
api PUT /v1/tenants/acme/recording "$RO" '{"policy":"none"}'
expect_eq read_only_policy_403 "$HTTP" 403
api GET /v1/tenants/acme/audit "$RO"
expect_eq read_only_audit_403 "$HTTP" 403
api GET /v1/tenants/acme/queues/sales "$SUP"
expect_eq supervisor_own_queue_200 "$HTTP" 200
api GET /v1/tenants/acme/queues/repair "$SUP"
check supervisor_other_queue_404 [ "$HTTP" = 404 -a "$(jr .error.code)" = not_found ]
api GET /v1/tenants/acme/agents/1002 "$SUP"
expect_eq supervisor_agent_of_its_queue_200 "$HTTP" 200
api GET /v1/tenants/acme/agents/1003 "$SUP"
expect_eq supervisor_agent_of_other_queue_404 "$HTTP" 404
api GET /v1/tenants/acme/agents/1001 "$SUP"
expect_eq supervisor_itself_200 "$HTTP" 200
api DELETE /v1/tenants/acme/queues/sales "$SUP"
expect_eq supervisor_delete_queue_403 "$HTTP" 403
api GET /v1/tenants/acme/agents/1002 "$AG"
check agent_itself_200 [ "$HTTP" = 200 -a "$(jr .extension)" = 1002 ]
api GET /v1/tenants/acme/agents/1001 "$AG"
expect_eq agent_other_agent_404 "$HTTP" 404
api GET /v1/tenants/acme/queues "$AG"
expect_eq agent_queue_list_403 "$HTTP" 403
api GET /v1/tenants/acme/calls "$AG"
expect_eq agent_call_list_403 "$HTTP" 403
api GET /v1/tenants/acme/calls "$RA"
expect_eq records_admin_calls_200 "$HTTP" 200
api POST /v1/tenants/acme/agents "$RA" '{"extension":"1009","name":"x","password":"s3cret-pass-0"}'
expect_eq records_admin_agent_create_403 "$HTTP" 403
api PUT /v1/tenants/acme/retention "$RA" '{"days":90}'
check records_admin_retention [ "$HTTP" = 200 -a "$(jr .days)" = 90 ]
api PUT /v1/tenants/acme/retention "$A" '{"days":0}'
check retention_zero_422 [ "$HTTP" = 422 -a "$(jr .error.field)" = days ]
api PUT /v1/tenants/acme/retention "$RO" '{"days":30}'
expect_eq read_only_retention_403 "$HTTP" 403
api GET /v1/tenants/acme "$AG"
expect_eq agent_tenant_get_200 "$HTTP" 200
# the first key is admin: it still does everything it did
api GET /v1/tenants/acme/agents "$A"
expect_eq admin_still_lists_agents "$HTTP" 200

# --- revocation, and the audit rows it left
api DELETE "/v1/tenants/acme/keys/$RO_ID" "$A"
expect_eq key_revoke "$HTTP" 204
api GET /v1/tenants/acme/queues "$RO"
expect_eq revoked_key_401 "$HTTP" 401
api DELETE "/v1/tenants/acme/keys/$RO_ID" "$A"
expect_eq key_revoke_twice_404 "$HTTP" 404
api GET "/v1/tenants/acme/audit?object=$RO_ID" "$RA"
check audit_key_rows [ "$HTTP" = 200 -a "$(jr '[.items[].action]|join(",")')" = create_key,revoke_key \
	-a "$(jr '.items[1].role')" = admin -a "$(jr '.items[1].remote')" = 127.0.0.1 \
	-a "$(jr '.items[1].actor|startswith("key:")')" = true ]
api GET "/v1/tenants/acme/audit?limit=2" "$A"
check audit_pages [ "$HTTP" = 200 -a "$(jr '.items|length')" = 2 -a "$(jr .next)" != null ]
api GET "/v1/tenants/acme/audit?after=$(jr .next)&limit=500" "$A"
check audit_next_page [ "$HTTP" = 200 -a "$(jr '.items|length')" -ge 3 ]
api GET "/v1/tenants/acme/audit?after=x1" "$A"
expect_eq audit_bad_cursor_400 "$HTTP" 400
api GET /v1/tenants/beta/audit "${KEY[beta]}"
check audit_tenant_isolated [ "$HTTP" = 200 -a "$(jr '.items|length')" = 0 ]
# append-only, even to tenantd's own role
check audit_no_update [ -z "$(sql_as cc_tenantd "UPDATE cc.audit SET action = 'x'" 2>/dev/null)" -a \
	"$(sql "SELECT count(*) FROM cc.audit WHERE action = 'x'")" = 0 ]
out=$(sql_as cc_tenantd "DELETE FROM cc.audit" 2>&1)
check audit_no_delete_by_tenantd [ "$(sql "SELECT count(*) > 0 FROM cc.audit")" = t ] && echo "# $out" | head -1
out=$(sql "DELETE FROM cc.audit" 2>&1)
check audit_no_delete_by_admin [ "$(sql "SELECT count(*) > 0 FROM cc.audit")" = t ]
out=$(sql "UPDATE cc.audit SET actor = 'me'" 2>&1)
check audit_no_update_by_admin [ "$(sql "SELECT count(*) FROM cc.audit WHERE actor = 'me'")" = 0 ]

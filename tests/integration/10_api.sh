#!/usr/bin/env bash
# The provisioning API against a real tenantd and PostgreSQL: shapes,
# tenant isolation, and every bad input of the issue.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
trap stack_down EXIT
stack_up || exit 1

# --- tenants
api POST /v1/tenants "$OPERATOR" '{"slug":"acme","name":"Acme","timezone":"Asia/Shanghai"}'
expect_eq tenant_create "$HTTP" 201
check tenant_shape [ "$(jr .sip_domain)" = acme.cc.test -a "$(jr '.admin_api_key|startswith("cc_")')" = true -a -n "$(jr .id)" ]
KEY[acme]=$(jr .admin_api_key)
new_tenant beta
api GET /v1/tenants/acme "${KEY[acme]}"
check tenant_get_own_key [ "$HTTP" = 200 -a "$(jr .slug)" = acme -a "$(jr 'has("admin_api_key")')" = false ]
api GET /v1/tenants/beta "${KEY[acme]}"
expect_eq tenant_get_other_404 "$HTTP" 404
api GET /v1/tenants "${KEY[acme]}"
expect_eq tenant_list_needs_operator "$HTTP" 403
api GET '/v1/tenants?limit=1' "$OPERATOR"
check tenant_list_pages [ "$HTTP" = 200 -a "$(jr '.items|length')" = 1 -a "$(jr .next)" = acme ]
api GET '/v1/tenants?limit=1&after=acme' "$OPERATOR"
check tenant_list_next_page [ "$(jr '.items[0].slug')" = beta ]
api POST /v1/tenants "$OPERATOR" '{"slug":"acme","name":"Again","timezone":"UTC"}'
expect_eq tenant_duplicate_409 "$HTTP" 409
api POST /v1/tenants "$OPERATOR" '{"slug":"zed","name":"Zed","timezone":"Mars/Olympus"}'
check tenant_bad_timezone_422 [ "$HTTP" = 422 -a "$(jr .error.field)" = timezone ]
api POST /v1/tenants "$OPERATOR" '{"slug":"Bad Slug","name":"Zed","timezone":"UTC"}'
check tenant_bad_slug_422 [ "$HTTP" = 422 -a "$(jr .error.field)" = slug ]
api PATCH /v1/tenants/beta "$OPERATOR" '{"name":"Beta Corp"}'
check tenant_patch [ "$HTTP" = 200 -a "$(jr .name)" = "Beta Corp" -a "$(jr .timezone)" = Asia/Shanghai ]
api PATCH /v1/tenants/beta "${KEY[beta]}" '{"name":"Mine now"}'
expect_eq tenant_patch_needs_operator "$HTTP" 403

# --- auth
api GET /v1/tenants/acme/agents ""
check no_token_401 [ "$HTTP" = 401 -a "$(jr .error.code)" = unauthenticated ]
api GET /v1/tenants/acme/agents "cc_0000000000000000000000000000000000000000"
expect_eq wrong_token_401 "$HTTP" 401
api POST /v1/trunks "${KEY[acme]}" '{"name":"x","address":"127.0.0.1","port":1}'
expect_eq trunk_needs_operator "$HTTP" 403

# --- agents
api POST /v1/tenants/acme/agents "${KEY[acme]}" '{"extension":"1001","name":"Front desk 1","password":"s3cret-pass"}'
check agent_create [ "$HTTP" = 201 -a "$(jr .extension)" = 1001 -a "$(jr 'has("password")')" = false ]
api POST /v1/tenants/acme/agents "${KEY[acme]}" '{"extension":"1001","name":"Dup","password":"s3cret-pass"}'
expect_eq agent_duplicate_409 "$HTTP" 409
api POST /v1/tenants/beta/agents "${KEY[beta]}" '{"extension":"1001","name":"Beta desk","password":"other-pass"}'
expect_eq agent_same_ext_other_tenant "$HTTP" 201
api GET /v1/tenants/acme/agents/1001 "${KEY[beta]}"
expect_eq agent_other_tenant_404 "$HTTP" 404
api POST /v1/tenants/acme/agents "${KEY[acme]}" '{"extension":1002,"name":"x","password":"s3cret-pass"}'
check agent_wrong_type_400 [ "$HTTP" = 400 -a "$(jr .error.field)" = extension ]
api POST /v1/tenants/acme/agents "${KEY[acme]}" '{"extension":"1002","name":"x","password":"s3cret-pass","admin":true}'
check agent_unknown_field_400 [ "$HTTP" = 400 -a "$(jr .error.field)" = admin ]
api POST /v1/tenants/acme/agents "${KEY[acme]}" '{"extension":"1002","name":"x"}'
check agent_missing_field_400 [ "$HTTP" = 400 -a "$(jr .error.field)" = password ]
api POST /v1/tenants/acme/agents "${KEY[acme]}" '{"extension":"10a2","name":"x","password":"s3cret-pass"}'
check agent_bad_extension_422 [ "$HTTP" = 422 -a "$(jr .error.field)" = extension ]
api PATCH /v1/tenants/acme/agents/1001 "${KEY[acme]}" '{"name":"Desk one"}'
check agent_patch [ "$HTTP" = 200 -a "$(jr .name)" = "Desk one" ]
ha1=$(PGPASSWORD=$(cat "$CC_VAR/secrets/pg_admin") psql -h 127.0.0.1 -p "$CC_PG_PORT" -U cc_admin -d cc -tAc \
	"SELECT ha1 || ' ' || password FROM kamailio.subscriber WHERE username='1001' AND domain='acme.cc.test'")
want=$(printf '1001:acme.cc.test:s3cret-pass' | md5sum | cut -d' ' -f1)
expect_eq agent_subscriber_ha1_only "$ha1" "$want "

# --- strings stored verbatim
weird="O'Brien \"the desk\"; DROP TABLE cc.agents; -- \\\\ ü"
api POST /v1/tenants/acme/agents "${KEY[acme]}" "$(jq -cn --arg n "$weird" '{extension:"1003",name:$n,password:"s3cret-pass"}')"
check sql_metachars_verbatim [ "$HTTP" = 201 -a "$(jr .name)" = "$weird" ]
api GET /v1/tenants/acme/agents/1003 "${KEY[acme]}"
check sql_metachars_read_back [ "$(jr .name)" = "$weird" ]

# --- numbers (the operator assigns them: 15_numbers.sh has the rest)
assign_number acme +8657112345678
assign_number acme +8657112345679
api POST /v1/tenants/acme/numbers "${KEY[acme]}" '{"e164":"+8657112345678","target":{"type":"agent","extension":"1001"}}'
check number_create [ "$HTTP" = 201 -a "$(jr .target.extension)" = 1001 ]
api POST /v1/tenants/beta/numbers "${KEY[beta]}" '{"e164":"+8657112345678","target":{"type":"agent","extension":"1001"}}'
check number_one_tenant_only_403 [ "$HTTP" = 403 -a "$(jr .error.code)" = forbidden ]
api POST /v1/tenants/acme/numbers "${KEY[acme]}" '{"e164":"8657112345679","target":{"type":"agent","extension":"1001"}}'
check number_invalid_e164_422 [ "$HTTP" = 422 -a "$(jr .error.field)" = e164 ]
api POST /v1/tenants/acme/numbers "${KEY[acme]}" '{"e164":"+8657112345679","target":{"type":"agent","extension":"9999"}}'
check number_unknown_agent_422 [ "$HTTP" = 422 -a "$(jr .error.field)" = target.extension ]
api POST /v1/tenants/acme/numbers "${KEY[acme]}" '{"e164":"+8657112345679","target":{"type":"voicemail","extension":"1001"}}'
check number_bad_target_type [ "$HTTP" = 422 -a "$(jr .error.field)" = target.type ]
api GET /v1/tenants/acme/numbers/%2B8657112345678 "${KEY[acme]}"
check number_get [ "$HTTP" = 200 -a "$(jr '."e164"')" = +8657112345678 ]
api GET /v1/tenants/beta/numbers/%2B8657112345678 "${KEY[beta]}"
expect_eq number_other_tenant_404 "$HTTP" 404
api DELETE /v1/tenants/acme/agents/1001 "${KEY[acme]}"
expect_eq agent_delete_while_numbered_409 "$HTTP" 409

# --- block list
api POST /v1/tenants/acme/blocklist "${KEY[acme]}" '{"e164":"+8613900000666"}'
expect_eq block_e164 "$HTTP" 201
api POST /v1/tenants/acme/blocklist "${KEY[acme]}" '{"prefix":"86150"}'
check block_prefix [ "$HTTP" = 201 -a "$(jr .prefix)" = 86150 ]
bid=$(jr .id)
api POST /v1/tenants/acme/blocklist "${KEY[acme]}" '{"e164":"+8613900000666"}'
expect_eq block_duplicate_409 "$HTTP" 409
api POST /v1/tenants/acme/blocklist "${KEY[acme]}" '{}'
expect_eq block_needs_one_field "$HTTP" 400
api GET /v1/tenants/acme/blocklist "${KEY[acme]}"
check block_list [ "$HTTP" = 200 -a "$(jr '.items|length')" = 2 ]
api DELETE "/v1/tenants/beta/blocklist/$bid" "${KEY[beta]}"
expect_eq block_delete_other_tenant_404 "$HTTP" 404
api DELETE "/v1/tenants/acme/blocklist/$bid" "${KEY[acme]}"
expect_eq block_delete "$HTTP" 204

# --- trunks
api POST /v1/trunks "$OPERATOR" '{"name":"carrier1","address":"127.0.0.1","port":16000,"outbound":"127.0.0.1:16500"}'
check trunk_create [ "$HTTP" = 201 -a "$(jr .outbound)" = 127.0.0.1:16500 ]
api POST /v1/trunks "$OPERATOR" '{"name":"carrier2","address":"not-an-ip","port":16000}'
check trunk_bad_address [ "$HTTP" = 422 -a "$(jr .error.field)" = address ]
api POST /v1/trunks "$OPERATOR" '{"name":"carrier2","address":"127.0.0.1","port":16000}'
expect_eq trunk_duplicate_source_409 "$HTTP" 409

# --- request-level errors
RESP=$CC_VAR/resp.json
HTTP=$(curl -sk -o "$RESP" -w '%{http_code}' -X POST -H "Authorization: Bearer ${KEY[acme]}" \
	-H 'Content-Type: application/json' --data-binary '{"extension": "10' "$API/v1/tenants/acme/agents")
check malformed_json_400 [ "$HTTP" = 400 -a "$(jr .error.code)" = invalid_json ]
HTTP=$(curl -sk -o "$RESP" -w '%{http_code}' -X POST -H "Authorization: Bearer ${KEY[acme]}" \
	-H 'Content-Type: text/plain' --data-binary '{}' "$API/v1/tenants/acme/agents")
expect_eq wrong_media_type_415 "$HTTP" 415
head -c $((1024 * 1024 + 10)) /dev/zero | tr '\0' ' ' > "$CC_VAR/big.json"
HTTP=$(curl -sk -o "$RESP" -w '%{http_code}' -X POST -H "Authorization: Bearer ${KEY[acme]}" \
	-H 'Content-Type: application/json' --data-binary @"$CC_VAR/big.json" "$API/v1/tenants/acme/agents")
check body_over_1MiB_413 [ "$HTTP" = 413 -a "$(jr .error.code)" = payload_too_large ]
api GET /v1/nothing-here "${KEY[acme]}"
expect_eq unknown_route_404 "$HTTP" 404
api GET '/v1/tenants/acme/agents?limit=0' "${KEY[acme]}"
check bad_limit_400 [ "$HTTP" = 400 -a "$(jr .error.field)" = limit ]

# --- idempotency
RESP=$CC_VAR/resp.json
for i in 1 2; do
	HTTP=$(curl -sk -o "$RESP" -w '%{http_code}' -X POST -H "Authorization: Bearer ${KEY[acme]}" \
		-H 'Content-Type: application/json' -H 'Idempotency-Key: add-1004' \
		--data-binary '{"extension":"1004","name":"Idem","password":"s3cret-pass"}' "$API/v1/tenants/acme/agents")
	eval "idem$i=\$HTTP:\$(jr .id)"
done
check idempotency_key_replays [ "$idem1" = "$idem2" -a "${idem1%%:*}" = 201 ]

# --- disable
api DELETE /v1/tenants/beta "$OPERATOR"
expect_eq tenant_disable "$HTTP" 204
api GET /v1/tenants/beta "${KEY[beta]}"
expect_eq disabled_tenant_key_401 "$HTTP" 401
api GET /v1/tenants/beta "$OPERATOR"
check disabled_tenant_kept [ "$HTTP" = 200 -a "$(jr .enabled)" = false ]

# --- the OpenAPI document lists exactly the routes tenantd serves
served=$("$TOP/build/tenantd/tenantd" --routes | sort)
documented=$("$TOP/tests/openapi-routes.sh" "$TOP/tenantd/openapi.yaml" | sort)
if [ "$served" = "$documented" ]; then ok openapi_matches_routes
else fail openapi_matches_routes "$(diff <(echo "$served") <(echo "$documented") | tr '\n' ' ')"; fi

# --- PostgreSQL down: 503 with a JSON error
"$TOP/ops/stack.sh" stop pg > /dev/null 2>&1
api GET /v1/tenants/acme/agents "${KEY[acme]}"
check pg_down_503_json [ "$HTTP" = 503 -a "$(jr .error.code)" = unavailable ]
"$TOP/ops/stack.sh" start pg > /dev/null 2>&1
api GET /v1/tenants/acme/agents "${KEY[acme]}"
expect_eq pg_back_200 "$HTTP" 200

#!/usr/bin/env bash
# mediad's catalog (media/catalog.c) against the stack's PostgreSQL as
# cc_mediad: a tenant's prompt, the platform's defaults, another tenant's
# nothing, md_catalog_forget after a replace, flows by version and name,
# the database away (EIO), and a lookup that never blocks the caller's
# loop while the database holds the query (tests/tools/catalog_check.c).
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
trap stack_down EXIT
stack_up || exit 1

new_tenant acme; new_tenant beta
export SOX_OPTS=-V1
sox -n -r 16000 -c 1 "$CC_VAR/welcome.wav" synth 2 sine 440 vol 0.4
curl -sk -o /dev/null -X PUT -H "Authorization: Bearer ${KEY[acme]}" -H "Content-Type: audio/wav" \
     --data-binary "@$CC_VAR/welcome.wav" "$API/v1/tenants/acme/prompts/welcome"
api PUT /v1/tenants/acme/prompts/greeting "${KEY[acme]}" '{"tts":"您好","voice":"zh"}'
check fixture_prompts [ "$HTTP" = 201 ]
FID=$(uuid) VID=$(uuid)
sql "BEGIN; INSERT INTO cc.flows (id, tenant_id, name, version_id) VALUES ('$FID', '${TID[acme]}', 'main', '$VID');
     INSERT INTO cc.flow_versions (id, flow_id, tenant_id, body, prompts) VALUES ('$VID', '$FID', '${TID[acme]}',
       '{\"start\":\"bye\",\"nodes\":{\"bye\":{\"type\":\"hangup\"}}}', '{}'); COMMIT;" > /dev/null
# cc_mediad logs in (ops/stack.sh gives it a password where it runs mediad)
PW=$(openssl rand -hex 16)
sql "ALTER ROLE cc_mediad LOGIN PASSWORD '$PW'" > /dev/null
MEDIAD_URL="postgresql://cc_mediad:$PW@127.0.0.1:$CC_PG_PORT/cc"
ADMIN_URL="postgresql://cc_admin:$(cat "$CC_VAR/secrets/pg_admin")@127.0.0.1:$CC_PG_PORT/cc"
expect_eq mediad_cannot_write "$(PGPASSWORD=$PW psql -h 127.0.0.1 -p "$CC_PG_PORT" -U cc_mediad -d cc -tAXc \
  "DELETE FROM cc.prompts" 2>&1 | grep -c 'permission denied')" 1

"${CC_BUILD:-$TOP/build}/tests/catalog_check" "$MEDIAD_URL" "$ADMIN_URL" "${TID[acme]}" "${TID[beta]}" \
	"${CC_BUILD:-$TOP/build}/prompts" 2>&1 | while IFS= read -r line; do
	case $line in
	"ok - 18_catalog."*) ok "${line#ok - 18_catalog.}" ;;
	"FAIL - 18_catalog."*) fail "${line#FAIL - 18_catalog.}" "see above" ;;
	*" passed, "*" failed") ;;
	*) echo "$line" ;;
	esac
done
exit $FAILED

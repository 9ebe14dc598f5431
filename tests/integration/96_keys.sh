#!/usr/bin/env bash
# Issue 15: tenant key rotation and crypto-shredding (docs/RECORDING.md
# "Keys"): POST .../keys/rotate (admin only) makes version 2, re-wraps every
# recording's data key (the audio untouched, still playing the same bytes),
# destroys version 1's material, audited; another tenant 404. Deleting a
# tenant (the operator's DELETE) destroys every version of its key: its
# recordings answer 410 key_destroyed, another tenant's still play.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
trap stack_down EXIT
stack_up || exit 1

new_tenant acme
new_tenant beta
A=${KEY[acme]}
B=${KEY[beta]}
api POST /v1/tenants/acme/keys "$A" '{"role":"records_admin"}'
RA=$(jr .token)
api POST /v1/tenants/acme/keys "$A" '{"role":"read_only"}'
RO=$(jr .token)
api POST /v1/tenants/beta/keys "$B" '{"role":"records_admin"}'
RAB=$(jr .token)
TA=$(sql "SELECT id FROM cc.tenants WHERE slug = 'acme'")
TB=$(sql "SELECT id FROM cc.tenants WHERE slug = 'beta'")

STORE=$CC_VAR/recordings
audio() { # slug id token: HTTP, the body in $CC_VAR/audio
	HTTP=$(curl -sk -o "$CC_VAR/audio" -w '%{http_code}' \
		-H "Authorization: Bearer $3" "$API/v1/tenants/$1/recordings/$2/audio")
}
R1=00000000-0000-4000-8000-0000000000a1
R2=00000000-0000-4000-8000-0000000000a2
R3=00000000-0000-4000-8000-0000000000a3
RP=00000000-0000-4000-8000-0000000000a4
RB=00000000-0000-4000-8000-0000000000b1
P1=$(mkrec_row "$TA" $R1 2026/11/11)
P2=$(mkrec_row "$TA" $R2 2026/11/12)
P3=$(mkrec_row "$TA" $R3 2026/11/13)
PB=$(mkrec_row "$TB" $RB 2026/11/13)
# a purged one: its wrapped key emptied (DELETE), not re-wrapped
sql "INSERT INTO cc.recordings (id, tenant_id, call_id, state, started_at, path, kek_version, wrapped_key)
     VALUES ('$RP', '$TA', gen_random_uuid(), 'purged', now(), 'gone', 1, '')" > /dev/null
# a row holding another recording's wrapped key (its AAD names R1): it
# does not unwrap, so the rotation leaves it as it is and does not count it
RX=00000000-0000-4000-8000-0000000000a5
PX=$(mkrec_row "$TA" $RX 2026/11/14)
sql "UPDATE cc.recordings SET wrapped_key = (SELECT wrapped_key FROM cc.recordings WHERE id = '$R1') WHERE id = '$RX'" > /dev/null
check mkrec_wrote [ -n "$P1" -a -f "$STORE/$P1" -a -n "$PB" -a -f "$STORE/$PB" ]
audio acme $R1 "$RA"
check audio_before_rotation [ "$HTTP" = 200 ]
check audio_before_is_plain cmp -s "$CC_VAR/audio" "$CC_VAR/plain.ogg"
SUM1=$(sha256sum < "$STORE/$P1")
WK1=$(sql "SELECT encode(wrapped_key, 'hex') FROM cc.recordings WHERE id = '$R1'")

# only an admin key rotates; another tenant's admin key does not find acme
api POST /v1/tenants/acme/keys/rotate "$RA"
expect_eq rotate_records_admin_403 "$HTTP" 403
api POST /v1/tenants/acme/keys/rotate "$RO"
expect_eq rotate_read_only_403 "$HTTP" 403
api POST /v1/tenants/acme/keys/rotate "$B"
expect_eq rotate_other_tenant_404 "$HTTP" 404
check no_rotation_yet [ "$(sql "SELECT count(*) FROM cc.tenant_keys WHERE tenant_id = '$TA'")" = 1 ]

api POST /v1/tenants/acme/keys/rotate "$A"
check rotate_200 [ "$HTTP" = 200 -a "$(jr .kek_version)" = 2 -a "$(jr .rewrapped)" = 3 ]
check rows_version_2 [ "$(sql "SELECT string_agg(kek_version::text, ',' ORDER BY id) FROM cc.recordings WHERE tenant_id = '$TA'")" = 2,2,2,1,1 ]
check wrapped_key_changed [ "$(sql "SELECT encode(wrapped_key, 'hex') FROM cc.recordings WHERE id = '$R1'")" != "$WK1" ]
check file_untouched [ "$(sha256sum < "$STORE/$P1")" = "$SUM1" ]
check v1_destroyed [ "$(sql "SELECT wrapped IS NULL AND destroyed_at IS NOT NULL AND retired_at IS NOT NULL FROM cc.tenant_keys WHERE tenant_id = '$TA' AND version = 1")" = t ]
check v2_current [ "$(sql "SELECT wrapped IS NOT NULL AND retired_at IS NULL FROM cc.tenant_keys WHERE tenant_id = '$TA' AND version = 2")" = t ]
check beta_untouched [ "$(sql "SELECT string_agg(version::text || (wrapped IS NOT NULL)::text, ',') FROM cc.tenant_keys WHERE tenant_id = '$TB'")" = 1true ]
audio acme $R1 "$RA"
check audio_after_rotation [ "$HTTP" = 200 ]
check audio_after_same_bytes cmp -s "$CC_VAR/audio" "$CC_VAR/plain.ogg"
audio acme $R3 "$RA"
check audio_after_rotation_r3 [ "$HTTP" = 200 ]
audio acme $RX "$RA"
# left on version 1, whose material the rotation destroyed
check not_its_key_410 [ "$HTTP" = 410 -a "$(jq -r .error.code "$CC_VAR/audio")" = key_destroyed ]
check audit_rotate [ "$(sql "SELECT actor LIKE 'key:%' AND object_type = 'tenant_key' AND object_id = '$TA' AND (detail->>'kek_version')::int = 2 AND (detail->>'rewrapped')::int = 3 FROM cc.audit WHERE tenant_id = '$TA' AND action = 'rotate'")" = t ]
# again: version 3, version 2 destroyed in its turn
api POST /v1/tenants/acme/keys/rotate "$A"
check rotate_again_3 [ "$HTTP" = 200 -a "$(jr .kek_version)" = 3 -a "$(jr .rewrapped)" = 3 ]
check only_v3_material [ "$(sql "SELECT string_agg(version::text, ',') FROM cc.tenant_keys WHERE tenant_id = '$TA' AND wrapped IS NOT NULL")" = 3 ]
audio acme $R2 "$RA"
check audio_after_second_rotation [ "$HTTP" = 200 ]
# the operator rotates too
api POST /v1/tenants/beta/keys/rotate "$OPERATOR"
check operator_rotate_beta [ "$HTTP" = 200 -a "$(jr .kek_version)" = 2 -a "$(jr .rewrapped)" = 1 ]
audio beta $RB "$RAB"
check beta_audio_after_rotation [ "$HTTP" = 200 ]

# deleting acme destroys every version: its recordings 410, beta's play
api DELETE /v1/tenants/acme "$OPERATOR"
expect_eq delete_tenant_204 "$HTTP" 204
check acme_material_gone [ "$(sql "SELECT count(*) FROM cc.tenant_keys WHERE tenant_id = '$TA' AND (wrapped IS NOT NULL OR destroyed_at IS NULL)")" = 0 ]
check acme_rows_kept [ "$(sql "SELECT count(*) FROM cc.tenant_keys WHERE tenant_id = '$TA'")" = 3 ]
audio acme $R1 "$RA"
expect_eq deleted_tenant_key_401 "$HTTP" 401
audio acme $R1 "$OPERATOR"
check audio_key_destroyed_410 [ "$HTTP" = 410 -a "$(jq -r .error.code "$CC_VAR/audio")" = key_destroyed ]
check audit_410 [ "$(sql "SELECT string_agg(actor || ' ' || (detail->>'error'), ',') FROM cc.audit WHERE object_id = '$R1' AND action = 'download_failed'")" = "operator key_destroyed" ]
check file_still_there [ "$(sha256sum < "$STORE/$P1")" = "$SUM1" ]
audio beta $RB "$RAB"
check beta_still_plays [ "$HTTP" = 200 ]
check beta_same_bytes cmp -s "$CC_VAR/audio" "$CC_VAR/plain.ogg"
check beta_material_kept [ "$(sql "SELECT count(*) FROM cc.tenant_keys WHERE tenant_id = '$TB' AND wrapped IS NOT NULL")" = 1 ]
# re-enabling acme does not bring the key back
api PATCH /v1/tenants/acme "$OPERATOR" '{"enabled":true}'
audio acme $R1 "$OPERATOR"
expect_eq reenabled_still_410 "$HTTP" 410

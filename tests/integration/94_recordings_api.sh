#!/usr/bin/env bash
# Issue 15: recordings search and metadata (docs/RECORDING.md "Search and
# metadata"): the filters, paging, purged only when asked, a supervisor
# only its queues, another tenant 404, legal hold by records_admin only,
# and the audit rows of each read and hold; DELETE, the disposition filter
# and the audio download of real encrypted files (tests/tools/mkrec). The
# rows are inserted as mediad's recorder would write them.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
trap stack_down EXIT
stack_up || exit 1

new_tenant acme
new_tenant beta
A=${KEY[acme]}
B=${KEY[beta]}
api POST /v1/tenants/acme/queues "$A" '{"name":"sales"}'
api POST /v1/tenants/acme/queues "$A" '{"name":"repair"}'
new_agent acme 1001 s3cret-pass-1
new_agent acme 1002 s3cret-pass-2
api PATCH /v1/tenants/acme/agents/1001 "$A" '{"supervises":["sales"]}'
expect_eq agent_supervises "$HTTP" 200
api POST /v1/tenants/acme/keys "$A" '{"role":"supervisor","agent":"1001"}'
SUP=$(jr .token)
api POST /v1/tenants/acme/keys "$A" '{"role":"agent","agent":"1002"}'
AG=$(jr .token)
api POST /v1/tenants/acme/keys "$A" '{"role":"records_admin"}'
RA=$(jr .token)
api POST /v1/tenants/acme/keys "$A" '{"role":"read_only"}'
RO=$(jr .token)

TA=$(sql "SELECT id FROM cc.tenants WHERE slug = 'acme'")
TB=$(sql "SELECT id FROM cc.tenants WHERE slug = 'beta'")
R1=00000000-0000-4000-8000-000000000001
R2=00000000-0000-4000-8000-000000000002
R3=00000000-0000-4000-8000-000000000003
R4=00000000-0000-4000-8000-000000000004
R5=00000000-0000-4000-8000-000000000005
RB=00000000-0000-4000-8000-0000000000b1
ins() { # id tenant state started caller callee queue agent
	sql "INSERT INTO cc.recordings (id, tenant_id, call_id, state, started_at, caller, callee, queue, agent,
	     path, kek_version, wrapped_key, bytes, sha256) VALUES ('$1', '$2', gen_random_uuid(), '$3', '$4',
	     '$5', '$6', '$7', '$8', 'secret/path/$1', 1, '\\x0102', 1234, 'ab')" > /dev/null
}
ins $R1 "$TA" complete   2026-11-01T10:00:00Z +4930111 1001 sales  1002
ins $R2 "$TA" complete   2026-11-02T10:00:00Z +4930222 1001 repair 1003
ins $R3 "$TA" failed     2026-11-03T10:00:00Z 1002 +4930111 sales 1002
ins $R4 "$TA" purged     2026-11-04T10:00:00Z +4930111 1001 sales 1002
ins $R5 "$TA" recording  2026-11-05T10:00:00Z +4930333 1001 sales 1002
ins $RB "$TB" complete   2026-11-03T10:00:00Z +4930111 1001 sales 1002
ids() { jr '[.items[].id[-1:]]|join(",")'; }

api GET /v1/tenants/acme/recordings "$A"
check list_newest_first_no_purged [ "$HTTP" = 200 -a "$(ids)" = 5,3,2,1 ]
check list_no_secrets [ "$(jr '.items[0]|has("path") or has("wrapped_key") or has("kek_version") or has("instance")')" = false ]
api GET "/v1/tenants/acme/recordings?number=%2B4930111" "$A"
check filter_number_caller_or_callee [ "$(ids)" = 3,1 ]
api GET "/v1/tenants/acme/recordings?agent=1003" "$A"
check filter_agent [ "$(ids)" = 2 ]
api GET "/v1/tenants/acme/recordings?queue=sales" "$A"
check filter_queue [ "$(ids)" = 5,3,1 ]
api GET "/v1/tenants/acme/recordings?from=2026-11-02T00:00:00Z&to=2026-11-03T12:00:00Z" "$A"
check filter_from_to [ "$(ids)" = 3,2 ]
api GET "/v1/tenants/acme/recordings?state=failed" "$A"
check filter_state [ "$(ids)" = 3 ]
api GET "/v1/tenants/acme/recordings?state=purged" "$A"
check filter_state_purged [ "$(ids)" = 4 ]
api GET "/v1/tenants/acme/recordings?state=gone" "$A"
check bad_state_422 [ "$HTTP" = 422 -a "$(jr .error.field)" = state ]
api GET "/v1/tenants/acme/recordings?from=yesterday" "$A"
check bad_from_422 [ "$HTTP" = 422 -a "$(jr .error.field)" = from ]
api GET "/v1/tenants/acme/recordings?to=2026-13-45T99:00:00Z" "$A"
expect_eq bad_to_422 "$HTTP" 422
api GET "/v1/tenants/acme/recordings?limit=2" "$A"
check page_1 [ "$HTTP" = 200 -a "$(ids)" = 5,3 -a "$(jr .next)" = $R3 ]
api GET "/v1/tenants/acme/recordings?limit=2&after=$R3" "$A"
check page_2 [ "$(ids)" = 2,1 ]
api GET "/v1/tenants/acme/recordings?after=$RB" "$A"
expect_eq after_other_tenant_400 "$HTTP" 400
api GET "/v1/tenants/acme/recordings?limit=0" "$A"
expect_eq bad_limit_400 "$HTTP" 400

# --- roles and tenants
api GET /v1/tenants/acme/recordings "$SUP"
check supervisor_own_queues [ "$HTTP" = 200 -a "$(ids)" = 5,3,1 ]
api GET /v1/tenants/acme/recordings/$R2 "$SUP"
expect_eq supervisor_other_queue_404 "$HTTP" 404
api GET /v1/tenants/acme/recordings/$R1 "$SUP"
expect_eq supervisor_own_queue_200 "$HTTP" 200
api GET /v1/tenants/acme/recordings "$AG"
expect_eq agent_list_403 "$HTTP" 403
api GET /v1/tenants/acme/recordings/$R1 "$AG"
expect_eq agent_get_403 "$HTTP" 403
api GET /v1/tenants/acme/recordings "$B"
expect_eq other_tenant_list_404 "$HTTP" 404
api GET /v1/tenants/beta/recordings "$B"
check beta_sees_only_its_own [ "$HTTP" = 200 -a "$(ids)" = 1 -a "$(jr '.items[0].id')" = $RB ]
api GET /v1/tenants/beta/recordings/$R1 "$B"
expect_eq other_tenant_get_404 "$HTTP" 404
api GET /v1/tenants/acme/recordings/$R1 "$B"
expect_eq other_tenant_key_get_404 "$HTTP" 404
api GET /v1/tenants/acme/recordings/nope "$A"
expect_eq malformed_id_404 "$HTTP" 404
api GET /v1/tenants/acme/recordings/00000000-0000-4000-8000-0000000000ff "$A"
expect_eq unknown_id_404 "$HTTP" 404

# --- metadata
api GET /v1/tenants/acme/recordings/$R1 "$RO"
check get_metadata [ "$HTTP" = 200 -a "$(jr .recording.id)" = $R1 -a "$(jr .recording.caller)" = +4930111 \
	-a "$(jr .recording.bytes)" = 1234 -a "$(jr .recording.legal_hold)" = false -a "$(jr '.recording.pauses|length')" = 0 ]
check get_no_secrets [ "$(jr '.recording|has("path") or has("wrapped_key") or has("kek_version") or has("instance")')" = false ]
check get_fields [ "$(jr '.recording|keys|join(",")')" = \
	agent,audio_bytes,bytes,call,callee,caller,direction,duration_ms,ended_at,error,hold_reason,id,legal_hold,pauses,queue,sha256,started_at,state ] \
	|| echo "# $(jr '.recording|keys|join(",")')"

# --- legal hold
api PATCH /v1/tenants/acme/recordings/$R1 "$RO" '{"legal_hold":true,"hold_reason":"case 42"}'
expect_eq read_only_patch_403 "$HTTP" 403
api PATCH /v1/tenants/acme/recordings/$R1 "$A" '{"legal_hold":true}'
expect_eq admin_patch_403 "$HTTP" 403
api PATCH /v1/tenants/acme/recordings/$R1 "$SUP" '{"legal_hold":true}'
expect_eq supervisor_patch_403 "$HTTP" 403
api PATCH /v1/tenants/acme/recordings/$R1 "$RA" '{"legal_hold":true,"colour":"red"}'
expect_eq patch_unknown_field_400 "$HTTP" 400
api PATCH /v1/tenants/acme/recordings/$R1 "$RA" '{"legal_hold":"yes"}'
expect_eq patch_wrong_type_400 "$HTTP" 400
api PATCH /v1/tenants/acme/recordings/$RB "$RA" '{"legal_hold":true}'
expect_eq patch_other_tenant_404 "$HTTP" 404
api PATCH /v1/tenants/acme/recordings/$R1 "$RA" '{"legal_hold":true,"hold_reason":"case 42"}'
check patch_hold [ "$HTTP" = 200 -a "$(jr .recording.legal_hold)" = true -a "$(jr .recording.hold_reason)" = "case 42" ]
check hold_in_db [ "$(sql "SELECT legal_hold::text || hold_reason FROM cc.recordings WHERE id = '$R1'")" = "truecase 42" ]
api PATCH /v1/tenants/acme/recordings/$R1 "$RA" '{"legal_hold":false}'
check patch_release [ "$HTTP" = 200 -a "$(jr .recording.legal_hold)" = false -a "$(jr .recording.hold_reason)" = null ]
check beta_untouched [ "$(sql "SELECT legal_hold FROM cc.recordings WHERE id = '$RB'")" = f ]

# --- the audit rows: the reads (admin's get of nothing is not a read), hold, release
check audit_reads [ "$(sql "SELECT count(*) FROM cc.audit WHERE object_id = '$R1' AND object_type = 'recording' AND action = 'read'")" = 2 ]
check audit_hold_release [ "$(sql "SELECT string_agg(action, ',' ORDER BY id) FROM cc.audit WHERE object_id = '$R1' AND action IN ('hold','release')")" = hold,release ]
check audit_none_for_refused [ "$(sql "SELECT count(*) FROM cc.audit WHERE object_id IN ('$R2', '$RB')")" = 0 ]
check audit_tenant [ "$(sql "SELECT count(DISTINCT tenant_id) FROM cc.audit WHERE object_id = '$R1'")" = 1 ]

# --- DELETE (docs/RECORDING.md "Deletion"): records_admin only; the file
# goes from the store, the row stays as a purged tombstone, audited
R6=00000000-0000-4000-8000-000000000006
R7=00000000-0000-4000-8000-000000000007
R8=00000000-0000-4000-8000-000000000008
ins $R6 "$TA" complete   2026-11-06T10:00:00Z +4930444 1001 sales 1002
ins $R7 "$TA" complete   2026-11-07T10:00:00Z +4930444 1001 sales 1002
ins $R8 "$TA" failed     2026-11-08T10:00:00Z +4930444 1001 sales 1002
K6=$TA/2026/11/06/$R6.ccr
sql "UPDATE cc.recordings SET path = '$K6' WHERE id = '$R6'" > /dev/null
sql "UPDATE cc.recordings SET path = '$TA/2026/11/08/$R8.ccr' WHERE id = '$R8'" > /dev/null
sql "UPDATE cc.recordings SET legal_hold = true, hold_reason = 'case 7' WHERE id = '$R7'" > /dev/null
STORE=$CC_VAR/recordings
mkdir -p "$STORE/$TA/2026/11/06" && echo encrypted > "$STORE/$K6"
api DELETE /v1/tenants/acme/recordings/$R6 "$A"
expect_eq admin_delete_403 "$HTTP" 403
api DELETE /v1/tenants/acme/recordings/$R6 "$RO"
expect_eq read_only_delete_403 "$HTTP" 403
api DELETE /v1/tenants/acme/recordings/$R6 "$SUP"
expect_eq supervisor_delete_403 "$HTTP" 403
api DELETE /v1/tenants/acme/recordings/$R6 "$AG"
expect_eq agent_delete_403 "$HTTP" 403
api POST /v1/tenants/beta/keys "$B" '{"role":"records_admin"}'
RAB=$(jr .token)
api DELETE /v1/tenants/beta/recordings/$R6 "$RAB"
expect_eq other_tenant_delete_404 "$HTTP" 404
api DELETE /v1/tenants/acme/recordings/$R6 "$RAB"
expect_eq other_tenant_key_delete_404 "$HTTP" 404
api DELETE /v1/tenants/acme/recordings/$RB "$RA"
expect_eq delete_other_tenants_id_404 "$HTTP" 404
api DELETE /v1/tenants/acme/recordings/nope "$RA"
expect_eq delete_malformed_404 "$HTTP" 404
check refused_deletes_kept_the_file [ -f "$STORE/$K6" ]
api DELETE /v1/tenants/acme/recordings/$R7 "$RA"
check delete_held_409 [ "$HTTP" = 409 -a "$(jr .error.code)" = held ]
check held_untouched [ "$(sql "SELECT state FROM cc.recordings WHERE id = '$R7'")" = complete ]
api DELETE /v1/tenants/acme/recordings/$R5 "$RA"
check delete_in_progress_409 [ "$HTTP" = 409 -a "$(jr .error.code)" = in_progress ]
api DELETE /v1/tenants/acme/recordings/$R6 "$RA"
check delete_200 [ "$HTTP" = 200 -a "$(jr .recording.state)" = purged ]
check delete_removed_the_file [ ! -e "$STORE/$K6" ]
check delete_kept_the_row [ "$(sql "SELECT state || length(wrapped_key) FROM cc.recordings WHERE id = '$R6'")" = purged0 ]
api GET /v1/tenants/acme/recordings/$R6 "$RA"
check get_after_delete_purged [ "$HTTP" = 200 -a "$(jr .recording.state)" = purged ]
api DELETE /v1/tenants/acme/recordings/$R6 "$RA"
expect_eq delete_again_404 "$HTTP" 404
# a failed recording may have no file: still purged
api DELETE /v1/tenants/acme/recordings/$R8 "$RA"
check delete_missing_file_200 [ "$HTTP" = 200 -a "$(sql "SELECT state FROM cc.recordings WHERE id = '$R8'")" = purged ]
check audit_delete [ "$(sql "SELECT string_agg(action || ':' || role, ',') FROM cc.audit WHERE object_id = '$R6' AND object_type = 'recording' AND action = 'delete'")" = delete:records_admin ]
check audit_no_delete_refused [ "$(sql "SELECT count(*) FROM cc.audit WHERE object_id IN ('$R7', '$R5') AND action = 'delete'")" = 0 ]
check beta_not_deleted [ "$(sql "SELECT state FROM cc.recordings WHERE id = '$RB'")" = complete ]

# --- the disposition filter: the recording's call's disposition (cc.calls)
R9=00000000-0000-4000-8000-000000000009
R10=00000000-0000-4000-8000-000000000010
C9=00000000-0000-4000-8000-0000000000c9
C10=00000000-0000-4000-8000-0000000000ca
CB=00000000-0000-4000-8000-0000000000cb
sql "INSERT INTO cc.calls (id, tenant_id, disposition) VALUES ('$C9', '$TA', 'complaint'),
     ('$C10', '$TA', 'suggestion'), ('$CB', '$TB', 'complaint')" > /dev/null
ins $R9  "$TA" complete 2026-11-09T10:00:00Z +4930555 1001 sales 1002
ins $R10 "$TA" complete 2026-11-10T10:00:00Z +4930555 1001 sales 1002
sql "UPDATE cc.recordings SET call_id = '$C9' WHERE id = '$R9'" > /dev/null
sql "UPDATE cc.recordings SET call_id = '$C10' WHERE id = '$R10'" > /dev/null
sql "UPDATE cc.recordings SET call_id = '$CB' WHERE id = '$RB'" > /dev/null
api GET "/v1/tenants/acme/recordings?disposition=complaint" "$A"
check filter_disposition [ "$HTTP" = 200 -a "$(jr '[.items[].id]|join(",")')" = $R9 ]
api GET "/v1/tenants/acme/recordings?disposition=suggestion&number=%2B4930555" "$A"
check filter_disposition_and_number [ "$HTTP" = 200 -a "$(jr '[.items[].id]|join(",")')" = $R10 ]
api GET "/v1/tenants/acme/recordings?disposition=consultation" "$A"
check filter_disposition_none [ "$HTTP" = 200 -a "$(jr '.items|length')" = 0 ]
api GET "/v1/tenants/beta/recordings?disposition=complaint" "$B"
check filter_disposition_own_tenant [ "$HTTP" = 200 -a "$(jr '[.items[].id]|join(",")')" = $RB ]
api GET "/v1/tenants/acme/recordings?disposition=complaint" "$SUP"
check filter_disposition_supervisor [ "$HTTP" = 200 -a "$(jr '[.items[].id]|join(",")')" = $R9 ]
api GET "/v1/tenants/acme/recordings?disposition=$(printf 'a%.0s' $(seq 33))" "$A"
check disposition_too_long_422 [ "$HTTP" = 422 -a "$(jr .error.field)" = disposition ]
api GET "/v1/tenants/acme/recordings?disposition=Complaint" "$A"
expect_eq disposition_upper_422 "$HTTP" 422
api GET "/v1/tenants/acme/recordings?disposition=a%27%20OR%201%3D1" "$A"
expect_eq disposition_quote_422 "$HTTP" 422
api GET "/v1/tenants/acme/recordings?disposition=" "$A"
expect_eq disposition_empty_422 "$HTTP" 422

# --- the audio: a real encrypted recording (tests/tools/mkrec), decrypted
# whole after the file verified; a flipped or cut file is 409 and audited
audio() { # id token: HTTP, the body in $CC_VAR/audio, the headers in $CC_VAR/audio.h
	HTTP=$(curl -sk -D "$CC_VAR/audio.h" -o "$CC_VAR/audio" -w '%{http_code}' \
		-H "Authorization: Bearer $2" "$API/v1/tenants/acme/recordings/$1/audio")
}
RA1=00000000-0000-4000-8000-0000000000a1
RA2=00000000-0000-4000-8000-0000000000a2
RA3=00000000-0000-4000-8000-0000000000a3
P1=$(mkrec_row "$TA" $RA1 2026/11/11 sales)
P2=$(mkrec_row "$TA" $RA2 2026/11/12 sales)
P3=$(mkrec_row "$TA" $RA3 2026/11/13 repair)
check mkrec_wrote [ -n "$P1" -a -f "$STORE/$P1" -a -f "$STORE/$P3" ]
audio $RA1 "$RA"
check audio_200 [ "$HTTP" = 200 ]
check audio_is_the_plaintext cmp -s "$CC_VAR/audio" "$CC_VAR/plain.ogg"
check audio_type [ "$(grep -i '^content-type:' "$CC_VAR/audio.h" | tr -d '\r' | cut -d' ' -f2)" = audio/ogg ]
check audio_accept_ranges grep -qi '^accept-ranges: bytes' "$CC_VAR/audio.h"
check audio_not_the_stored_file not cmp -s "$CC_VAR/audio" "$STORE/$P1"
audio $RA1 "$SUP"
check audio_supervisor_own_queue [ "$HTTP" = 200 ]
audio $RA3 "$SUP"
expect_eq audio_supervisor_other_queue_404 "$HTTP" 404
audio $RA1 "$RO"
expect_eq audio_read_only_403 "$HTTP" 403
audio $RA1 "$AG"
expect_eq audio_agent_403 "$HTTP" 403
audio $RA1 "$RAB"
expect_eq audio_other_tenant_404 "$HTTP" 404
audio $R6 "$RA"
expect_eq audio_purged_404 "$HTTP" 404
audio nope "$RA"
expect_eq audio_malformed_404 "$HTTP" 404
check audit_download [ "$(sql "SELECT count(*) FROM cc.audit WHERE object_id = '$RA1' AND action = 'download'")" = 2 ]
# one flipped byte in the middle of the file
B0=$(od -An -tu1 -j 100000 -N 1 "$STORE/$P2" | tr -d ' ')
printf "\\$(printf %o $((B0 ^ 1)))" | dd of="$STORE/$P2" bs=1 seek=100000 conv=notrunc status=none
audio $RA2 "$RA"
check audio_flipped_409 [ "$HTTP" = 409 -a "$(jq -r .error.code "$CC_VAR/audio")" = recording_corrupt ]
truncate -s 150000 "$STORE/$P3"
audio $RA3 "$RA"
check audio_truncated_409 [ "$HTTP" = 409 -a "$(jq -r .error.code "$CC_VAR/audio")" = recording_corrupt ]
check audit_download_failed [ "$(sql "SELECT string_agg(object_id, ',' ORDER BY id) FROM cc.audit WHERE action = 'download_failed'")" = "$RA2,$RA3" ]
# another recording's wrapped key (its AAD names that recording) does not unwrap
RA4=00000000-0000-4000-8000-0000000000a4
P4=$(mkrec_row "$TA" $RA4 2026/11/14 sales)
sql "UPDATE cc.recordings SET wrapped_key = (SELECT wrapped_key FROM cc.recordings WHERE id = '$RA1') WHERE id = '$RA4'" > /dev/null
audio $RA4 "$RA"
check audio_other_key_409 [ "$HTTP" = 409 -a "$(jq -r .error.code "$CC_VAR/audio")" = recording_corrupt ]
audio $R5 "$RA"
check audio_recording_409 [ "$HTTP" = 409 -a "$(jq -r .error.code "$CC_VAR/audio")" = not_ready ]
check audit_download_failed_detail [ "$(sql "SELECT detail->>'error' FROM cc.audit WHERE object_id = '$RA4' AND action = 'download_failed'")" = "key destroyed or wrong" ]
# Range: one range is 206 with its Content-Range; past the end 416; a
# malformed or multiple one is ignored (the whole stream, 200)
arange() { # id token range
	HTTP=$(curl -sk -D "$CC_VAR/audio.h" -o "$CC_VAR/audio" -w '%{http_code}' -H "Range: $3" \
		-H "Authorization: Bearer $2" "$API/v1/tenants/acme/recordings/$1/audio")
}
crange() { grep -i '^content-range:' "$CC_VAR/audio.h" | tr -d '\r' | cut -d' ' -f2-; }
arange $RA1 "$RA" bytes=100-199
check range_206 [ "$HTTP" = 206 -a "$(crange)" = "bytes 100-199/200000" -a "$(stat -c %s "$CC_VAR/audio")" = 100 ]
check range_bytes cmp -s "$CC_VAR/audio" <(tail -c +101 "$CC_VAR/plain.ogg" | head -c 100)
arange $RA1 "$RA" bytes=199990-
check range_open_end [ "$HTTP" = 206 -a "$(crange)" = "bytes 199990-199999/200000" ]
arange $RA1 "$RA" bytes=-5
check range_suffix [ "$HTTP" = 206 -a "$(crange)" = "bytes 199995-199999/200000" ] && \
	check range_suffix_bytes cmp -s "$CC_VAR/audio" <(tail -c 5 "$CC_VAR/plain.ogg")
arange $RA1 "$RA" bytes=190000-999999
check range_clipped [ "$HTTP" = 206 -a "$(crange)" = "bytes 190000-199999/200000" ]
arange $RA1 "$RA" bytes=200000-
check range_past_end_416 [ "$HTTP" = 416 -a "$(crange)" = "bytes */200000" ]
for bad in bytes=5-3 bytes=-- bytes=1-3-4 "bytes=0-1,5-6" items=0-1 bytes=--3 bytes=1--3; do
	arange $RA1 "$RA" "$bad"
	check "range_ignored_${bad//[^a-z0-9]/_}" [ "$HTTP" = 200 -a "$(stat -c %s "$CC_VAR/audio")" = 200000 ]
done
arange $RA2 "$RA" bytes=0-9
expect_eq range_of_corrupt_409 "$HTTP" 409

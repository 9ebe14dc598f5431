#!/usr/bin/env bash
# Issue 15: the retention purge (docs/RECORDING.md "Retention"): POST
# .../recordings/purge (records_admin) removes the files of the tenant's
# finished recordings older than its retention_days, leaves the rows as
# purged tombstones audited by system:retention, and keeps held, recent
# and other tenants' recordings whole. The rows are inserted as mediad's
# recorder would write them, with a file each in the store.
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
api POST /v1/tenants/beta/keys "$B" '{"role":"records_admin"}'
RAB=$(jr .token)

TA=$(sql "SELECT id FROM cc.tenants WHERE slug = 'acme'")
TB=$(sql "SELECT id FROM cc.tenants WHERE slug = 'beta'")
sql "UPDATE cc.tenants SET retention_days = 30 WHERE id IN ('$TA', '$TB')" > /dev/null
STORE=$CC_VAR/recordings
R1=00000000-0000-4000-8000-000000000001   # old, complete
R2=00000000-0000-4000-8000-000000000002   # old, failed
R3=00000000-0000-4000-8000-000000000003   # old, held
R4=00000000-0000-4000-8000-000000000004   # recent
R5=00000000-0000-4000-8000-000000000005   # old, still recording
RB=00000000-0000-4000-8000-0000000000b1   # beta's, old
ins() { # id tenant state started
	local key=$2/old/$1.ccr
	sql "INSERT INTO cc.recordings (id, tenant_id, call_id, state, started_at, caller, callee,
	     path, kek_version, wrapped_key, bytes, sha256) VALUES ('$1', '$2', gen_random_uuid(), '$3', $4,
	     '+4930111', '1001', '$key', 1, '\\x0102', 10, 'ab')" > /dev/null
	mkdir -p "$STORE/$2/old" && echo encrypted > "$STORE/$key"
}
ins $R1 "$TA" complete  "now() - interval '40 days'"
ins $R2 "$TA" failed    "now() - interval '31 days'"
ins $R3 "$TA" complete  "now() - interval '60 days'"
ins $R4 "$TA" complete  "now() - interval '29 days'"
ins $R5 "$TA" recording "now() - interval '40 days'"
ins $RB "$TB" complete  "now() - interval '40 days'"
sql "UPDATE cc.recordings SET legal_hold = true, hold_reason = 'case 9' WHERE id = '$R3'" > /dev/null
state() { sql "SELECT state FROM cc.recordings WHERE id = '$1'"; }

# --- who may
api POST /v1/tenants/acme/recordings/purge "$A"
expect_eq admin_purge_403 "$HTTP" 403
api POST /v1/tenants/acme/recordings/purge "$RAB"
expect_eq other_tenant_key_purge_404 "$HTTP" 404
api POST /v1/tenants/acme/recordings/purge "$B"
expect_eq other_tenant_admin_purge_404 "$HTTP" 404
check refused_purges_kept_everything [ "$(state $R1)" = complete -a -f "$STORE/$TA/old/$R1.ccr" ]

# --- the purge
api POST /v1/tenants/acme/recordings/purge "$RA"
check purge_counts [ "$HTTP" = 200 -a "$(jr .purged)" = 2 -a "$(jr .held)" = 1 -a "$(jr .failed)" = 0 ] \
	|| echo "# $HTTP $(cat "$RESP")"
check old_ones_purged [ "$(state $R1),$(state $R2)" = purged,purged ]
check old_files_gone bash -c "! test -e '$STORE/$TA/old/$R1.ccr' && ! test -e '$STORE/$TA/old/$R2.ccr'"
check wrapped_keys_emptied [ "$(sql "SELECT count(*) FROM cc.recordings WHERE id IN ('$R1', '$R2') AND wrapped_key = '\\x'")" = 2 ]
check held_kept [ "$(state $R3)" = complete ]
check held_file_kept test -f "$STORE/$TA/old/$R3.ccr"
check recent_kept [ "$(state $R4)" = complete ]
check recent_file_kept test -f "$STORE/$TA/old/$R4.ccr"
check recording_kept [ "$(state $R5)" = recording ]
check recording_file_kept test -f "$STORE/$TA/old/$R5.ccr"
check other_tenant_kept [ "$(state $RB)" = complete ]
check other_tenant_file_kept test -f "$STORE/$TB/old/$RB.ccr"
check audit_purge [ "$(sql "SELECT string_agg(object_id || ':' || actor, ',' ORDER BY object_id) FROM cc.audit WHERE action = 'purge'")" = "$R1:system:retention,$R2:system:retention" ]
check audit_purge_tenant [ "$(sql "SELECT count(*) FROM cc.audit WHERE action = 'purge' AND tenant_id = '$TA'")" = 2 ]

# --- again: nothing more, the held one still counted
api POST /v1/tenants/acme/recordings/purge "$RA"
check purge_again [ "$HTTP" = 200 -a "$(jr .purged)" = 0 -a "$(jr .held)" = 1 ]
api GET "/v1/tenants/acme/recordings?state=purged" "$RA"
check purged_listed [ "$(jr '[.items[].id]|sort|join(",")')" = "$R1,$R2" ]

# --- beta's own purge: its recording, nothing of acme's
api POST /v1/tenants/beta/recordings/purge "$RAB"
check beta_purge [ "$HTTP" = 200 -a "$(jr .purged)" = 1 -a "$(jr .held)" = 0 ]
check beta_purged [ "$(state $RB)" = purged -a ! -e "$STORE/$TB/old/$RB.ccr" ]
check acme_untouched_by_beta [ "$(state $R3),$(state $R4)" = complete,complete ]

# --- a file that cannot be removed (a directory where it should be): that
# one fails, rolled back and counted, the others are done
R8=00000000-0000-4000-8000-000000000008
R9=00000000-0000-4000-8000-000000000009
ins $R8 "$TA" complete "now() - interval '50 days'"
ins $R9 "$TA" complete "now() - interval '50 days'"
rm -f "$STORE/$TA/old/$R8.ccr" && mkdir -p "$STORE/$TA/old/$R8.ccr/x"
api POST /v1/tenants/acme/recordings/purge "$RA"
check purge_one_failed [ "$HTTP" = 200 -a "$(jr .purged)" = 1 -a "$(jr .failed)" = 1 -a "$(jr .held)" = 1 ] \
	|| echo "# $HTTP $(cat "$RESP")"
check failed_one_kept [ "$(state $R8),$(state $R9)" = complete,purged ]
check failed_one_not_audited [ "$(sql "SELECT count(*) FROM cc.audit WHERE object_id = '$R8'")" = 0 ]
rm -rf "$STORE/$TA/old/$R8.ccr"

# --- the timer: tenantd restarted with CC_RETENTION_INTERVAL_S=1 purges
# every tenant's due recordings by itself, still not the held or recent
R6=00000000-0000-4000-8000-000000000006
R7=00000000-0000-4000-8000-0000000000b2
ins $R6 "$TA" incomplete "now() - interval '45 days'"
ins $R7 "$TB" complete   "now() - interval '45 days'"
"$TOP/ops/stack.sh" stop tenantd > /dev/null 2>&1
CC_RETENTION_INTERVAL_S=1 "$TOP/ops/stack.sh" start tenantd > /dev/null 2>&1
for _ in $(seq 20); do
	[ "$(state $R6),$(state $R7),$(state $R8)" = purged,purged,purged ] && break
	sleep 0.5
done
check timer_purged_every_tenant [ "$(state $R6),$(state $R7),$(state $R8)" = purged,purged,purged ]
check timer_files_gone bash -c "! test -e '$STORE/$TA/old/$R6.ccr' && ! test -e '$STORE/$TB/old/$R7.ccr'"
check timer_audit [ "$(sql "SELECT string_agg(actor || '@' || (tenant_id = '$TB'), ',' ORDER BY object_id) FROM cc.audit WHERE action = 'purge' AND object_id IN ('$R6', '$R7')")" = "system:retention@false,system:retention@true" ]
check timer_kept_held_and_recent [ "$(state $R3),$(state $R4),$(state $R5)" = complete,complete,recording ]
api GET /v1/tenants/acme/recordings/$R3 "$RA"
expect_eq api_answers_after_timer "$HTTP" 200

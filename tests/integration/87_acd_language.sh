#!/usr/bin/env bash
# The tenant's language (issue 14: position and wait announcements "in the
# tenant's language", zh and en; docs/ACD.md): a tenant is created in zh by
# default or in the language it names, and changes it by PATCH (its own
# key); "fr" or a number is 422 with nothing stored. routingd answers a
# queue caller's enqueue with the tenant's language, and mediad takes its
# announcements in it (the prompts q_pos_<lang>_N, q_wait_<lang>_M; the
# choice of prompt by language is tests/unit/test_media_queue.c). A change
# of language takes effect for the next caller without a restart, and one
# tenant's language never becomes another's.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
BUILD=${CC_BUILD:-$TOP/build}
if [ ! -x "$BUILD/media/mediad" ]; then
	echo "# skip: $BUILD/media/mediad is not built"
	exit 0
fi
trap 'stack_down' EXIT
stack_up || exit 1

# ------------------------------------------------------------------ the API
new_tenant acme
check default_language_zh [ "$(jr .language)" = zh ]
api POST /v1/tenants "$OPERATOR" '{"slug":"gamma","name":"Gamma Ltd","timezone":"Europe/London","language":"en"}'
check create_in_en [ "$HTTP" = 201 ] && [ "$(jr .language)" = en ]
KEY[gamma]=$(jr .admin_api_key); TID[gamma]=$(jr .id)
api POST /v1/tenants "$OPERATOR" '{"slug":"delta","name":"Delta Ltd","timezone":"Asia/Shanghai","language":"fr"}'
check create_fr_422 [ "$HTTP" = 422 ] && [ "$(jr .error.field)" = language ]
check create_fr_nothing_stored [ "$(sql "SELECT count(*) FROM cc.tenants WHERE slug = 'delta'")" = 0 ]
api PATCH /v1/tenants/acme "${KEY[acme]}" '{"language":"fr"}'
check patch_fr_422 [ "$HTTP" = 422 ]
api PATCH /v1/tenants/acme "${KEY[acme]}" '{"language":5}'
check patch_number_400 [ "$HTTP" = 400 ]
check patch_refused_kept_zh [ "$(sql "SELECT language FROM cc.tenants WHERE slug = 'acme'")" = zh ]
api GET /v1/tenants/gamma "${KEY[gamma]}"
check get_shows_en [ "$HTTP" = 200 ] && [ "$(jr .language)" = en ]

# ----------------------------------------------------- callers in the queue
CARRIER=$(pick_port)
new_trunk carrier1 "$CARRIER"
for t in acme gamma; do
	new_agent $t 1001 $t-pass-1001
	api POST "/v1/tenants/$t/queues" "${KEY[$t]}" '{"name":"repair","strategy":"longest_idle","ring_timeout_s":5,"wrapup_s":0,"max_wait_s":0,"announce":{"position":true,"wait":true,"every_s":30}}'
	check "queue_$t" [ "$HTTP" = 201 ]
	api PATCH "/v1/tenants/$t/agents/1001" "${KEY[$t]}" '{"queues":{"repair":1}}'
	check "member_$t" [ "$HTTP" = 200 ]
done
NA=+8657100000001 NG=+8657100000002
for n in "acme $NA" "gamma $NG"; do
	set -- $n
	assign_number "$1" "$2"
	api POST "/v1/tenants/$1/numbers" "${KEY[$1]}" "{\"e164\":\"$2\",\"target\":{\"type\":\"queue\",\"name\":\"repair\"}}"
	check "number_$1" [ "$HTTP" = 201 ]
done
# each tenant's 1001 signed in but not ready: callers wait (and are
# announced) instead of being refused with "no agents"
check reg_acme sip_register 1001 acme.cc.test acme-pass-1001 "$(pick_port)"
check reg_gamma sip_register 1001 gamma.cc.test gamma-pass-1001 "$(pick_port)"
for t in acme gamma; do
	api PUT "/v1/tenants/$t/agents/1001/state" "${KEY[$t]}" '{"state":"not_ready","reason":"lunch"}'
	check "not_ready_$t" [ "$HTTP" = 200 ]
done
check mediad_alive wait_for 20 media_up
MLOG=$CC_VAR/log/mediad.log
caller() { # TAG NUMBER FROM SECONDS
	(sipp_run "caller-$1" -sf "$SIPP_DIR/carrier_call.xml" -s "$2" -set from "$3" -p "$CARRIER" \
		-default_behaviors all,-abortunexp -m 1 -d "$(( $4 * 1000 ))" -timeout "$(( $4 + 15 ))" -timeout_error)
}
# the mediad line of the caller's enqueue: "queued in repair: position 1, music hold, <lang>"
queued_lang() { # FROM
	local call
	call=$(sql "SELECT id FROM cc.calls WHERE from_number = '$1' AND direction = 'inbound' ORDER BY started_at DESC LIMIT 1")
	[ -n "$call" ] || return 1
	grep -a "$call" "$MLOG" | grep -ao 'queued in repair: position [0-9]*, music [a-z_]*, [a-z]*' | awk '{ print $NF }' | tail -1
}
lang_is() { [ "$(queued_lang "$1")" = "$2" ]; }
caller acme "$NA" +8613800000001 4
caller gamma "$NG" +8613800000002 4
wait
check acme_caller_announced_in_zh wait_for 10 lang_is +8613800000001 zh
check gamma_caller_announced_in_en wait_for 10 lang_is +8613800000002 en
# the announcement itself was asked for: the first comes 1.5 s in
check announcement_asked grep -qa 'queued in repair' "$MLOG"
check no_missing_prompt not grep -qa 'an announcement prompt is missing' "$MLOG"

# acme turns to en: its next caller hears English, gamma's stays en
api PATCH /v1/tenants/acme "${KEY[acme]}" '{"language":"en"}'
check acme_patch_en [ "$HTTP" = 200 ] && [ "$(jr .language)" = en ]
sleep 2
caller acme2 "$NA" +8613800000003 3
check acme_next_caller_in_en wait_for 10 lang_is +8613800000003 en
api PATCH /v1/tenants/gamma "${KEY[gamma]}" '{"language":"zh"}'
check gamma_patch_zh [ "$HTTP" = 200 ]
sleep 2
caller gamma2 "$NG" +8613800000004 3
check gamma_next_caller_in_zh wait_for 10 lang_is +8613800000004 zh
caller acme3 "$NA" +8613800000005 3
check acme_stays_en wait_for 10 lang_is +8613800000005 en
exit $FAILED

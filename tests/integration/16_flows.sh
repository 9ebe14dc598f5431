#!/usr/bin/env bash
# IVR flows through the real tenantd (docs/FLOWS.md): the issue's example
# and the source documents' menu are accepted; every refusal answers 422
# naming the node and field, and stores nothing; a number targets a flow;
# DELETE is refused while a number or another flow's goto uses it; and a
# tenant never sees, targets or gotos another tenant's flows.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
trap stack_down EXIT
stack_up || exit 1

new_tenant acme; new_tenant beta
new_agent acme 1000 acme-pass-1000; new_agent acme 1001 acme-pass-1001
new_agent beta 2001 beta-pass-2001

# Prompts are h-prompts' API; rows made here by SQL stand for uploads
# (s16le PCM, 20 ms of silence at each rate).
prompt_row() { # SLUG NAME
	sql "INSERT INTO cc.prompts (id, tenant_id, name, source, duration_ms, pcm8, pcm16) VALUES
	     (gen_random_uuid(), '${TID[$1]}', '$2', 'upload', 20, decode(repeat('00', 320), 'hex'),
	      decode(repeat('00', 640), 'hex'))" > /dev/null
}
for p in welcome claims service_center order_no; do prompt_row acme "$p"; done
prompt_row beta beta_only

# put SLUG NAME JSON -> $HTTP, $RESP
put() { api PUT "/v1/tenants/$1/flows/$2" "${KEY[$1]}" "$3"; }
flows_named() { sql "SELECT count(*) FROM cc.flows WHERE name = '$1'"; }
versions() { sql "SELECT count(*) FROM cc.flow_versions"; }
# refused NAME FIELD JSON: 422 naming FIELD, and nothing stored
refused() {
	local before; before=$(versions)
	put acme bad "$3"
	check "$1" [ "$HTTP" = 422 -a "$(jr .error.field)" = "$2" ]
	[ "$HTTP" = 422 ] || echo "# $1: HTTP $HTTP $(cat "$RESP")"
	expect_eq "$1.nothing_stored" "$(flows_named bad) $(versions)" "0 $before"
}

EXAMPLE='{"start":"hours",
 "nodes":{
  "hours":  {"type":"schedule","open":"welcome","closed":"closed",
             "week":{"mon-fri":["08:30-18:00"],"sat":["09:00-12:00"]},
             "holidays":["2026-10-01","2026-10-02"]},
  "welcome":{"type":"menu","prompt":"welcome","timeout_s":5,"retries":2,
             "invalid":"invalid","options":{"1":"repair","2":"claims_info","0":"desk"},
             "default":"desk"},
  "claims_info":{"type":"play","prompts":["claims"],"next":"welcome"},
  "repair": {"type":"agent","extension":"1001","timeout_s":20,"next":"desk"},
  "desk":   {"type":"agent","extension":"1000"},
  "closed": {"type":"play","prompts":["closed"],"next":"bye"},
  "bye":    {"type":"hangup"}}}'
# "Welcome to ... service center. For repair appointments press 1, insurance
# claims 2, roadside rescue 3, owners club 5, complaints and suggestions 6,
# an agent 0."
SERVICE='{"start":"welcome","nodes":{
  "welcome":{"type":"menu","prompt":"service_center","options":{"1":"repair","2":"claims",
             "3":"rescue","5":"owners","6":"complaints","0":"agent"},"default":"agent"},
  "repair":{"type":"agent","extension":"1001","next":"agent"},
  "claims":{"type":"play","prompts":["claims"],"next":"welcome"},
  "rescue":{"type":"number","number":"+8675512345678","next":"agent"},
  "owners":{"type":"goto","flow":"owners-club"},
  "complaints":{"type":"collect","prompt":"order_no","var":"order","min_digits":4,
                "max_digits":12,"next":"agent","default":"agent"},
  "agent":{"type":"queue","queue":"service","fallback":"desk"},
  "desk":{"type":"agent","extension":"1000"}}}'
MENU() { # a one-node menu around $1 (a node called x)
	printf '{"start":"m","nodes":{"m":{"type":"menu","prompt":"welcome","options":{"1":"x","9":"h"}},"x":%s,"h":{"type":"hangup"}}}' "$1"
}

# ------------------------------------------------------ accepted flows
put acme main "$EXAMPLE"
check example_accepted_201 [ "$HTTP" = 201 -a "$(jr .name)" = main -a "$(jr .body.start)" = hours ]
v1=$(jr .version)
check example_lists_prompts [ "$(jr '.prompts | sort | join(",")')" = "claims,closed,invalid,welcome" ]
api GET /v1/tenants/acme/flows/main "${KEY[acme]}"
check get_one_current_body [ "$HTTP" = 200 -a "$(jr .version)" = "$v1" -a "$(jr .body.nodes.welcome.options.\"1\")" = repair \
	-a "$(jr .updated_at | grep -c Z)" = 1 ]
put acme main "$EXAMPLE"
check put_again_new_version_200 [ "$HTTP" = 200 -a "$(jr .version)" != "$v1" ]
v2=$(jr .version)
expect_eq put_keeps_old_version "$(sql "SELECT count(*) FROM cc.flow_versions v JOIN cc.flows f ON f.id = v.flow_id WHERE f.name = 'main'")" 2
expect_eq flow_points_at_new "$(sql "SELECT version_id FROM cc.flows WHERE name = 'main'")" "$v2"
# the source documents' menu: its number node needs PSTN, its goto the other flow
put acme service "$SERVICE"
check number_node_without_pstn_422 [ "$HTTP" = 422 -a "$(jr .error.field)" = nodes.rescue.number ]
expect_eq number_node_refused_nothing_stored "$(flows_named service)" 0
assign_number acme +8657112345670
pstn_enable acme +8657112345670
put acme service "$SERVICE"
check service_goto_missing_flow_422 [ "$HTTP" = 422 -a "$(jr .error.field)" = nodes.owners.flow ]
put acme owners-club '{"start":"o","nodes":{"o":{"type":"play","prompts":["goodbye"]}}}'
expect_eq owners_club_default_prompt_201 "$HTTP" 201
# its queue node names the ACD's queue "service" (docs/ACD.md): made first
put acme service "$SERVICE"
check service_queue_missing_422 [ "$HTTP" = 422 -a "$(jr .error.field)" = nodes.agent.queue ]
api POST /v1/tenants/acme/queues "${KEY[acme]}" '{"name":"service"}'
expect_eq service_queue_201 "$HTTP" 201
put acme service "$SERVICE"
check service_center_menu_accepted [ "$HTTP" = 201 -a "$(jr .flows[0])" = owners-club ]
api GET /v1/tenants/acme/flows "${KEY[acme]}"
check list_three [ "$HTTP" = 200 -a "$(jr '[.items[].name] | join(",")')" = "main,owners-club,service" -a "$(jr '.items[0].body')" = null ]
api GET '/v1/tenants/acme/flows?limit=1' "${KEY[acme]}"
check list_paged [ "$(jr '.items | length')" = 1 -a "$(jr .next)" = main ]
api GET '/v1/tenants/acme/flows?limit=5&after=main' "${KEY[acme]}"
check list_after [ "$(jr '[.items[].name] | join(",")')" = "owners-club,service" ]

# ------------------------------------------------------ refusals (422)
refused missing_prompt_422 nodes.m.prompt \
	'{"start":"m","nodes":{"m":{"type":"menu","prompt":"nosuch","options":{"1":"m"}}}}'
refused missing_play_prompt_422 nodes.x.prompts.1 "$(MENU '{"type":"play","prompts":["claims","nosuch"]}')"
refused missing_invalid_prompt_422 nodes.x.invalid \
	"$(MENU '{"type":"menu","prompt":"welcome","invalid":"nosuch","options":{"1":"h"}}')"
refused other_tenants_prompt_422 nodes.x.prompts.0 "$(MENU '{"type":"play","prompts":["beta_only"]}')"
refused unknown_node_422 nodes.m.options.1 \
	'{"start":"m","nodes":{"m":{"type":"menu","prompt":"welcome","options":{"1":"repair2"}}}}'
refused menu_key_not_dtmf_422 nodes.welcome.options.x \
	'{"start":"welcome","nodes":{"welcome":{"type":"menu","prompt":"welcome","options":{"x":"welcome"}}}}'
refused schedule_25h_422 nodes.x.week.mon-fri.0 \
	"$(MENU '{"type":"schedule","open":"h","closed":"h","week":{"mon-fri":["08:30-25:00"]}}')"
refused schedule_bad_day_422 nodes.x.week.mon-sat-sun \
	"$(MENU '{"type":"schedule","open":"h","closed":"h","week":{"mon-sat-sun":[]}}')"
refused holiday_not_date_422 nodes.x.holidays.0 \
	"$(MENU '{"type":"schedule","open":"h","closed":"h","week":{},"holidays":["2026-02-30"]}')"
refused unreachable_node_422 nodes.orphan \
	'{"start":"a","nodes":{"a":{"type":"hangup"},"orphan":{"type":"play","prompts":["claims"],"next":"a"}}}'
refused loop_never_waits_422 nodes.a \
	'{"start":"a","nodes":{"a":{"type":"play","prompts":["claims"],"next":"b"},"b":{"type":"play","prompts":["welcome"],"next":"a"}}}'
refused unknown_type_422 nodes.x.type "$(MENU '{"type":"transfer"}')"
refused unknown_field_422 nodes.x.retries "$(MENU '{"type":"play","prompts":["claims"],"retries":1}')"
refused missing_field_422 nodes.x.extension "$(MENU '{"type":"agent"}')"
refused agent_not_tenants_422 nodes.x.extension "$(MENU '{"type":"agent","extension":"2001"}')"
refused agent_unknown_422 nodes.x.extension "$(MENU '{"type":"agent","extension":"1999"}')"
refused goto_self_422 nodes.x.flow "$(MENU '{"type":"goto","flow":"bad"}')"
refused goto_missing_422 nodes.x.flow "$(MENU '{"type":"goto","flow":"nosuch"}')"
refused start_missing_422 start '{"nodes":{"a":{"type":"hangup"}}}'
refused not_a_flow_422 nodes '{"start":"a"}'
nodes=$(for i in $(seq 0 200); do printf '"n%d":{"type":"hangup"},' "$i"; done)
refused too_many_nodes_422 nodes "{\"start\":\"n0\",\"nodes\":{${nodes%,}}}"
# a 5 MB flow: refused from its declared size, before it is read
python3 -c 'import json; print(json.dumps({"start":"a","nodes":{"a":{"type":"play","prompts":["claims"]}},"pad":"x"*5000000}))' > "$CC_VAR/big.json"
before=$(versions)
HTTP=$(curl -sk -o "$CC_VAR/r.json" -w '%{http_code}' -X PUT -H "Authorization: Bearer ${KEY[acme]}" \
	-H 'Content-Type: application/json' --data-binary @"$CC_VAR/big.json" "$API/v1/tenants/acme/flows/bad" 2>/dev/null)
check flow_5mb_422_names_body [ "$HTTP" = 422 -a "$(jq -r .error.field "$CC_VAR/r.json")" = body ]
# chunked, no declared size: over 64 KiB is refused the same way
head -c 100000 "$CC_VAR/big.json" > "$CC_VAR/mid.json"
HTTP=$(curl -sk -o "$CC_VAR/r.json" -w '%{http_code}' -X PUT -T "$CC_VAR/mid.json" -H 'Transfer-Encoding: chunked' \
	-H "Authorization: Bearer ${KEY[acme]}" -H 'Content-Type: application/json' "$API/v1/tenants/acme/flows/bad" 2>/dev/null)
check flow_chunked_100k_422_names_body [ "$HTTP" = 422 -a "$(jq -r .error.field "$CC_VAR/r.json")" = body ]
expect_eq big_flows_nothing_stored "$(flows_named bad) $(versions)" "0 $before"
api PUT /v1/tenants/acme/flows/Bad%20Name "${KEY[acme]}" "$EXAMPLE"
check bad_flow_name_422 [ "$HTTP" = 422 -a "$(jr .error.field)" = name ]
api PUT /v1/tenants/acme/flows/bad "${KEY[acme]}" '{"start":'
check malformed_json_400 [ "$HTTP" = 400 -a "$(jr .error.code)" = invalid_json ]
HTTP=$(curl -sk -o "$RESP" -w '%{http_code}' -X PUT -H "Authorization: Bearer ${KEY[acme]}" \
	-H 'Content-Type: text/plain' --data-binary "$EXAMPLE" "$API/v1/tenants/acme/flows/bad")
expect_eq wrong_media_type_415 "$HTTP" 415
expect_eq refusals_stored_nothing "$(flows_named bad)" 0

# ------------------------------------------------------ tenant isolation
api GET /v1/tenants/beta/flows "${KEY[beta]}"
check beta_sees_no_flows [ "$HTTP" = 200 -a "$(jr '.items | length')" = 0 ]
api GET /v1/tenants/beta/flows/main "${KEY[beta]}"
expect_eq beta_get_acmes_name_404 "$HTTP" 404
api GET /v1/tenants/acme/flows/main "${KEY[beta]}"
check beta_key_on_acme_refused [ "$HTTP" = 404 -o "$HTTP" = 403 ]
api DELETE /v1/tenants/acme/flows/main "${KEY[beta]}"
check beta_delete_acme_refused [ "$HTTP" = 404 -o "$HTTP" = 403 ]
api PUT /v1/tenants/acme/flows/evil "${KEY[beta]}" "$EXAMPLE"
check beta_put_on_acme_refused [ "$HTTP" = 404 -o "$HTTP" = 403 ]
put beta btop '{"start":"g","nodes":{"g":{"type":"goto","flow":"main"}}}'
check beta_goto_acmes_flow_422 [ "$HTTP" = 422 -a "$(jr .error.field)" = nodes.g.flow ]
put beta bmain '{"start":"p","nodes":{"p":{"type":"play","prompts":["beta_only"]}}}'
expect_eq beta_own_flow_201 "$HTTP" 201
put beta main '{"start":"p","nodes":{"p":{"type":"play","prompts":["goodbye"]}}}'
check beta_same_name_own_flow [ "$HTTP" = 201 -a "$(jr .version)" != "$v2" ]
api GET /v1/tenants/acme/flows/main "${KEY[acme]}"
check acme_main_untouched [ "$(jr .version)" = "$v2" -a "$(jr .body.start)" = hours ]

# ------------------------------------------------------ numbers -> flows
assign_number acme +8657112345678
api POST /v1/tenants/acme/numbers "${KEY[acme]}" '{"e164":"+8657112345678","target":{"type":"flow","name":"main"}}'
check number_targets_flow_201 [ "$HTTP" = 201 -a "$(jr .target.type)" = flow -a "$(jr .target.name)" = main ]
api GET /v1/tenants/acme/numbers/%2B8657112345678 "${KEY[acme]}"
check number_get_shows_flow [ "$(jr .target.type)" = flow -a "$(jr .target.name)" = main -a "$(jr .target.extension)" = null ]
expect_eq number_row_points_at_flow "$(sql "SELECT f.name FROM cc.numbers n JOIN cc.flows f ON f.id = n.target_flow WHERE n.e164 = '+8657112345678'")" main
assign_number acme +8657112345679
api POST /v1/tenants/acme/numbers "${KEY[acme]}" '{"e164":"+8657112345679","target":{"type":"flow","name":"nosuch"}}'
check number_unknown_flow_422 [ "$HTTP" = 422 -a "$(jr .error.field)" = target.name ]
api POST /v1/tenants/acme/numbers "${KEY[acme]}" '{"e164":"+8657112345679","target":{"type":"flow","name":"bmain"}}'
check number_other_tenants_flow_422 [ "$HTTP" = 422 -a "$(jr .error.field)" = target.name ]
api POST /v1/tenants/acme/numbers "${KEY[acme]}" '{"e164":"+8657112345679","target":{"type":"flow"}}'
check number_flow_without_name_400 [ "$HTTP" = 400 -a "$(jr .error.field)" = target.name ]
api POST /v1/tenants/acme/numbers "${KEY[acme]}" '{"e164":"+8657112345679","target":{"type":"flow","name":"main","extension":"1000"}}'
check number_flow_and_extension_400 [ "$HTTP" = 400 ]
api POST /v1/tenants/acme/numbers "${KEY[acme]}" '{"e164":"+8657112345679","target":{"type":"ivr","name":"main"}}'
check number_bad_target_type_422 [ "$HTTP" = 422 -a "$(jr .error.field)" = target.type ]
expect_eq number_refusals_left_no_target "$(sql "SELECT coalesce(target_type, 'none') FROM cc.numbers WHERE e164 = '+8657112345679'")" none
api POST /v1/tenants/acme/numbers "${KEY[acme]}" '{"e164":"+8657112345679","target":{"type":"agent","extension":"1000"}}'
check number_agent_target_still_201 [ "$HTTP" = 201 -a "$(jr .target.extension)" = 1000 ]
api PATCH /v1/tenants/acme/numbers/%2B8657112345679 "${KEY[acme]}" '{"target":{"type":"flow","name":"service"}}'
check number_patch_to_flow [ "$HTTP" = 200 -a "$(jr .target.name)" = service -a "$(jr .target.extension)" = null ]
api PATCH /v1/tenants/acme/numbers/%2B8657112345679 "${KEY[acme]}" '{"target":{"type":"flow","name":"bmain"}}'
check number_patch_other_tenants_flow_422 [ "$HTTP" = 422 -a "$(jr .error.field)" = target.name ]
api GET /v1/numbers/%2B8657112345679 "$OPERATOR"
check operator_sees_flow_target [ "$(jr .target.name)" = service -a "$(jr .tenant)" = acme ]

# ------------------------------------------------------ DELETE (409, 204)
api DELETE /v1/tenants/acme/flows/main "${KEY[acme]}"
check delete_while_number_points_409 [ "$HTTP" = 409 ] && grep -q '+8657112345678' "$RESP"
api DELETE /v1/tenants/acme/flows/owners-club "${KEY[acme]}"
check delete_while_goto_409 [ "$HTTP" = 409 ] && grep -q 'service' "$RESP"
expect_eq delete_409_kept_flows "$(sql "SELECT count(*) FROM cc.flows WHERE tenant_id = '${TID[acme]}'")" 3
api DELETE /v1/tenants/acme/numbers/%2B8657112345678 "${KEY[acme]}"
expect_eq number_target_cleared_204 "$HTTP" 204
api DELETE /v1/tenants/acme/flows/main "${KEY[acme]}"
expect_eq delete_main_204 "$HTTP" 204
api GET /v1/tenants/acme/flows/main "${KEY[acme]}"
expect_eq deleted_flow_404 "$HTTP" 404
expect_eq deleted_flow_versions_gone "$(sql "SELECT count(*) FROM cc.flow_versions WHERE flow_id NOT IN (SELECT id FROM cc.flows)")" 0
api GET /v1/tenants/beta/flows/main "${KEY[beta]}"
expect_eq beta_main_survives "$HTTP" 200
# the goto is in service's current version: a version without it frees owners-club
api PATCH /v1/tenants/acme/numbers/%2B8657112345679 "${KEY[acme]}" '{"target":{"type":"agent","extension":"1000"}}'
put acme service '{"start":"d","nodes":{"d":{"type":"agent","extension":"1000"}}}'
expect_eq service_without_goto_200 "$HTTP" 200
api DELETE /v1/tenants/acme/flows/owners-club "${KEY[acme]}"
expect_eq delete_after_goto_gone_204 "$HTTP" 204
api DELETE /v1/tenants/acme/flows/owners-club "${KEY[acme]}"
expect_eq delete_again_404 "$HTTP" 404
# the operator moving a number away clears its flow target
api PATCH /v1/tenants/acme/numbers/%2B8657112345679 "${KEY[acme]}" '{"target":{"type":"flow","name":"service"}}'
api PATCH /v1/numbers/%2B8657112345679 "$OPERATOR" '{"tenant":"beta"}'
check number_moved_target_cleared [ "$HTTP" = 200 -a "$(jr .target)" = null ]

# ------------------------------------------------------ with the prompts API
# a prompt spoken from text is the tenant's; a flow playing it holds it
api PUT /v1/tenants/acme/prompts/hello "${KEY[acme]}" '{"tts":"Welcome to the service center.","voice":"en"}'
if [ "$HTTP" = 200 ] || [ "$HTTP" = 201 ]; then
	put acme spoken '{"start":"p","nodes":{"p":{"type":"play","prompts":["hello"]}}}'
	expect_eq flow_plays_uploaded_prompt_201 "$HTTP" 201
	api DELETE /v1/tenants/acme/prompts/hello "${KEY[acme]}"
	expect_eq prompt_in_flow_delete_409 "$HTTP" 409
	put beta spoken '{"start":"p","nodes":{"p":{"type":"play","prompts":["hello"]}}}'
	check other_tenants_uploaded_prompt_422 [ "$HTTP" = 422 -a "$(jr .error.field)" = nodes.p.prompts.0 ]
else
	check prompts_api_tts_put [ "$HTTP" = 201 ]
fi

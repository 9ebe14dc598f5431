#!/usr/bin/env bash
# Issue 15: quality evaluations (docs/RECORDING.md "Evaluations"): score
# forms and their 422s, an evaluation's score computed exactly (numeric,
# two decimals), each 422 of a scoring, another tenant 404, read_only and
# agent 403, a supervisor only its queues' recordings, the audit row, and
# the monthly monitoring score of two agents. Recordings are inserted as
# mediad's recorder would write them (the API does not read the file here).
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
new_agent acme 1003 s3cret-pass-3
api PATCH /v1/tenants/acme/agents/1001 "$A" '{"supervises":["sales"]}'
expect_eq agent_supervises "$HTTP" 200
api POST /v1/tenants/acme/keys "$A" '{"role":"supervisor","agent":"1001"}'
SUP=$(jr .token); SUP_ID=$(jr .id)
api POST /v1/tenants/acme/keys "$A" '{"role":"agent","agent":"1002"}'
AG=$(jr .token)
api POST /v1/tenants/acme/keys "$A" '{"role":"records_admin"}'
RA=$(jr .token); RA_ID=$(jr .id)
api POST /v1/tenants/acme/keys "$A" '{"role":"read_only"}'
RO=$(jr .token)

TA=$(sql "SELECT id FROM cc.tenants WHERE slug = 'acme'")
TB=$(sql "SELECT id FROM cc.tenants WHERE slug = 'beta'")
R1=00000000-0000-4000-8000-000000000001
R2=00000000-0000-4000-8000-000000000002
R3=00000000-0000-4000-8000-000000000003
RB=00000000-0000-4000-8000-0000000000b1
ins() { # id tenant queue agent
	sql "INSERT INTO cc.recordings (id, tenant_id, call_id, state, started_at, caller, callee, queue, agent,
	     path, kek_version, wrapped_key, bytes, sha256) VALUES ('$1', '$2', gen_random_uuid(), 'complete',
	     now(), '+4930111', '1001', '$3', NULLIF('$4', ''), 'secret/path/$1', 1, '\\x0102', 1234, 'ab')" > /dev/null
}
ins $R1 "$TA" sales 1002
ins $R2 "$TA" repair 1003
ins $R3 "$TA" sales ''
ins $RB "$TB" sales 2001

# --- score forms
QA='{"name":"qa","criteria":[{"name":"greeting","weight":20,"max":5},{"name":"solution","weight":50,"max":10},{"name":"close","weight":30,"max":7}]}'
api POST /v1/tenants/acme/score-forms "$A" "$QA"
check form_create [ "$HTTP" = 201 -a "$(jr .score_form.name)" = qa -a "$(jr '.score_form.criteria|length')" = 3 \
	-a "$(jr '.score_form.criteria[2].max')" = 7 ]
api POST /v1/tenants/acme/score-forms "$A" "$QA"
expect_eq form_duplicate_409 "$HTTP" 409
api POST /v1/tenants/acme/score-forms "$A" '{"name":"x","criteria":[{"name":"a","weight":100,"max":5}],"colour":"red"}'
expect_eq form_unknown_field_400 "$HTTP" 400
form422() { # name criteria-json
	api POST /v1/tenants/acme/score-forms "$A" "{\"name\":\"f$RANDOM\",\"criteria\":$2}"
	check "form_$1_422" [ "$HTTP" = 422 -a "$(jr .error.field)" = criteria ]
}
form422 weights_not_100 '[{"name":"a","weight":50,"max":5},{"name":"b","weight":40,"max":5}]'
form422 weight_zero '[{"name":"a","weight":100,"max":5},{"name":"b","weight":0,"max":5}]'
form422 weight_negative '[{"name":"a","weight":110,"max":5},{"name":"b","weight":-10,"max":5}]'
form422 weight_not_integer '[{"name":"a","weight":50.5,"max":5},{"name":"b","weight":49.5,"max":5}]'
form422 max_zero '[{"name":"a","weight":100,"max":0}]'
form422 max_101 '[{"name":"a","weight":100,"max":101}]'
form422 name_upper '[{"name":"Greeting","weight":100,"max":5}]'
form422 name_long '[{"name":"abcdefghijabcdefghijabcdefghijabc","weight":100,"max":5}]'
form422 name_missing '[{"weight":100,"max":5}]'
form422 name_twice '[{"name":"a","weight":50,"max":5},{"name":"a","weight":50,"max":5}]'
form422 none '[]'
form422 extra_key '[{"name":"a","weight":100,"max":5,"hint":"x"}]'
form422 not_object '[1]'
many=$(jq -cn '[range(51)|{name:"c\(.)",weight:(if . == 0 then 50 else 1 end),max:5}]')
form422 fifty_one "$many"
api POST /v1/tenants/acme/score-forms "$A" '{"name":"Bad Name","criteria":[{"name":"a","weight":100,"max":5}]}'
check form_bad_name_422 [ "$HTTP" = 422 -a "$(jr .error.field)" = name ]
api POST /v1/tenants/acme/score-forms "$A" '{"name":"short","criteria":[{"name":"a","weight":100,"max":1}]}'
expect_eq form_create_second "$HTTP" 201
api POST /v1/tenants/acme/score-forms "$SUP" '{"name":"s","criteria":[{"name":"a","weight":100,"max":5}]}'
expect_eq form_create_supervisor_403 "$HTTP" 403
api POST /v1/tenants/acme/score-forms "$RO" '{"name":"s","criteria":[{"name":"a","weight":100,"max":5}]}'
expect_eq form_create_read_only_403 "$HTTP" 403
api GET /v1/tenants/acme/score-forms "$RO"
check form_list [ "$HTTP" = 200 -a "$(jr '[.items[].name]|join(",")')" = qa,short ]
api GET "/v1/tenants/acme/score-forms?limit=1" "$A"
check form_list_page [ "$HTTP" = 200 -a "$(jr '.items[0].name')" = qa -a "$(jr .next)" = qa ]
api GET "/v1/tenants/acme/score-forms?limit=1&after=qa" "$A"
check form_list_next_page [ "$HTTP" = 200 -a "$(jr '[.items[].name]|join(",")')" = short ]
api GET /v1/tenants/acme/score-forms/qa "$SUP"
check form_get [ "$HTTP" = 200 -a "$(jr '.score_form.criteria[1].name')" = solution ]
api GET /v1/tenants/acme/score-forms/nosuch "$A"
expect_eq form_get_unknown_404 "$HTTP" 404
api GET /v1/tenants/acme/score-forms "$AG"
expect_eq form_list_agent_403 "$HTTP" 403
api GET /v1/tenants/beta/score-forms "$B"
check form_list_tenant_isolated [ "$HTTP" = 200 -a "$(jr '.items|length')" = 0 ]
api GET /v1/tenants/beta/score-forms/qa "$B"
expect_eq form_get_other_tenant_404 "$HTTP" 404

# --- evaluations: 20·4/5 + 50·7/10 + 30·5/7 = 16 + 35 + 21.428571... = 72.43
api POST /v1/tenants/acme/recordings/$R1/evaluations "$RA" \
	'{"form":"qa","scores":{"greeting":4,"solution":7,"close":5},"comment":"good opening"}'
check eval_create [ "$HTTP" = 201 -a "$(jr .evaluation.score)" = 72.43 -a "$(jr .evaluation.agent)" = 1002 \
	-a "$(jr .evaluation.evaluator)" = "key:$RA_ID" -a "$(jr .evaluation.form)" = qa \
	-a "$(jr .evaluation.recording)" = $R1 -a "$(jr .evaluation.scores.close)" = 5 \
	-a "$(jr .evaluation.comment)" = "good opening" -a "$(jr '.evaluation.created_at|endswith("Z")')" = true ]
E1=$(jr .evaluation.id)
check eval_stored [ "$(sql "SELECT score FROM cc.evaluations WHERE id = '$E1'")" = 72.43 ]
check eval_audited [ "$(sql "SELECT count(*) FROM cc.audit WHERE action = 'evaluate' AND object_type = 'recording'
	AND object_id = '$R1' AND actor = 'key:$RA_ID' AND detail->>'evaluation' = '$E1'")" = 1 ]
eval422() { # name field body
	api POST /v1/tenants/acme/recordings/$R1/evaluations "$A" "$3"
	check "eval_$1_422" [ "$HTTP" = 422 -a "$(jr .error.field)" = "$2" ]
}
eval422 criterion_missing scores '{"form":"qa","scores":{"greeting":4,"solution":7}}'
eval422 extra_key scores '{"form":"qa","scores":{"greeting":4,"solution":7,"close":5,"tone":3}}'
eval422 over_max scores '{"form":"qa","scores":{"greeting":6,"solution":7,"close":5}}'
eval422 negative scores '{"form":"qa","scores":{"greeting":4,"solution":-1,"close":5}}'
eval422 not_integer scores '{"form":"qa","scores":{"greeting":4,"solution":7.5,"close":5}}'
eval422 string_score scores '{"form":"qa","scores":{"greeting":"4","solution":7,"close":5}}'
eval422 unknown_form form '{"form":"nosuch","scores":{"greeting":4,"solution":7,"close":5}}'
long=$(head -c 2001 /dev/zero | tr '\0' x)
eval422 comment_too_long comment "{\"form\":\"short\",\"scores\":{\"a\":1},\"comment\":\"$long\"}"
api POST /v1/tenants/acme/recordings/$R3/evaluations "$A" '{"form":"short","scores":{"a":1}}'
check eval_no_agent_422 [ "$HTTP" = 422 -a "$(jr .error.field)" = recording ]
api POST /v1/tenants/acme/recordings/$R1/evaluations "$A" '{"form":"short","scores":{"a":1},"grade":"A"}'
expect_eq eval_unknown_field_400 "$HTTP" 400
api POST /v1/tenants/acme/recordings/00000000-0000-4000-8000-00000000dead/evaluations "$A" '{"form":"short","scores":{"a":1}}'
expect_eq eval_unknown_recording_404 "$HTTP" 404
api POST /v1/tenants/acme/recordings/nope/evaluations "$A" '{"form":"short","scores":{"a":1}}'
expect_eq eval_malformed_recording_404 "$HTTP" 404
api POST /v1/tenants/acme/recordings/$RB/evaluations "$A" '{"form":"short","scores":{"a":1}}'
expect_eq eval_other_tenants_recording_404 "$HTTP" 404
api POST /v1/tenants/acme/recordings/$R1/evaluations "$B" '{"form":"short","scores":{"a":1}}'
expect_eq eval_tenant_b_key_404 "$HTTP" 404
api POST /v1/tenants/beta/recordings/$R1/evaluations "$B" '{"form":"short","scores":{"a":1}}'
expect_eq eval_tenant_b_slug_404 "$HTTP" 404
api GET /v1/tenants/beta/recordings/$R1/evaluations "$B"
expect_eq eval_list_tenant_b_404 "$HTTP" 404
api POST /v1/tenants/acme/recordings/$R1/evaluations "$RO" '{"form":"short","scores":{"a":1}}'
check eval_read_only_403 [ "$HTTP" = 403 -a "$(jr .error.code)" = forbidden ]
api POST /v1/tenants/acme/recordings/$R1/evaluations "$AG" '{"form":"short","scores":{"a":1}}'
expect_eq eval_agent_403 "$HTTP" 403
api GET /v1/tenants/acme/recordings/$R1/evaluations "$AG"
expect_eq eval_list_agent_403 "$HTTP" 403
api POST /v1/tenants/acme/recordings/$R2/evaluations "$SUP" '{"form":"short","scores":{"a":1}}'
expect_eq eval_supervisor_other_queue_404 "$HTTP" 404
check eval_refusals_wrote_nothing [ "$(sql "SELECT count(*) FROM cc.evaluations")" = 1 ]
# 100: all full marks, by the supervisor (its queue)
api POST /v1/tenants/acme/recordings/$R1/evaluations "$SUP" '{"form":"qa","scores":{"greeting":5,"solution":10,"close":7}}'
check eval_supervisor_own_queue [ "$HTTP" = 201 -a "$(jr .evaluation.score)" = 100 \
	-a "$(jr .evaluation.evaluator)" = "key:$SUP_ID" -a "$(jr .evaluation.comment)" = null ]
api POST /v1/tenants/acme/recordings/$R2/evaluations "$A" '{"form":"qa","scores":{"greeting":0,"solution":0,"close":0}}'
check eval_zero [ "$HTTP" = 201 -a "$(jr .evaluation.score)" = 0 -a "$(jr .evaluation.agent)" = 1003 ]
api POST /v1/tenants/acme/recordings/$R2/evaluations "$OPERATOR" '{"form":"short","scores":{"a":1}}'
check eval_last_month_by_operator [ "$HTTP" = 201 -a "$(jr .evaluation.evaluator)" = operator ]
E4=$(jr .evaluation.id)
api GET /v1/tenants/acme/recordings/$R1/evaluations "$RO"
check eval_list [ "$HTTP" = 200 -a "$(jr '[.items[].score]|map(tostring)|join(",")')" = 72.43,100 ]
api GET /v1/tenants/acme/recordings/$R2/evaluations "$SUP"
expect_eq eval_list_supervisor_other_queue_404 "$HTTP" 404

# --- the monthly monitoring score: E4 moved to the month before, in UTC
MONTH=$(sql "SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM')")
PREV=$(sql "SELECT to_char((date_trunc('month', now() AT TIME ZONE 'UTC') - interval '1 second'), 'YYYY-MM')")
sql "UPDATE cc.evaluations SET created_at = (date_trunc('month', now() AT TIME ZONE 'UTC') - interval '1 second') AT TIME ZONE 'UTC' WHERE id = '$E4'" > /dev/null
api GET "/v1/tenants/acme/metrics/monitoring-score?month=$MONTH" "$RO"
# 1002: (72.43 + 100) / 2 = 86.215 -> 86.22; 1003: 0 over one
check metric_month [ "$HTTP" = 200 -a "$(jr .month)" = "$MONTH" \
	-a "$(jr '[.agents[]|"\(.agent):\(.score):\(.evaluations)"]|join(",")')" = 1002:86.22:2,1003:0:1 ]
api GET "/v1/tenants/acme/metrics/monitoring-score?month=$PREV" "$A"
check metric_previous_month [ "$HTTP" = 200 -a "$(jr '[.agents[]|"\(.agent):\(.score):\(.evaluations)"]|join(",")')" = 1003:100:1 ]
api GET "/v1/tenants/acme/metrics/monitoring-score?month=$MONTH" "$SUP"
check metric_supervisor_its_queues [ "$HTTP" = 200 -a "$(jr '[.agents[].agent]|join(",")')" = 1002 ]
api GET "/v1/tenants/acme/metrics/monitoring-score?month=$MONTH" "$AG"
expect_eq metric_agent_403 "$HTTP" 403
api GET "/v1/tenants/beta/metrics/monitoring-score?month=$MONTH" "$B"
check metric_tenant_isolated [ "$HTTP" = 200 -a "$(jr '.agents|length')" = 0 ]
for m in 2026-13 2026-00 2026-1 26-12 x '' 2026-12-01; do
	api GET "/v1/tenants/acme/metrics/monitoring-score?month=$m" "$A"
	check "metric_bad_month_${m:-empty}_422" [ "$HTTP" = 422 -a "$(jr .error.field)" = month ]
done
api GET /v1/tenants/acme/metrics/monitoring-score "$A"
expect_eq metric_no_month_422 "$HTTP" 422

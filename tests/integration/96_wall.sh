#!/usr/bin/env bash
# The wallboard's supervisor session (docs/DESK.md "Wallboard"): the desk
# sign-in with "as":"supervisor" is allowed only to the agent of a live
# supervisor key of the tenant, and the session then acts as that key
# (role supervisor, its queues). Refusals: an agent, an agent key's agent
# and a revoked key's agent signing in as supervisor (403
# not_a_supervisor), a wrong password (the agent sign-in's 401); another
# queue's live view and another tenant (404); an agent's state, the
# agent-only call routes and an admin route (403); monitoring as another
# extension (403); a queue taken from the supervisor is out of reach at
# once; a revoked key ends its sessions (401 session_expired).
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
trap stack_down EXIT
stack_up || exit 1
new_tenant acme
new_tenant beta
for e in 1001 1002 1005 1006 1007; do new_agent acme $e acme-pass-$e; done
new_agent beta 1005 beta-pass-1005
A=${KEY[acme]}
for q in front back; do
	api POST /v1/tenants/acme/queues "$A" "{\"name\":\"$q\",\"strategy\":\"longest_idle\",\"ring_timeout_s\":10,\"wrapup_s\":0,\"max_wait_s\":0}"
	check "queue_$q" [ "$HTTP" = 201 ] || echo "# HTTP $HTTP $(cat "$RESP")"
done
api POST /v1/tenants/beta/queues "${KEY[beta]}" '{"name":"front","strategy":"longest_idle","ring_timeout_s":10,"wrapup_s":0,"max_wait_s":0}'
check queue_beta_front [ "$HTTP" = 201 ]
patch() { # SLUG EXT JSON
	api PATCH "/v1/tenants/$1/agents/$2" "${KEY[$1]}" "$3"
	check "patch_$1_$2" [ "$HTTP" = 200 ] || echo "# HTTP $HTTP $(cat "$RESP")"
}
patch acme 1001 '{"queues":{"front":1}}'
patch acme 1002 '{"queues":{"back":1}}'
patch acme 1005 '{"supervises":["front"]}'
patch acme 1006 '{"supervises":["back"]}'
patch beta 1005 '{"supervises":["front"]}'
newkey() { # SLUG ROLE EXT -> $KID, $KTOKEN
	api POST "/v1/tenants/$1/keys" "${KEY[$1]}" "{\"role\":\"$2\",\"agent\":\"$3\"}"
	check "key_$1_$2_$3" [ "$HTTP" = 201 ] || echo "# HTTP $HTTP $(cat "$RESP")"
	KID=$(jr .id) KTOKEN=$(jr .token)
}
newkey acme supervisor 1005; SUPKEY=$KID SUPTOKEN=$KTOKEN
newkey acme supervisor 1006; api DELETE "/v1/tenants/acme/keys/$KID" "$A"
check revoked_1006 [ "$HTTP" = 204 ]
newkey acme agent 1007
newkey beta supervisor 1005

# desk METHOD PATH COOKIE CSRF [BODY]: a request as the browser makes it
desk() {
	local method=$1 path=$2 ck=$3 csrf=$4 body=${5:-}
	RESP=$CC_VAR/resp.json HDRS=$CC_VAR/resp.hdrs
	local args=(-sk -o "$RESP" -D "$HDRS" -w '%{http_code}' -X "$method")
	[ -n "$ck" ] && args+=(-H "Cookie: cc_desk=$ck")
	[ -n "$csrf" ] && args+=(-H "X-CSRF-Token: $csrf")
	[ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
	HTTP=$(curl "${args[@]}" "$API$path")
}
signin() { desk POST "/v1/tenants/$1/desk/session" "" "" "{\"extension\":\"$2\",\"password\":\"$3\"${4:+,\"as\":\"$4\"}}"; }
cookie_of() { grep -i '^Set-Cookie: cc_desk=' "$HDRS" | head -1 | sed 's/^[^=]*=//; s/;.*//' | tr -d '\r'; }
sessions() { sql "SELECT count(*) FROM cc.desk_sessions"; }

# ------------------------------------------------ the page
desk GET /desk/wall "" ""
check wall_page_200 eval '[ "$HTTP" = 200 ] && grep -q "wall.js" "$RESP" && grep -qi "^Content-Type: text/html" "$HDRS"'
check wall_page_csp eval 'grep -i "^Content-Security-Policy:" "$HDRS" | grep -q "script-src '"'self'"';" && grep -qi "^X-Frame-Options: DENY" "$HDRS"'
for f in wall.js wall.css desk.css; do
	desk GET "/desk/$f" "" ""
	check "wall_file_${f/./_}" [ "$HTTP" = 200 ]
done

# ------------------------------------------------ the supervisor's sign-in
signin acme 1005 acme-pass-1005 supervisor
check sup_signin_201 [ "$HTTP" = 201 ] || echo "# HTTP $HTTP $(cat "$RESP")"
CK=$(cookie_of) CSRF=$(jr .csrf) SID=$(jr .session)
check sup_signin_role eval '[ "$(jr .role)" = supervisor ] && [ "$(jr ".queues | join(\",\")")" = front ]'
check sup_signin_agent [ "$(jr .agent.extension)" = 1005 ]
check sup_session_row [ "$(sql "SELECT role || ' ' || key_id || ' ' || supervises::text FROM cc.desk_sessions WHERE id = '$SID'")" = "supervisor $SUPKEY {front}" ]
check sup_signin_audited [ "$(sql "SELECT role || ' ' || (detail->>'as') || ' ' || (detail->>'key') FROM cc.audit WHERE action = 'desk_sign_in' AND actor = 'desk:$SID'")" = "supervisor supervisor $SUPKEY" ]
desk GET /v1/tenants/acme/desk/session "$CK" ""
check sup_whoami eval '[ "$HTTP" = 200 ] && [ "$(jr .role)" = supervisor ] && [ "$(jr ".queues | join(\",\")")" = front ] && [ "$(jr .agent.extension)" = 1005 ]'

# ------------------------------------------------ what it reaches
# routingd reads the tenant again on the memberships' notice
live_front() { desk GET /v1/tenants/acme/queues/front/live "$CK" ""; [ "$HTTP" = 200 ] && [ "$(jr .queue)" = front ] && [ "$(jr ".agents[0].extension")" = 1001 ]; }
check own_queue_live_200 wait_for 10 live_front || echo "# HTTP $HTTP $(cat "$RESP")"
desk GET /v1/tenants/acme/queues/back/live "$CK" ""
check other_queue_live_404 [ "$HTTP" = 404 ] || echo "# HTTP $HTTP $(cat "$RESP")"
OTHER=$(cat "$RESP")
desk GET /v1/tenants/acme/queues/nosuch/live "$CK" ""
check no_queue_live_same_404 eval '[ "$HTTP" = 404 ] && [ "$(cat "$RESP")" = "$OTHER" ]'
desk GET /v1/tenants/acme/queues/back "$CK" ""
check other_queue_404 [ "$HTTP" = 404 ]
desk GET /v1/tenants/acme/agents/1001/state "$CK" ""
check its_queues_agent_200 [ "$HTTP" = 200 ] || echo "# HTTP $HTTP $(cat "$RESP")"
desk GET /v1/tenants/acme/agents/1002/state "$CK" ""
check other_queues_agent_404 [ "$HTTP" = 404 ]
desk GET /v1/tenants/beta/queues/front/live "$CK" ""
check other_tenant_live_404 [ "$HTTP" = 404 ] || echo "# HTTP $HTTP $(cat "$RESP")"
desk GET /v1/tenants/beta/desk/session "$CK" ""
check other_tenant_session_404 [ "$HTTP" = 404 ]

# ------------------------------------------------ beyond its role: 403
desk PUT /v1/tenants/acme/agents/1001/state "$CK" "$CSRF" '{"state":"ready"}'
check agent_state_put_403 [ "$HTTP" = 403 ] || echo "# HTTP $HTTP $(cat "$RESP")"
desk PUT /v1/tenants/acme/agents/1005/state "$CK" "$CSRF" '{"state":"ready"}'
check own_state_put_403 [ "$HTTP" = 403 ]
C=$(uuid)
for op in disposition hold unhold transfer; do
	desk POST "/v1/tenants/acme/calls/$C/$op" "$CK" "$CSRF" '{"code":"sale"}'
	check "agent_only_${op}_403" [ "$HTTP" = 403 ] || echo "# HTTP $HTTP $(cat "$RESP")"
done
desk GET /v1/tenants/acme/keys "$CK" ""
check admin_route_403 [ "$HTTP" = 403 ]
desk PATCH /v1/tenants/acme/agents/1005 "$CK" "$CSRF" '{"supervises":["front","back"]}'
check widen_itself_403 [ "$HTTP" = 403 ]
desk GET /v1/tenants "$CK" ""
check operator_route_refused eval '[ "$HTTP" = 401 ] || [ "$HTTP" = 403 ]'

# ------------------------------------------------ monitor: as itself only
desk POST "/v1/tenants/acme/calls/$C/monitor" "$CK" "" '{"supervisor":"1005","mode":"listen"}'
check monitor_without_csrf_403 eval '[ "$HTTP" = 403 ] && [ "$(jr .error.field)" = X-CSRF-Token ]'
desk POST "/v1/tenants/acme/calls/$C/monitor" "$CK" "$CSRF" '{"supervisor":"1006","mode":"listen"}'
check monitor_as_another_403 eval '[ "$HTTP" = 403 ] && [ "$(jr .error.field)" = supervisor ]' || echo "# HTTP $HTTP $(cat "$RESP")"
desk POST "/v1/tenants/acme/calls/$C/monitor" "$CK" "$CSRF" '{"supervisor":"1005","mode":"listen"}'
check monitor_unknown_call_404 [ "$HTTP" = 404 ] || echo "# HTTP $HTTP $(cat "$RESP")"
api POST "/v1/tenants/acme/calls/$C/monitor" "$SUPTOKEN" '{"supervisor":"1006","mode":"listen"}'
check sup_key_monitor_as_another_403 [ "$HTTP" = 403 ] || echo "# HTTP $HTTP $(cat "$RESP")"
api POST "/v1/tenants/acme/calls/$C/monitor" "$A" '{"supervisor":"1006","mode":"listen"}'
check admin_monitor_names_any_404 [ "$HTTP" = 404 ] || echo "# HTTP $HTTP $(cat "$RESP")"

# ------------------------------------------------ refusals at sign-in
N0=$(sessions)
signin acme 1001 acme-pass-1001 supervisor
check agent_as_supervisor_403 eval '[ "$HTTP" = 403 ] && [ "$(jr .error.code)" = not_a_supervisor ]' || echo "# HTTP $HTTP $(cat "$RESP")"
check refused_no_cookie not grep -qi '^Set-Cookie:' "$HDRS"
signin acme 1007 acme-pass-1007 supervisor
check agent_key_as_supervisor_403 eval '[ "$HTTP" = 403 ] && [ "$(jr .error.code)" = not_a_supervisor ]'
signin acme 1006 acme-pass-1006 supervisor
check revoked_key_as_supervisor_403 eval '[ "$HTTP" = 403 ] && [ "$(jr .error.code)" = not_a_supervisor ]'
signin acme 1005 wrong-password supervisor
check sup_wrong_password_401 eval '[ "$HTTP" = 401 ] && [ "$(jr .error.message)" = "wrong extension or password" ]'
signin beta 1005 acme-pass-1005 supervisor
check other_tenants_password_401 [ "$HTTP" = 401 ]
signin acme 1005 acme-pass-1005 boss
check bad_as_422 eval '[ "$HTTP" = 422 ] && [ "$(jr .error.field)" = as ]' || echo "# HTTP $HTTP $(cat "$RESP")"
check refusals_no_session [ "$(sessions)" = "$N0" ]

# ------------------------------------------------ an agent's session stays an agent's
signin acme 1001 acme-pass-1001 agent
check agent_signin_201 eval '[ "$HTTP" = 201 ] && [ "$(jr .role)" = agent ] && [ "$(jr .queues)" = null ]'
ACK=$(cookie_of)
desk GET /v1/tenants/acme/queues/front/live "$ACK" ""
check agent_session_live_403 [ "$HTTP" = 403 ]
desk GET /v1/tenants/acme/desk/session "$ACK" ""
check agent_whoami_role eval '[ "$HTTP" = 200 ] && [ "$(jr .role)" = agent ]'
api GET /v1/tenants/acme/desk/session "$SUPTOKEN"
check sup_api_key_has_no_session_404 [ "$HTTP" = 404 ]

# ------------------------------------------------ a queue taken away, the key revoked
patch acme 1005 '{"supervises":[]}'
desk GET /v1/tenants/acme/queues/front/live "$CK" ""
check queue_taken_away_404 [ "$HTTP" = 404 ] || echo "# HTTP $HTTP $(cat "$RESP")"
desk GET /v1/tenants/acme/desk/session "$CK" ""
check whoami_no_queues eval '[ "$HTTP" = 200 ] && [ "$(jr ".queues | length")" = 0 ]'
patch acme 1005 '{"supervises":["front","back"]}'
desk GET /v1/tenants/acme/queues/back/live "$CK" ""
check queue_given_since_not_in_session_404 [ "$HTTP" = 404 ]
desk GET /v1/tenants/acme/queues/front/live "$CK" ""
check queue_front_still_200 [ "$HTTP" = 200 ]
signin acme 1005 acme-pass-1005 supervisor
CK2=$(cookie_of) CSRF2=$(jr .csrf) SID2=$(jr .session)
check new_signin_both_queues eval '[ "$(jr ".queues | join(\",\")")" = front,back ]'
desk DELETE /v1/tenants/acme/desk/session "$CK2" "$CSRF2"
check sup_signout_204 [ "$HTTP" = 204 ]
check sup_signout_audited [ "$(sql "SELECT role FROM cc.audit WHERE action = 'desk_sign_out' AND actor = 'desk:$SID2'")" = supervisor ]
api DELETE "/v1/tenants/acme/keys/$SUPKEY" "$A"
check revoke_204 [ "$HTTP" = 204 ]
desk GET /v1/tenants/acme/queues/front/live "$CK" ""
check revoked_key_session_401 eval '[ "$HTTP" = 401 ] && [ "$(jr .error.code)" = session_expired ]' || echo "# HTTP $HTTP $(cat "$RESP")"
signin acme 1005 acme-pass-1005 supervisor
check revoked_key_no_signin_403 [ "$HTTP" = 403 ]
exit $FAILED

#!/usr/bin/env bash
# The agent desktop's sign-in (docs/DESK.md "Sign-in"): an agent signs in
# with its extension and SIP password; the session cookie (HttpOnly, Secure,
# SameSite=Strict) then acts as the agent's own key, with its CSRF token on
# what is not a GET. Refusals: a wrong password or an unknown extension
# (the same 401), too many failures (429 with Retry-After), a request
# without the CSRF token (403), another agent's state and another tenant's
# routes (404), an admin route (403), an expired session (401
# session_expired, the desktop's cue to sign in again), after sign-out.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
trap stack_down EXIT
stack_up || exit 1
new_tenant acme
new_tenant beta
new_agent acme 1001 acme-pass-1001
new_agent acme 1002 acme-pass-1002
new_agent beta 1001 beta-pass-1001

# desk METHOD PATH COOKIE CSRF [BODY]: a request as the desktop makes it
desk() {
	local method=$1 path=$2 ck=$3 csrf=$4 body=${5:-}
	RESP=$CC_VAR/resp.json HDRS=$CC_VAR/resp.hdrs
	local args=(-sk -o "$RESP" -D "$HDRS" -w '%{http_code}' -X "$method")
	[ -n "$ck" ] && args+=(-H "Cookie: cc_desk=$ck")
	[ -n "$csrf" ] && args+=(-H "X-CSRF-Token: $csrf")
	[ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
	HTTP=$(curl "${args[@]}" "$API$path")
}
signin() { desk POST "/v1/tenants/$1/desk/session" "" "" "{\"extension\":\"$2\",\"password\":\"$3\"}"; }
cookie_of() { grep -i '^Set-Cookie: cc_desk=' "$HDRS" | head -1 | sed 's/^[^=]*=//; s/;.*//' | tr -d '\r'; }
set_cookie() { grep -i '^Set-Cookie: cc_desk=' "$HDRS" | head -1 | tr -d '\r'; }

# ------------------------------------------------ sign-in
signin acme 1001 acme-pass-1001
check signin_201 [ "$HTTP" = 201 ] || echo "# HTTP $HTTP $(cat "$RESP")"
CK=$(cookie_of) CSRF=$(jr .csrf) SID=$(jr .session)
check signin_agent eval '[ "$(jr .agent.extension)" = 1001 ] && [ "$(jr .agent.name)" = "Agent 1001" ]'
check signin_expires [ -n "$(jr .expires_at)" ]
check cookie_http_only eval 'set_cookie | grep -q "; HttpOnly"'
check cookie_secure eval 'set_cookie | grep -q "; Secure"'
check cookie_same_site_strict eval 'set_cookie | grep -q "; SameSite=Strict"'
check cookie_max_age_8h eval 'set_cookie | grep -q "; Max-Age=28800"'
check cookie_not_in_body not grep -q "$CK" "$RESP"
check no_store grep -qi '^Cache-Control: no-store' "$HDRS"
check token_not_stored [ "$(sql "SELECT count(*) FROM cc.desk_sessions WHERE token_hash = '$CK'")" = 0 ]
check token_hash_stored [ "$(sql "SELECT count(*) FROM cc.desk_sessions WHERE id = '$SID'")" = 1 ]
check signin_audited [ "$(sql "SELECT count(*) FROM cc.audit WHERE action = 'desk_sign_in' AND actor = 'desk:$SID'")" = 1 ]

# ------------------------------------------------ the session as the agent's key
desk GET /v1/tenants/acme/desk/session "$CK" ""
check whoami_200 eval '[ "$HTTP" = 200 ] && [ "$(jr .agent.extension)" = 1001 ] && [ "$(jr .tenant)" = acme ]'
desk GET /v1/tenants/acme/agents/1001/state "$CK" ""
check own_state_200 [ "$HTTP" = 200 ] || echo "# HTTP $HTTP $(cat "$RESP")"
desk PUT /v1/tenants/acme/agents/1001/state "$CK" "$CSRF" '{"state":"ready"}'
check own_state_put_200 [ "$HTTP" = 200 ] || echo "# HTTP $HTTP $(cat "$RESP")"
desk PUT /v1/tenants/acme/agents/1001/state "$CK" "" '{"state":"ready"}'
check put_without_csrf_403 eval '[ "$HTTP" = 403 ] && [ "$(jr .error.field)" = X-CSRF-Token ]'
desk PUT /v1/tenants/acme/agents/1001/state "$CK" "not-the-token" '{"state":"ready"}'
check put_wrong_csrf_403 [ "$HTTP" = 403 ]
desk GET /v1/tenants/acme/agents/1002/state "$CK" ""
check other_agent_state_404 [ "$HTTP" = 404 ] || echo "# HTTP $HTTP $(cat "$RESP")"
desk PUT /v1/tenants/acme/agents/1002/state "$CK" "$CSRF" '{"state":"ready"}'
check other_agent_state_put_404 [ "$HTTP" = 404 ] || echo "# HTTP $HTTP $(cat "$RESP")"
desk GET /v1/tenants/beta/agents/1001/state "$CK" ""
check other_tenant_404 [ "$HTTP" = 404 ] || echo "# HTTP $HTTP $(cat "$RESP")"
desk GET /v1/tenants/beta/desk/session "$CK" ""
check other_tenant_session_404 [ "$HTTP" = 404 ]
desk GET /v1/tenants/acme/keys "$CK" ""
check admin_route_403 [ "$HTTP" = 403 ] || echo "# HTTP $HTTP $(cat "$RESP")"
desk POST /v1/tenants/acme/agents "$CK" "$CSRF" '{"extension":"1003","name":"x","password":"s3cret-pass"}'
check create_agent_403 [ "$HTTP" = 403 ]
desk GET /v1/tenants "$CK" ""
check operator_route_refused eval '[ "$HTTP" = 401 ] || [ "$HTTP" = 403 ]'
api GET /v1/tenants/acme/desk/session "${KEY[acme]}"
check admin_key_has_no_session_403 [ "$HTTP" = 403 ]
desk GET /v1/tenants/acme/desk/session "cc_0000000000000000000000000000000000000000" ""
check forged_cookie_401 eval '[ "$HTTP" = 401 ] && [ "$(jr .error.code)" = session_expired ]'

# ------------------------------------------------ refusals at sign-in
signin acme 1002 wrong-password
check wrong_password_401 eval '[ "$HTTP" = 401 ] && [ "$(jr .error.message)" = "wrong extension or password" ]'
W=$(cat "$RESP")
signin acme 1999 acme-pass-1001
check unknown_ext_same_401 eval '[ "$HTTP" = 401 ] && [ "$(cat "$RESP")" = "$W" ]'
signin acme 1002 acme-pass-1001
check other_agents_password_401 [ "$HTTP" = 401 ]
signin beta 1002 acme-pass-1002
check other_tenant_agent_401 [ "$HTTP" = 401 ]
signin acme 1x some-password
check bad_extension_422 [ "$HTTP" = 422 ]
desk POST /v1/tenants/nosuch/desk/session "" "" '{"extension":"1001","password":"x"}'
check unknown_tenant_404 [ "$HTTP" = 404 ]
check no_session_for_failures [ "$(sql "SELECT count(*) FROM cc.desk_sessions")" = 1 ]
# 1002 has 2 failures from this address now; 3 more lock it for 15 minutes
for i in 1 2 3; do signin acme 1002 wrong-password; done
check fifth_failure_401 [ "$HTTP" = 401 ]
signin acme 1002 acme-pass-1002
check locked_429 [ "$HTTP" = 429 ] || echo "# HTTP $HTTP $(cat "$RESP")"
check locked_retry_after grep -qi '^Retry-After: [0-9]' "$HDRS"
signin acme 1001 acme-pass-1001
check other_agent_not_locked_201 [ "$HTTP" = 201 ] || echo "# HTTP $HTTP $(cat "$RESP")"
CK2=$(cookie_of)
check two_sessions [ "$(sql "SELECT count(*) FROM cc.desk_sessions")" = 2 ]

# ------------------------------------------------ expiry and sign-out
sql "UPDATE cc.desk_sessions SET created_at = now() - interval '9 hours', expires_at = now() - interval '1 hour' WHERE id = '$SID'" > /dev/null
desk GET /v1/tenants/acme/agents/1001/state "$CK" ""
check expired_401 eval '[ "$HTTP" = 401 ] && [ "$(jr .error.code)" = session_expired ]'
desk GET /v1/tenants/acme/agents/1001/state "$CK2" ""
check other_session_still_200 [ "$HTTP" = 200 ]
desk DELETE /v1/tenants/acme/desk/session "$CK2" ""
check signout_without_csrf_403 [ "$HTTP" = 403 ]
SID2=$(sql "SELECT id FROM cc.desk_sessions WHERE id <> '$SID'")
CSRF2=$(sql "SELECT csrf FROM cc.desk_sessions WHERE id = '$SID2'")
desk DELETE /v1/tenants/acme/desk/session "$CK2" "$CSRF2"
check signout_204 [ "$HTTP" = 204 ] || echo "# HTTP $HTTP $(cat "$RESP")"
check signout_clears_cookie eval 'set_cookie | grep -q "Max-Age=0"'
desk GET /v1/tenants/acme/agents/1001/state "$CK2" ""
check after_signout_401 [ "$HTTP" = 401 ]
check signout_audited [ "$(sql "SELECT count(*) FROM cc.audit WHERE action = 'desk_sign_out' AND actor = 'desk:$SID2'")" = 1 ]
# a deleted agent's sessions go with it
signin acme 1001 acme-pass-1001
CK3=$(cookie_of)
api DELETE /v1/tenants/acme/agents/1001 "${KEY[acme]}"
desk GET /v1/tenants/acme/desk/session "$CK3" ""
check deleted_agent_session_401 [ "$HTTP" = 401 ] || echo "# HTTP $HTTP $(cat "$RESP")"
exit $FAILED

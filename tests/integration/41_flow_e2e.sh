#!/usr/bin/env bash
# A carrier's call to a flow number, end to end with the real mediad the
# stack runs (build/media/mediad): Kamailio asks routingd, routingd sends
# it to the mediad whose heartbeat it has, mediad plays the flow's prompt
# and hangs up, and the call record says so. Skipped (one ok line) where
# mediad is not built.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
if [ ! -x "${CC_BUILD:-$TOP/build}/media/mediad" ]; then
	ok skipped_no_mediad
	exit 0
fi
trap stack_down EXIT
stack_up || exit 1

acme_with_agent
check mediad_alive wait_for 10 media_alive 1
FLOW=$(uuid) VER=$(uuid)
sql "BEGIN;
     INSERT INTO cc.flows (id, tenant_id, name, version_id) VALUES ('$FLOW', '${TID[acme]}', 'main', '$VER');
     INSERT INTO cc.flow_versions (id, flow_id, tenant_id, body, prompts)
       VALUES ('$VER', '$FLOW', '${TID[acme]}',
               '{\"start\":\"hi\",\"nodes\":{\"hi\":{\"type\":\"play\",\"prompts\":[\"goodbye\"],\"next\":\"bye\"},\"bye\":{\"type\":\"hangup\"}}}',
               '{goodbye}');
     COMMIT;" > /dev/null
assign_number acme +8657199990001
sql "UPDATE cc.numbers SET target_type = 'flow', target_flow = '$FLOW', target_extension = NULL
     WHERE e164 = '+8657199990001'" > /dev/null
new_agent acme 1002 acme-pass-1002
sleep 2
check flow_call_played_and_hung_up sipp_run e2e -sf "$SIPP_DIR/carrier_call_cut.xml" -s +8657199990001 \
	-set from +8613800000001 -p "$CARRIER" -default_behaviors all,-abortunexp -m 1 -timeout 30 -timeout_error
sql_is() { [ "$(sql "$2")" = "$1" ]; }
check flow_call_recorded wait_for 15 sql_is ivr_ended "SELECT result FROM cc.calls WHERE number = '+8657199990001' AND ended_at IS NOT NULL"
echo "# $(sql "SELECT result, flow, ivr::text, ivr_ms, reason FROM cc.calls WHERE number = '+8657199990001'")"

# --- mediad killed with a call in its flow (hold music, 47 s): the caller
# gets a BYE, the record says why, new calls get 503 at once, the
# supervisor starts mediad again and flows answer without a Kamailio restart
HOLD=$(uuid) HVER=$(uuid)
sql "BEGIN;
     INSERT INTO cc.flows (id, tenant_id, name, version_id) VALUES ('$HOLD', '${TID[acme]}', 'hold', '$HVER');
     INSERT INTO cc.flow_versions (id, flow_id, tenant_id, body, prompts)
       VALUES ('$HVER', '$HOLD', '${TID[acme]}',
               '{\"start\":\"music\",\"nodes\":{\"music\":{\"type\":\"play\",\"prompts\":[\"hold_music\"],\"next\":\"bye\"},\"bye\":{\"type\":\"hangup\"}}}',
               '{hold_music}');
     COMMIT;" > /dev/null
assign_number acme +8657199990002
sql "UPDATE cc.numbers SET target_type = 'flow', target_flow = '$HOLD', target_extension = NULL
     WHERE e164 = '+8657199990002'" > /dev/null
new_agent acme 1003 acme-pass-1003
sleep 2
kam_pid=$(cat "$CC_VAR/run/kamailio.pid")
sipp_run held -sf "$SIPP_DIR/carrier_call_cut.xml" -s +8657199990002 -set from +8613800000002 \
	-p "$CARRIER" -default_behaviors all,-abortunexp -m 1 -timeout 40 -timeout_error &
HELD=$!
up() { sql_is 1 "SELECT count(*) FROM cc.calls WHERE number = '+8657199990002' AND answered_at IS NOT NULL"; }
check held_call_up wait_for 15 up
now_ms() { date +%s%3N; }
kill -KILL "$(cat "$CC_VAR/run/mediad.pid")"
t0=$(now_ms)
check killed_mediad_caller_gets_bye wait "$HELD"
echo "# the caller's BYE $(( $(now_ms) - t0 )) ms after mediad was killed"
check killed_mediad_record_reason wait_for 15 sql_is "media server lost" "SELECT reason FROM cc.calls WHERE number = '+8657199990002'"
# Kamailio 5.6.3 sometimes ends a dialog for dlg.end_dlg without running
# dialog:end; routingd then reports the end itself (routing/media.h)
echo "# ends routingd reported itself: $(routing_metric cc_routing_media_ends_reported_total)"
check killed_mediad_restarted wait_for 15 media_alive 1
check flows_answer_again sipp_run e2e2 -sf "$SIPP_DIR/carrier_call_cut.xml" -s +8657199990001 \
	-set from +8613800000003 -p "$CARRIER" -default_behaviors all,-abortunexp -m 1 -timeout 30 -timeout_error
expect_eq kamailio_not_restarted "$(cat "$CC_VAR/run/kamailio.pid")" "$kam_pid"
live_dialogs() { CC_VAR=$CC_VAR "$TOP/ops/kamrpc.sh" dlg.briefing '["cs"]' | jq '[.result[]? | select(.state < 5)] | length'; }
dialogs_gone() { [ "$(live_dialogs)" = 0 ]; }
check kamailio_dialogs_cleaned wait_for 10 dialogs_gone
exit $FAILED

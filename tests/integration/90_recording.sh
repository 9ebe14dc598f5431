#!/usr/bin/env bash
# mediad's recorder (docs/RECORDING.md "Recorder", "Policy") through the
# real stack: a baresip caller from the carrier's side plays 1000 Hz, the
# baresip agent 1001 plays 400 Hz (not higher: sox's rough frequency reads
# a 2200 Hz tone at 8 kHz as 1936 Hz); the queue "rec" rings 1001.
#
# With the tenant's policy all, the bridged call is recorded: the row is
# 'recording' while the call goes on, then 'complete' with bytes,
# audio_bytes, sha256, duration and pauses; the file is decrypted
# (tests/tools/recplay: the row's KEK version, the local KMS) and decoded
# (tests/tools/ogg2wav, libsndfile's Ogg Opus): two channels, LEFT has the
# caller's 1000 Hz and not the agent's 400, RIGHT the other way round.
# The API's audio download gives the same bytes. The recording op (as
# routingd sends it to mediad): pause leaves silence for its span and the
# row's pauses say where; pause twice, resume unpaused, start while
# recording, an unknown action, a call mediad does not have are refused;
# stop then start makes a second row for the same call, which goes on
# across a hold (the caller's music is not recorded).
#
# A blind transfer to another queue ends the recording (complete); the
# bridge with the next agent is recorded anew (its own row, its agent).
# A supervisor listening is not recorded; whispering, it is, on the agent's
# side only. Policy none and percent 0: no row; percent 100: a row. mediad killed
# (-9) mid-call: after its restart the row is 'incomplete' and its file
# decodes up to about the kill. The store on a full tiny tmpfs: the call
# goes on (audio both ways), the row 'failed' with the error,
# cc_media_recordings_failed_total counted. The tenant's keys destroyed:
# no recording, the row 'failed' without a key.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
BUILD=${CC_BUILD:-$TOP/build}
if [ ! -x "$BUILD/media/mediad" ] || [ ! -x "$BUILD/tests/recplay" ] || [ ! -x "$BUILD/tests/ogg2wav" ]; then
	echo "# skip: mediad, tests/recplay or tests/ogg2wav is not built"
	exit 0
fi
TINY=""
trap 'bs_stop_all; [ -n "$TINY" ] && umount "$TINY" 2>/dev/null; stack_down' EXIT
stack_up || exit 1
AUD=$SIPW/audio; mkdir -p "$AUD"
for f in 1000 400 600 250; do tone_wav "$AUD/$f.wav" "$f" 300; done
tone_wav "$AUD/qmusic.wav" 700 20

# ------------------------------------------------------------------ setup
new_tenant acme
new_agent acme 1001 acme-pass-1001
new_agent acme 1002 acme-pass-1002
new_agent acme 1005 acme-pass-1005
A=${TID[acme]}
HTTP=$(curl -sk -o "$CC_VAR/resp.json" -w '%{http_code}' -X PUT -H "Authorization: Bearer ${KEY[acme]}" \
       -H "Content-Type: audio/wav" --data-binary "@$AUD/qmusic.wav" "$API/v1/tenants/acme/prompts/qmusic")
check prompt_qmusic [ "$HTTP" = 201 ]
api POST /v1/tenants/acme/queues "${KEY[acme]}" \
	'{"name":"rec","strategy":"longest_idle","ring_timeout_s":10,"wrapup_s":0,"max_wait_s":0,"music":"qmusic"}'
check queue_rec [ "$HTTP" = 201 ]
api POST /v1/tenants/acme/queues "${KEY[acme]}" \
	'{"name":"back","strategy":"longest_idle","ring_timeout_s":10,"wrapup_s":0,"max_wait_s":0,"music":"qmusic"}'
check queue_back [ "$HTTP" = 201 ]
qid() { sql "SELECT id FROM cc.queues WHERE tenant_id = '$A' AND name = '$1'"; }
member() { # QUEUE EXT
	sql "INSERT INTO cc.queue_members (tenant_id, queue_id, agent_id, priority) VALUES ('$A', '$(qid "$1")',
	     (SELECT id FROM cc.agents WHERE tenant_id = '$A' AND extension = '$2'), 1)" > /dev/null
}
member rec 1001
member back 1002
sql "UPDATE cc.agents SET supervises = '{rec}' WHERE tenant_id = '$A' AND extension = '1005'" > /dev/null
NQ=+8657100000091
assign_number acme "$NQ"
sql "UPDATE cc.numbers SET target_type = 'queue', target_queue = '$(qid rec)' WHERE e164 = '$NQ'" > /dev/null
FROM=+8613800000091
BS_SIP[c]=$(pick_port 2)
new_trunk caller "${BS_SIP[c]}"
bs_peer c "$AUD/1000.wav" "$FROM"
check trunk_loaded wait_for 20 trunk_known "${BS_SIP[c]}"
bs_start a1 "$AUD/400.wav" 1001 acme.cc.test acme-pass-1001
check registered_1001 wait_for 15 registered 1001@acme.cc.test
bs_start a2 "$AUD/600.wav" 1002 acme.cc.test acme-pass-1002
check registered_1002 wait_for 15 registered 1002@acme.cc.test
bs_start s "$AUD/250.wav" 1005 acme.cc.test acme-pass-1005
check registered_1005 wait_for 15 registered 1005@acme.cc.test
check mediad_alive wait_for 20 media_up
# routingd reads the tenant again on its notices (an API write each)
new_agent acme 1009 acme-pass-1009
api PUT /v1/tenants/acme/agents/1001/state "${KEY[acme]}" '{"state":"ready"}'
check agent_ready [ "$HTTP" = 200 ]
api PUT /v1/tenants/acme/agents/1002/state "${KEY[acme]}" '{"state":"ready"}'
check agent_1002_ready [ "$HTTP" = 200 ]

# ------------------------------------------------------------- helpers
REQ=$BUILD/tests/natsreq
MLOG=$CC_VAR/log/mediad.log
PGA="postgresql://cc_admin:$(cat "$CC_VAR/secrets/pg_admin")@127.0.0.1:$CC_PG_PORT/cc"
inst() { grep -o 'mediad [0-9a-f-]\{36\} at' "$CC_VAR/log/routingd.log" | tail -1 | cut -d' ' -f2; }
# the recording control route (tenantd -> routingd -> the call's mediad)
rec_op() { # CALL ACTION [KEY]
	api POST "/v1/tenants/acme/calls/$1/recording" "${3:-${KEY[acme]}}" "{\"action\":\"$2\"}"
	ANS=$(cat "$RESP")
}
ans() { jq -r "$1" <<< "$ANS"; }
refused() { # NAME CALL ACTION STATUS [KEY]
	rec_op "$2" "$3" "${5:-}"
	expect_eq "$1" "$HTTP" "$4"
}
# mediad's ACD request "op" as routingd sends it (its NATS user): what the API cannot send
media_op() { # BODY
	ANS=$(CC_NATS_CREDS=$CC_VAR/secrets/nats_routingd "$REQ" "$NATS" "cc.rpc.media.$(inst).op" "$1" 3000 2>> "$SIPW/natsreq.err")
}
policy() { # JSON
	api PUT /v1/tenants/acme/recording "${KEY[acme]}" "$1"
	[ "$HTTP" = 200 ] || { echo "# policy $1: HTTP $HTTP $(cat "$RESP")"; return 1; }
	sleep 1                          # routingd's notice
}
n0=0
dial() { # the caller dials the queue; the agent answers
	n0=$(answered_n a1)
	bs_cmd c dial "sip:$NQ@127.0.0.1:$CC_SIP_PORT"
	wait_for 20 n_is_past a1 "$n0"
}
hangup() { local e; e=$(grep -ac -E 'Call with .* terminated|session closed' "$SIPW/bs/c/out"); bs_cmd c hangup; wait_for 10 ended_past "$e"; sleep 0.5; }
ended_past() { [ "$(grep -ac -E 'Call with .* terminated|session closed' "$SIPW/bs/c/out")" -gt "$1" ]; }
call_id() { sql "SELECT id FROM cc.calls WHERE from_number = '$FROM' AND direction = 'inbound' ORDER BY started_at DESC LIMIT 1"; }
# the call just dialled: its record may come after the answer (a slow build)
LAST=""
not_last() { [ -n "$(call_id)" ] && [ "$(call_id)" != "$LAST" ]; }
new_call() { wait_for 10 not_last; LAST=$(call_id); echo "$LAST"; }
rows() { sql "SELECT count(*) FROM cc.recordings WHERE call_id = '$1'"; }
row() { # CALL FIELD [N]: the field of the call's Nth recording (by start)
	sql "SELECT $2 FROM cc.recordings WHERE call_id = '$1' ORDER BY started_at, created_at OFFSET ${3:-0} LIMIT 1"
}
state_is() { [ "$(row "$1" state "${3:-0}")" = "$2" ]; }
media_metric() {
	curl -s "http://127.0.0.1:$CC_MEDIA_METRICS_PORT/metrics" | awk -v m="$1" '$1 == m { print $2 }'
}
# play ID DIR: decrypt and decode; DIR/left.wav, DIR/right.wav; PLAY = recplay's word
play() {
	mkdir -p "$2"
	PLAY=$("$BUILD/tests/recplay" "$PGA" "$CC_VAR/secrets" "$CC_VAR/recordings" "$1" "$2/rec.ogg") || return 1
	DEC=$("$BUILD/tests/ogg2wav" "$2/rec.ogg" "$2/rec.wav") || return 1
	sox "$2/rec.wav" "$2/left.wav" remix 1 && sox "$2/rec.wav" "$2/right.wav" remix 2
}
# band FILE LO-HI: the RMS of FILE band-passed; below A B: A < 1 % of B
band() { sox "$1" -n sinc "$2" stat 2>&1 | awk '/^RMS +amplitude/ { print $3 }'; }
below() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < 0.01 * b) }'; }
silent_span() { # FILE FROM_MS TO_MS: nothing loud between (half a second inside each end)
	local f=$1 a=$(( $2 + 500 )) b=$(( $3 - 500 ))
	sox "$f" "$f.span.wav" trim "$(ms_s "$a")" "$(ms_s $((b - a)))" && ! audio_not_silent "$f.span.wav" 0.02
}

# ------------------------------------------- policy all: two channels, pause
check policy_all policy '{"policy":"all"}'
check rec_answered dial
CALL=$(new_call); LAST=$CALL
check rec_row_recording wait_for 10 state_is "$CALL" recording
expect_eq rec_row_instance_set "$(row "$CALL" "instance IS NOT NULL AND kek_version >= 1 AND length(wrapped_key) = 60")" t
expect_eq rec_row_metadata "$(row "$CALL" "queue || ' ' || agent || ' ' || caller")" "rec 1001 $FROM"
expect_eq rec_metric_active "$(media_metric cc_media_recordings_active)" 1
RID=$(row "$CALL" id)
sleep 3
rec_op "$CALL" pause
expect_eq rec_pause "$HTTP $(ans '.recording.id + " " + .recording.state')" "200 $RID paused"
refused rec_pause_twice_409 "$CALL" pause 409
sleep 3
rec_op "$CALL" resume
expect_eq rec_resume "$(ans '.recording.state')" recording
refused rec_resume_unpaused_409 "$CALL" resume 409
refused rec_start_while_recording_409 "$CALL" start 409
media_op "{\"id\":\"$(uuid)\",\"call\":\"$CALL\",\"op\":\"recording\",\"action\":\"explode\"}"
expect_eq rec_unknown_action_422 "$(ans '(.ok|tostring) + " " + (.status|tostring)')" "false 422"
media_op "{\"id\":\"$(uuid)\",\"call\":\"$CALL\",\"op\":\"recording\",\"action\":\"pause\",\"agent\":\"1009\"}"
expect_eq rec_other_agent_404 "$(ans '(.ok|tostring) + " " + (.status|tostring)')" "false 404"
media_op "{\"id\":\"$(uuid)\",\"call\":\"$CALL\",\"op\":\"recording\",\"action\":\"pause\",\"queues\":[\"other\"]}"
expect_eq rec_other_queues_404 "$(ans '(.ok|tostring) + " " + (.status|tostring)')" "false 404"
refused rec_unknown_call_404 "$(uuid)" stop 404
# keys: an agent's own call (1001) yes, another agent's (1009) and a
# supervisor of another queue 404 (mediad checks: the call is not theirs)
api POST /v1/tenants/acme/keys "${KEY[acme]}" '{"role":"agent","agent":"1009"}'
refused rec_other_agents_key_404 "$CALL" pause 404 "$(jr .token)"
sql "UPDATE cc.agents SET supervises = '{other}' WHERE tenant_id = '$A' AND extension = '1009'" > /dev/null
api POST /v1/tenants/acme/keys "${KEY[acme]}" '{"role":"supervisor","agent":"1009"}'
refused rec_other_queues_supervisor_404 "$CALL" pause 404 "$(jr .token)"
api POST /v1/tenants/acme/keys "${KEY[acme]}" '{"role":"agent","agent":"1001"}'
AK=$(jr .token)
rec_op "$CALL" pause "$AK"
expect_eq rec_own_agent_pauses "$HTTP $(ans .recording.state)" "200 paused"
rec_op "$CALL" resume "$AK"
expect_eq rec_own_agent_resumes "$HTTP $(ans .recording.state)" "200 recording"
check rec_control_audited [ "$(sql "SELECT count(*) FROM cc.audit WHERE action = 'recording_control' AND object_id = '$CALL'")" -ge 6 ]
sleep 3
rec_op "$CALL" stop
expect_eq rec_stop "$(ans '.recording.id + " " + .recording.state')" "$RID stopping"
refused rec_stop_none_409 "$CALL" stop 409
check rec_first_complete wait_for 10 state_is "$CALL" complete
rec_op "$CALL" start
expect_eq rec_start_again "$(ans '.recording.state')" recording
RID2=$(ans '.recording.id')
check rec_second_row [ "$RID2" != "$RID" ] && [ "$RID2" != null ]
# hold (the caller hears the queue's 700 Hz music): the recording goes on, each side as it is
sleep 1
api POST "/v1/tenants/acme/calls/$CALL/hold" "${KEY[acme]}"
check rec_hold_200 [ "$HTTP" = 200 ]
sleep 2.5
api POST "/v1/tenants/acme/calls/$CALL/unhold" "${KEY[acme]}"
check rec_unhold_200 [ "$HTTP" = 200 ]
sleep 1
hangup
check rec_second_complete wait_for 10 state_is "$CALL" complete 1
expect_eq rec_two_rows "$(rows "$CALL")" 2
rec_op "$CALL" start
check rec_after_hangup_refused [ "$HTTP" = 404 ] || [ "$HTTP" = 409 ]
expect_eq rec_row_figures "$(row "$CALL" "(bytes > 0 AND audio_bytes > 0 AND length(sha256) = 64 AND ended_at IS NOT NULL)::text")" true
dur=$(row "$CALL" duration_ms)
echo "# stored: $(row "$CALL" "bytes || ' bytes, ' || (bytes * 60000 / duration_ms) || ' bytes per minute'")"
check rec_duration_about_9s [ "${dur:-0}" -ge 8000 ] && [ "${dur:-0}" -le 11000 ]
pz=$(row "$CALL" pauses)
echo "# duration $dur ms, pauses $pz"
expect_eq rec_two_pauses "$(jq length <<< "$pz")" 2     # the API's, then the agent key's
pf=$(jq '.[0].from_ms' <<< "$pz") pt=$(jq '.[0].to_ms' <<< "$pz")
check rec_pause_about_3s [ $((pt - pf)) -ge 2500 ] && [ $((pt - pf)) -le 4000 ]
check rec_plays play "$RID" "$SIPW/r1"
expect_eq rec_file_complete "$PLAY" complete
echo "# decoded: $DEC; left $(freqs "$SIPW/r1/left.wav"); right $(freqs "$SIPW/r1/right.wav")"
expect_eq rec_two_channels "${DEC%% *}" 2
check rec_left_has_caller_1000 has_freq "$SIPW/r1/left.wav" 1000
check rec_left_not_agent_400 not has_freq "$SIPW/r1/left.wav" 400
check rec_right_has_agent_400 has_freq "$SIPW/r1/right.wav" 400
check rec_right_not_caller_1000 not has_freq "$SIPW/r1/right.wav" 1000
# no crosstalk: each side's tone, band-passed, is < 1 % as loud in the other channel
echo "# 1000 Hz left $(band "$SIPW/r1/left.wav" 900-1100) right $(band "$SIPW/r1/right.wav" 900-1100); 400 Hz left $(band "$SIPW/r1/left.wav" 350-450) right $(band "$SIPW/r1/right.wav" 350-450)"
check rec_caller_not_in_right below "$(band "$SIPW/r1/right.wav" 900-1100)" "$(band "$SIPW/r1/left.wav" 900-1100)"
check rec_agent_not_in_left below "$(band "$SIPW/r1/left.wav" 350-450)" "$(band "$SIPW/r1/right.wav" 350-450)"
check rec_pause_is_silence_left silent_span "$SIPW/r1/left.wav" "$pf" "$pt"
check rec_pause_is_silence_right silent_span "$SIPW/r1/right.wav" "$pf" "$pt"
check rec_second_plays play "$RID2" "$SIPW/r2"
check rec_second_has_caller has_freq "$SIPW/r2/left.wav" 1000
echo "# second: left $(freqs "$SIPW/r2/left.wav"); right $(freqs "$SIPW/r2/right.wav"); caller heard $(freqs "$(bs_heard c)")"
dur2=$(row "$CALL" duration_ms 1)
check rec_kept_across_hold [ "${dur2:-0}" -ge 4000 ]
check rec_caller_heard_music has_freq "$(bs_heard c)" 700
check rec_hold_music_not_recorded_left not has_freq "$SIPW/r2/left.wav" 700
check rec_hold_music_not_recorded_right not has_freq "$SIPW/r2/right.wav" 700
# the API's download: the same audio, verified
HTTP=$(curl -sk -o "$SIPW/dl.ogg" -w '%{http_code}' -H "Authorization: Bearer ${KEY[acme]}" \
	"$API/v1/tenants/acme/recordings/$RID/audio")
check rec_download_200 [ "$HTTP" = 200 ]
check rec_download_same_audio cmp -s "$SIPW/dl.ogg" "$SIPW/r1/rec.ogg"
check rec_opus_tags grep -aq "CC_CALL=$CALL" "$SIPW/r1/rec.ogg"

# -------------------------------------------------- the policy decides
for p in none percent0 percent100; do
	case $p in
	none) check policy_none policy '{"policy":"none"}' ;;
	percent0) check policy_percent0 policy '{"policy":"percent","percent":0}' ;;
	percent100) check policy_percent100 policy '{"policy":"percent","percent":100}' ;;
	esac
	check "${p}_answered" dial
	C=$(new_call); LAST=$C
	sleep 2
	hangup
	if [ $p = percent100 ]; then
		check "${p}_recorded" wait_for 10 state_is "$C" complete
	else
		expect_eq "${p}_no_row" "$(rows "$C")" 0
	fi
done

# ------------- a blind transfer ends the recording; the next bridge decides anew
check policy_all_again policy '{"policy":"all"}'
check xfer_answered dial
C=$(new_call); LAST=$C
check xfer_recording wait_for 10 state_is "$C" recording
sleep 2
b0=$(answered_n a2)
api POST "/v1/tenants/acme/calls/$C/transfer" "${KEY[acme]}" '{"target":{"type":"queue","name":"back"}}'
check xfer_200 [ "$HTTP" = 200 ]
check xfer_first_complete wait_for 10 state_is "$C" complete
check xfer_1002_answers wait_for 25 n_is_past a2 "$b0"
check xfer_second_recording wait_for 10 state_is "$C" recording 1
expect_eq xfer_second_agent "$(row "$C" "agent || ' ' || queue" 1)" "1002 back"
sleep 3
hangup
check xfer_second_complete wait_for 10 state_is "$C" complete 1
check xfer_second_plays play "$(row "$C" id 1)" "$SIPW/rx"
echo "# after the transfer: left $(freqs "$SIPW/rx/left.wav"); right $(freqs "$SIPW/rx/right.wav")"
check xfer_second_right_is_1002 has_freq "$SIPW/rx/right.wav" 600
check xfer_second_right_not_1001 not has_freq "$SIPW/rx/right.wav" 400
check xfer_second_left_caller has_freq "$SIPW/rx/left.wav" 1000
api PUT /v1/tenants/acme/agents/1001/state "${KEY[acme]}" '{"state":"ready"}'

# ---------- a supervisor: listening is not recorded, whispering is (agent's side)
check sup_answered dial
C=$(new_call); LAST=$C
check sup_recording wait_for 10 state_is "$C" recording
api POST "/v1/tenants/acme/calls/$C/monitor" "${KEY[acme]}" '{"supervisor":"1005","mode":"listen"}'
check sup_listen_200 [ "$HTTP" = 200 ]
check sup_phone_answers wait_for 20 n_is_past s 0
sleep 3
W_MS=$(row "$C" "(extract(epoch from now() - started_at) * 1000)::int")
api PATCH "/v1/tenants/acme/calls/$C/monitor" "${KEY[acme]}" '{"supervisor":"1005","mode":"whisper"}'
check sup_whisper_200 [ "$HTTP" = 200 ]
sleep 3
hangup
check sup_complete wait_for 10 state_is "$C" complete
check sup_plays play "$(row "$C" id)" "$SIPW/rs"
seg() { sox "$1" "$1.$2.wav" trim "$(ms_s "$3")" "$(ms_s "$4")" && band "$1.$2.wav" 230-270; }
l_sup=$(seg "$SIPW/rs/right.wav" listen $((W_MS - 2300)) 2000)
w_sup=$(seg "$SIPW/rs/right.wav" whisper $((W_MS + 700)) 1800)
c_sup=$(band "$SIPW/rs/left.wav" 230-270)
echo "# supervisor's 250 Hz: right listening $l_sup, right whispering $w_sup, left $c_sup (whisper at $W_MS ms)"
check sup_whisper_recorded_right awk -v w="$w_sup" 'BEGIN { exit !(w > 0.05) }'
check sup_listen_not_recorded below "$l_sup" "$w_sup"
check sup_never_on_caller_side below "$c_sup" "$w_sup"
check sup_agent_still_right has_freq "$SIPW/rs/right.wav" 400
bs_cmd s hangup
api PUT /v1/tenants/acme/agents/1001/state "${KEY[acme]}" '{"state":"ready"}'

# ------------------------------------------ mediad killed: 'incomplete'
check kill_answered dial
C=$(new_call); LAST=$C
check kill_recording wait_for 10 state_is "$C" recording
KID=$(row "$C" id)
sleep 4
kill -9 "$(cat "$CC_VAR/run/mediad.pid")"
check kill_mediad_back wait_for 30 media_up
check kill_row_incomplete wait_for 20 state_is "$C" incomplete
check kill_plays play "$KID" "$SIPW/rk"
expect_eq kill_file_incomplete "$PLAY" incomplete
read -r _ rate frames <<< "$DEC"
echo "# after the kill: $DEC"
check kill_audio_up_to_the_kill [ "${frames:-0}" -ge $((${rate:-8000} * 3)) ] && [ "${frames:-0}" -le $((${rate:-8000} * 6)) ]
check kill_left_has_caller has_freq "$SIPW/rk/left.wav" 1000
bs_cmd c hangup; bs_cmd a1 hangup; sleep 2
check agent_ready_after_kill wait_for 20 eval 'api PUT /v1/tenants/acme/agents/1001/state "${KEY[acme]}" "{\"state\":\"ready\"}"; [ "$HTTP" = 200 ]'
check registered_after_kill wait_for 15 registered 1001@acme.cc.test

# ------------------------------- a full store: the call goes on, 'failed'
f0=$(media_metric cc_media_recordings_failed_total)
TINY=$CC_VAR/recordings
mount -t tmpfs -o size=64k,mode=0700 tmpfs "$TINY" || TINY=""
check tiny_mounted [ -n "$TINY" ]
# a few kB left: the first chunk fits, the next seconds do not
head -c $((52 * 1024)) /dev/zero > "$TINY/fill" 2> /dev/null
check full_answered dial
C=$(new_call); LAST=$C
check full_row_failed wait_for 15 state_is "$C" failed
echo "# failed: $(row "$C" error)"
check full_error_says_no_space grep -q 'store.*No space left' <<< "$(row "$C" error)"
check full_metric_counted [ "$(media_metric cc_media_recordings_failed_total)" -gt "${f0:-0}" ]
sleep 3
hangup
wait_for 10 bs_ended a1
check full_call_went_on has_freq "$(bs_heard a1)" 1000
check full_caller_heard_agent has_freq "$(bs_heard c)" 400
umount "$TINY" && TINY=""

# ------------------------- the tenant's keys destroyed: no recording, 'failed'
# (as a tenant's deletion does: cc_tenant_kek_destroy; last, nothing records after)
sql "UPDATE cc.tenant_keys SET wrapped = NULL, destroyed_at = now() WHERE tenant_id = '$A'" > /dev/null
check nokey_answered dial
C=$(new_call); LAST=$C
check nokey_row_failed wait_for 15 state_is "$C" failed
echo "# failed: $(row "$C" error)"
check nokey_error_says_key grep -q 'tenant key' <<< "$(row "$C" error)"
expect_eq nokey_no_key_kept "$(row "$C" "length(wrapped_key)")" 0
sleep 1
hangup
check nokey_call_went_on has_freq "$(bs_heard c)" 400
exit 0

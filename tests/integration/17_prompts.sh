#!/usr/bin/env bash
# Prompts (docs/PROMPTS.md): every content type is read, text is spoken in
# Mandarin and English, what is not audio, silent, clipped, too long or too
# big is refused with its reason, a replaced prompt's old audio goes, a tenant's quota holds, the
# audio comes back as a WAV that is not silent, a prompt a flow plays
# cannot be deleted, another tenant sees none of it, and a 10-minute
# decode does not hold other requests.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
trap stack_down EXIT
stack_up || exit 1

new_tenant acme; new_tenant beta
A=$CC_VAR/audio; mkdir -p "$A"
export SOX_OPTS=-V1
sox -n -r 44100 -c 2 "$A/welcome.wav" synth 3 sine 440 vol 0.4
sox "$A/welcome.wav" "$A/welcome.mp3"
sox "$A/welcome.wav" "$A/welcome.flac"
sox "$A/welcome.wav" "$A/welcome.ogg"
sox -n -r 8000 -c 1 "$A/silent.wav" synth 2 sine 440 vol 0
# driven 12 dB past full scale by sox's gain (its synth's vol rounds the tops)
sox -n -r 8000 -c 1 -b 16 "$A/loud.wav" synth 2 sine 440 gain -3
sox "$A/loud.wav" -b 16 "$A/clipped.wav" gain 12
sox -n -r 8000 -c 1 -b 16 "$A/long.wav" synth 601 sine 440 vol 0.3
head -c $((21 * 1024 * 1024)) /dev/urandom > "$A/big.bin"
head -c 4096 /dev/urandom > "$A/junk.bin"

# put SLUG NAME FILE CONTENT-TYPE -> $HTTP, body in $RESP
put() {
	RESP=$CC_VAR/resp.json
	HTTP=$(curl -sk -o "$RESP" -w '%{http_code}' -X PUT -H "Authorization: Bearer ${KEY[$1]}" \
	       -H "Content-Type: $4" --data-binary "@$3" "$API/v1/tenants/$1/prompts/$2")
}
# tts SLUG NAME JSON
tts() {
	RESP=$CC_VAR/resp.json
	HTTP=$(curl -sk -o "$RESP" -w '%{http_code}' -X PUT -H "Authorization: Bearer ${KEY[$1]}" \
	       -H "Content-Type: application/json" --data-binary "$3" "$API/v1/tenants/$1/prompts/$2")
}
# audio SLUG NAME [QUERY] -> $A/out.wav, $HTTP
audio() {
	HTTP=$(curl -sk -o "$A/out.wav" -w '%{http_code}' -H "Authorization: Bearer ${KEY[$1]}" \
	       "$API/v1/tenants/$1/prompts/$2/audio${3:-}")
}
rms_of() { sox "$1" -n stat 2>&1 | awk '/RMS +amplitude/ { print $3 }'; }
loud() { awk -v r="$(rms_of "$1")" 'BEGIN { exit !(r > 0.05) }'; }
near() { awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= t) }'; }

# ------------------------------------------------------ each content type
put acme welcome "$A/welcome.wav" audio/wav
check wav_201 [ "$HTTP" = 201 -a "$(jr .source)" = upload -a "$(jr .content_type)" = audio/wav -a "$(jr .replaced)" = false ]
check wav_duration_kept near "$(jr .duration_ms)" 3000 20
WELCOME_ID=$(jr .id)
put acme menu-mp3 "$A/welcome.mp3" audio/mpeg
check mp3_201 [ "$HTTP" = 201 ] && check mp3_duration near "$(jr .duration_ms)" 3000 80
put acme menu_flac "$A/welcome.flac" audio/flac
check flac_201 [ "$HTTP" = 201 ] && check flac_duration near "$(jr .duration_ms)" 3000 20
put acme menu_ogg "$A/welcome.ogg" "audio/ogg; codecs=vorbis"
check ogg_201 [ "$HTTP" = 201 ] && check ogg_duration near "$(jr .duration_ms)" 3000 20
expect_eq stored_8k_and_16k "$(sql "SELECT length(pcm16) = 2 * length(pcm8) OR abs(length(pcm16) - 2 * length(pcm8)) <= 4 FROM cc.prompts WHERE id = '$WELCOME_ID'")" t
expect_eq stored_8k_length "$(sql "SELECT abs(length(pcm8) - 48000) <= 320 FROM cc.prompts WHERE id = '$WELCOME_ID'")" t

# ------------------------------------------------------------------ TTS
tts acme greeting '{"tts":"您好，欢迎致电客服中心","voice":"zh"}'
check tts_zh_201 [ "$HTTP" = 201 -a "$(jr .source)" = tts -a "$(jr .voice)" = zh -a "$(jr .tts)" = "您好，欢迎致电客服中心" ]
check tts_zh_has_length [ "$(jr .duration_ms)" -gt 1000 ]
tts acme greeting_en '{"tts":"Welcome to the service center. For repair appointments press 1.","voice":"en"}'
check tts_en_201 [ "$HTTP" = 201 -a "$(jr .voice)" = en ]
tts acme x '{"tts":"hello","voice":"fr"}'
check tts_unknown_voice_422 [ "$HTTP" = 422 -a "$(jr .error.field)" = voice ]
tts acme x '{"tts":"","voice":"en"}'
check tts_empty_422 [ "$HTTP" = 422 -a "$(jr .error.field)" = tts ]
tts acme x '{"voice":"en"}'
check tts_missing_400 [ "$HTTP" = 400 -a "$(jr .error.field)" = tts ]
tts acme x '{"tts":"hi","voice":"en","speed":3}'
check tts_unknown_field_400 [ "$HTTP" = 400 -a "$(jr .error.field)" = speed ]
tts acme x '{"tts":"hi"'
expect_eq tts_bad_json_400 "$HTTP" 400
tts acme x "{\"tts\":\"$(head -c 2001 /dev/zero | tr '\0' a)\",\"voice\":\"en\"}"
check tts_too_long_text_422 [ "$HTTP" = 422 -a "$(jr .error.field)" = tts ]

# ------------------------------------------------------------- refusals
put acme x "$A/welcome.wav" text/plain
expect_eq not_audio_type_415 "$HTTP" 415
put acme x "$A/junk.bin" audio/wav
check garbage_415 [ "$HTTP" = 415 -a "$(jr .error.code)" = unsupported_media_type ]
put acme x "$A/welcome.flac" audio/wav
check flac_sent_as_wav_415 [ "$HTTP" = 415 ] && grep -q "FLAC" "$RESP"
put acme x "$A/silent.wav" audio/wav
check silent_422 [ "$HTTP" = 422 -a "$(jr .error.code)" = silent ] && grep -q "silent" "$RESP"
put acme x "$A/clipped.wav" audio/wav
check clipped_422 [ "$HTTP" = 422 -a "$(jr .error.code)" = clipped ] && grep -q "clipped" "$RESP"
put acme x "$A/long.wav" audio/wav
check too_long_422 [ "$HTTP" = 422 -a "$(jr .error.code)" = too_long ] && grep -q "10 minutes" "$RESP"
put acme x "$A/big.bin" audio/wav
check too_big_413 [ "$HTTP" = 413 -a "$(jr .error.code)" = payload_too_large ]
# chunked, no Content-Length: refused once past 20 MiB
RESP=$CC_VAR/resp.json
HTTP=$(curl -sk -o "$RESP" -w '%{http_code}' -X PUT -H "Authorization: Bearer ${KEY[acme]}" \
       -H "Content-Type: audio/wav" -H "Transfer-Encoding: chunked" --data-binary "@$A/big.bin" \
       "$API/v1/tenants/acme/prompts/x")
check too_big_chunked_413 [ "$HTTP" = 413 -o "$HTTP" = 000 ]
put acme "Bad.Name" "$A/welcome.wav" audio/wav
check bad_name_422 [ "$HTTP" = 422 -a "$(jr .error.field)" = name ]
expect_eq refusals_stored_nothing "$(sql "SELECT count(*) FROM cc.prompts WHERE name = 'x'")" 0
# another route's body limit is unchanged: 2 MiB of JSON is still 413
head -c $((2 * 1024 * 1024)) /dev/zero | tr '\0' ' ' > "$A/big.json"
HTTP=$(curl -sk -o "$RESP" -w '%{http_code}' -X POST -H "Authorization: Bearer ${KEY[acme]}" \
       -H "Content-Type: application/json" --data-binary "@$A/big.json" "$API/v1/tenants/acme/agents")
expect_eq other_routes_keep_1mib "$HTTP" 413

# ------------------------------------------------------------- replace
# the change is announced on cc.cfg.<tenant>: routingd, which listens to
# every notice, reads the tenant again (its patch counter)
metric() { curl -s "http://127.0.0.1:$CC_ROUTING_METRICS_PORT/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
patched_since() { awk -v now="$(metric cc_routing_model_patches_total)" -v was="$1" 'BEGIN { exit !(now > was) }'; }
patches=$(metric cc_routing_model_patches_total)
put acme welcome "$A/welcome.flac" audio/flac
check replace_200 [ "$HTTP" = 200 -a "$(jr .replaced)" = true -a "$(jr .id)" != "$WELCOME_ID" ]
NEW_ID=$(jr .id)
check replace_notice_published wait_for 5 patched_since "${patches:-0}"
# the old audio goes (a call playing it has it in memory): replacing a
# prompt again and again never grows the database
expect_eq replace_drops_old_row "$(sql "SELECT count(*), count(*) FILTER (WHERE current) FROM cc.prompts WHERE tenant_id = '${TID[acme]}' AND name = 'welcome'")" "1|1"
expect_eq replace_old_gone "$(sql "SELECT count(*) FROM cc.prompts WHERE id = '$WELCOME_ID'")" 0

# a tenant's quota: 500 prompts (here 499 more, tiny, straight into the
# table), then a new name is refused with its reason and nothing stored;
# replacing one it has still works
sql "INSERT INTO cc.prompts (id, tenant_id, name, source, duration_ms, pcm8, pcm16)
     SELECT gen_random_uuid(), '${TID[beta]}', 'q' || i, 'upload', 20, '\\x0000', '\\x0000'
     FROM generate_series(1, 500) i" > /dev/null
put beta one-too-many "$A/welcome.wav" audio/wav
check quota_count_422 [ "$HTTP" = 422 -a "$(jr .error.code)" = quota_exceeded ]
expect_eq quota_nothing_stored "$(sql "SELECT count(*) FROM cc.prompts WHERE tenant_id = '${TID[beta]}' AND name = 'one-too-many'")" 0
put beta q1 "$A/welcome.wav" audio/wav
expect_eq quota_replace_allowed "$HTTP" 200
sql "DELETE FROM cc.prompts WHERE tenant_id = '${TID[beta]}' AND name ~ '^q[0-9]+$'" > /dev/null

# ---------------------------------------------------------------- reads
api GET /v1/tenants/acme/prompts/welcome "${KEY[acme]}"
check get_one [ "$HTTP" = 200 -a "$(jr .id)" = "$NEW_ID" -a "$(jr .name)" = welcome -a "$(jr .source)" = upload -a "$(jr .created_at)" != null ]
api GET /v1/tenants/acme/prompts "${KEY[acme]}"
check list_own [ "$HTTP" = 200 -a "$(jr '[.items[] | select(.default == false) | .name] | join(",")')" = "greeting,greeting_en,menu-mp3,menu_flac,menu_ogg,welcome" ]
check list_defaults [ "$(jr '[.items[] | select(.default) | .name] | sort | join(",")')" = "closed,goodbye,hold_music,invalid,please_hold" ]
check list_default_has_duration [ "$(jr '.items[] | select(.name == "hold_music") | .duration_ms')" -gt 10000 ]
api GET /v1/tenants/acme/prompts/goodbye "${KEY[acme]}"
check get_default [ "$HTTP" = 200 -a "$(jr .default)" = true -a "$(jr .id)" = default:goodbye ]
api GET /v1/tenants/acme/prompts/nothing "${KEY[acme]}"
expect_eq get_missing_404 "$HTTP" 404
audio acme welcome
check audio_wav_8k [ "$HTTP" = 200 -a "$(soxi -r "$A/out.wav")" = 8000 -a "$(soxi -c "$A/out.wav")" = 1 ]
check audio_not_silent loud "$A/out.wav"
check audio_duration near "$(soxi -D "$A/out.wav")" 3.0 0.03
audio acme greeting "?rate=16000"
check audio_tts_16k [ "$HTTP" = 200 -a "$(soxi -r "$A/out.wav")" = 16000 ]
check audio_tts_not_silent loud "$A/out.wav"
audio acme hold_music
check audio_default_hold_music [ "$HTTP" = 200 ] && check audio_default_not_silent loud "$A/out.wav"
audio acme welcome "?rate=44100"
expect_eq audio_bad_rate_400 "$HTTP" 400

# --------------------------------------------------------- isolation
api GET /v1/tenants/acme/prompts "${KEY[beta]}"
expect_eq beta_cannot_list_acme "$HTTP" 404
api GET /v1/tenants/acme/prompts/welcome "${KEY[beta]}"
expect_eq beta_cannot_get_acme "$HTTP" 404
audio beta welcome
expect_eq beta_has_no_welcome_audio "$HTTP" 404
RESP=$CC_VAR/resp.json
HTTP=$(curl -sk -o "$RESP" -w '%{http_code}' -X PUT -H "Authorization: Bearer ${KEY[beta]}" \
       -H "Content-Type: audio/wav" --data-binary "@$A/welcome.wav" "$API/v1/tenants/acme/prompts/evil")
expect_eq beta_cannot_put_acme "$HTTP" 404
api DELETE /v1/tenants/acme/prompts/welcome "${KEY[beta]}"
expect_eq beta_cannot_delete_acme "$HTTP" 404
api GET /v1/tenants/beta/prompts "${KEY[beta]}"
check beta_sees_only_defaults [ "$HTTP" = 200 -a "$(jr '[.items[] | select(.default == false)] | length')" = 0 ]
api GET /v1/tenants/beta/prompts/welcome "${KEY[beta]}"
expect_eq beta_get_welcome_404 "$HTTP" 404

# ------------------------------------------------------ delete, in use
FID=$(uuid) VID=$(uuid)
sql "BEGIN; INSERT INTO cc.flows (id, tenant_id, name, version_id) VALUES ('$FID', '${TID[acme]}', 'main', '$VID');
     INSERT INTO cc.flow_versions (id, flow_id, tenant_id, body, prompts) VALUES ('$VID', '$FID', '${TID[acme]}', '{}', '{welcome,greeting}');
     COMMIT;" > /dev/null
api DELETE /v1/tenants/acme/prompts/welcome "${KEY[acme]}"
check delete_in_use_409 [ "$HTTP" = 409 ] && grep -q main "$RESP"
expect_eq delete_in_use_kept "$(sql "SELECT count(*) FROM cc.prompts WHERE tenant_id = '${TID[acme]}' AND name = 'welcome'")" 1
api DELETE /v1/tenants/acme/prompts/menu_ogg "${KEY[acme]}"
expect_eq delete_unused_204 "$HTTP" 204
api GET /v1/tenants/acme/prompts/menu_ogg "${KEY[acme]}"
expect_eq deleted_is_gone "$HTTP" 404
api DELETE /v1/tenants/acme/prompts/hold_music "${KEY[acme]}"
expect_eq delete_default_404 "$HTTP" 404
# a new current version without the prompt frees it
V2=$(uuid)
sql "BEGIN; INSERT INTO cc.flow_versions (id, flow_id, tenant_id, body, prompts) VALUES ('$V2', '$FID', '${TID[acme]}', '{}', '{greeting}');
     UPDATE cc.flows SET version_id = '$V2' WHERE id = '$FID'; COMMIT;" > /dev/null
api DELETE /v1/tenants/acme/prompts/welcome "${KEY[acme]}"
expect_eq delete_after_flow_changed_204 "$HTTP" 204
expect_eq delete_removed_all_versions "$(sql "SELECT count(*) FROM cc.prompts WHERE tenant_id = '${TID[acme]}' AND name = 'welcome'")" 0

# --------------------------------------------------------- mediad's role
expect_eq mediad_role_reads_prompts "$(sql "SELECT has_table_privilege('cc_mediad', 'cc.prompts', 'SELECT'), has_table_privilege('cc_mediad', 'cc.flow_versions', 'SELECT'), has_table_privilege('cc_mediad', 'cc.tenants', 'SELECT')")" "t|t|t"
expect_eq mediad_role_writes_nothing "$(sql "SELECT has_table_privilege('cc_mediad', 'cc.prompts', 'INSERT'), has_table_privilege('cc_mediad', 'cc.api_keys', 'SELECT')")" "f|f"

# ---------------------------------- a 10-minute decode holds nothing up
sox -n -r 44100 -c 2 "$A/ten.mp3" synth 599 sine 300 sine 500 vol 0.4
put_bg() {
	curl -sk -o "$A/ten.json" -w '%{http_code}' -X PUT -H "Authorization: Bearer ${KEY[acme]}" \
	     -H "Content-Type: audio/mpeg" --data-binary "@$A/ten.mp3" "$API/v1/tenants/acme/prompts/ten" > "$A/ten.code"
}
put_bg & BG=$!
# other requests while it is sent, decoded (seconds) and stored
worst=0 served=0
while kill -0 $BG 2> /dev/null; do
	t=$(curl -sk -o /dev/null -w '%{time_total}' -H "Authorization: Bearer ${KEY[acme]}" "$API/v1/tenants/acme/prompts/greeting")
	worst=$(awk -v a="$worst" -v b="$t" 'BEGIN { print (b > a ? b : a) }')
	served=$((served + 1))
done
wait $BG
check ten_minute_mp3_201 [ "$(cat "$A/ten.code")" = 201 ]
check ten_minute_duration near "$(jq -r .duration_ms "$A/ten.json")" 599000 100
decode=$(grep -o 'prompt ten of [^:]*: [0-9]* ms of audio, decoded in [0-9]* ms, stored in [0-9]* ms' "$CC_VAR/log/tenantd.log" | tail -1)
echo "# 10-minute MP3 upload: ${decode#*: }; meanwhile $served other requests, the slowest ${worst}s"
check other_requests_served_meanwhile [ "$served" -ge 10 ]
check other_requests_not_held awk -v w="$worst" 'BEGIN { exit !(w < 1.0) }'

# -------------------------------- at most 4 uploads, 4 downloads at once
# six slow clients (curl --limit-rate): four hold the slots, two are
# refused (503); then a fifth request is 503 too, and the slots come back
# when the slow ones go. (Waiting for the two refusals first: a probe sent
# earlier could take a slot before all four were in.)
refused_twice() { [ "$(cat "$A"/slow-"$1"-*.txt 2> /dev/null | grep -c ': 503 ')" = 2 ]; }
slow=()
for i in 1 2 3 4 5 6; do
	curl -sk -o /dev/null -w "slow $i: %{http_code} after %{time_total}s\n" --limit-rate 1M \
	     -H "Authorization: Bearer ${KEY[acme]}" "$API/v1/tenants/acme/prompts/ten/audio?rate=16000" \
	     > "$A/slow-get-$i.txt" 2>&1 & slow+=($!)
done
check four_slow_downloads_hold_the_slots wait_for 15 refused_twice get
audio acme greeting
check fifth_download_503 [ "$HTTP" = 503 ] || cat "$A"/slow-get-*.txt
kill "${slow[@]}" 2> /dev/null; wait "${slow[@]}" 2> /dev/null
got_audio() { audio acme greeting; [ "$HTTP" = 200 ]; }
check downloads_free_again wait_for 10 got_audio
slow=()
for i in 1 2 3 4 5 6; do
	curl -sk -o /dev/null -w "slow $i: %{http_code} after %{time_total}s\n" --limit-rate 20k -X PUT \
	     -H "Authorization: Bearer ${KEY[acme]}" -H "Content-Type: audio/wav" --data-binary "@$A/welcome.wav" \
	     "$API/v1/tenants/acme/prompts/slow$i" > "$A/slow-put-$i.txt" 2>&1 & slow+=($!)
done
check four_slow_uploads_hold_the_slots wait_for 15 refused_twice put
put acme fifth "$A/welcome.wav" audio/wav
check fifth_upload_503 [ "$HTTP" = 503 ] || cat "$A"/slow-put-*.txt
kill "${slow[@]}" 2> /dev/null; wait "${slow[@]}" 2> /dev/null
put_ok() { put acme fifth "$A/welcome.wav" audio/wav; [ "$HTTP" = 201 ]; }
check uploads_free_again wait_for 10 put_ok
expect_eq slow_uploads_stored_nothing "$(sql "SELECT count(*) FROM cc.prompts WHERE name LIKE 'slow%'")" 0

exit $FAILED

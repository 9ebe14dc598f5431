#!/usr/bin/env bash
# The real-client test tooling of tests/lib.sh ("real clients and audio"),
# proved against the platform as it is (Kamailio + rtpengine): the IVR
# suite (72_ivr.sh) and the media benchmark stand on it.
#   - two baresip agents call each other through Kamailio and rtpengine,
#     each playing its own tone (440 Hz, 1000 Hz) and recording what it
#     hears: both recordings have sound, each of the other's frequency;
#   - baresip's RFC 4733 digits (sndcode) reach the other baresip;
#   - SIPp as a carrier plays RFC 4733 digits (dtmf_2833_<d>.pcap) that
#     arrive through rtpengine at a baresip agent, in order;
#   - SIPp as a carrier streams audio without telephone-event (rtp_stream):
#     the agent hears it (the in-band DTMF path);
#   - baresip as a carrier peer (a trunk) calls a number: two-way audio.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
trap 'bs_stop_all; stack_down' EXIT
stack_up || exit 1
AUD=$SIPW/audio; mkdir -p "$AUD"
tone_wav "$AUD/440.wav" 440 30
tone_wav "$AUD/1000.wav" 1000 30

CARRIER=$(pick_port)
new_trunk carrier1 "$CARRIER"
new_tenant acme
new_agent acme 1001 acme-pass-1001
new_agent acme 1002 acme-pass-1002
new_number acme +8657112345678 1001
registered() { CC_RPC_PORT=$CC_RPC_PORT "$TOP/ops/kamrpc.sh" ul.lookup "[\"location\",\"$1@acme.cc.test\"]" | grep -q '"Address"'; }

bs_start a "$AUD/440.wav" 1001 acme.cc.test acme-pass-1001
bs_start b "$AUD/1000.wav" 1002 acme.cc.test acme-pass-1002
check baresip_a_registered wait_for 15 registered 1001
check baresip_b_registered wait_for 15 registered 1002

# ------------------------------------------- baresip calls baresip, two-way
bs_cmd a dial sip:1002@acme.cc.test
check agent_b_answered wait_for 15 bs_in_call b
check agent_a_connected wait_for 15 bs_in_call a
sleep 3
bs_cmd a sndcode 147
sleep 2
bs_cmd a hangup
check b_sees_hangup wait_for 10 bs_ended b
sleep 0.5
check a_heard_sound audio_not_silent "$(bs_heard a)" 0.1
check b_heard_sound audio_not_silent "$(bs_heard b)" 0.1
check a_heard_1000hz_of_b audio_freq_near "$(bs_heard a)" 1000 5
check b_heard_440hz_of_a audio_freq_near "$(bs_heard b)" 440 5
echo "# a heard $(audio_freq "$(bs_heard a)") Hz rms $(audio_rms "$(bs_heard a)"), b heard $(audio_freq "$(bs_heard b)") Hz rms $(audio_rms "$(bs_heard b)")"
expect_eq baresip_rfc4733_digits_reach_b "$(bs_digits b)" 147

# ------------------------------------- SIPp carrier with RFC 4733 digits
check trunks_loaded wait_for 15 trunk_known "$CARRIER"
# (a repeated key and '*' after '#': SIPp's own per-digit pcaps lose both)
check carrier_dtmf_call sip_call_dtmf dtmf "$CARRIER" +8657112345678 +8613800000001 '159#*0773' 1000
expect_eq carrier_rfc4733_digits_reach_agent "$(bs_digits a)" '159#*0773'
# fast: 20 keys of 30 ms, 20 ms apart (a second)
check carrier_fast_dtmf_call sip_call_dtmf dtmf-fast "$CARRIER" +8657112345678 +8613800000001 12345678901234567890 1000 30 20
expect_eq carrier_fast_digits_reach_agent "$(bs_digits a)" '159#*077312345678901234567890'

# ------------------------------- SIPp carrier streaming audio, no telephone-event
ulaw_raw "$AUD/1000.wav" "$AUD/1000.ul"
n_before=$(ls "$SIPW/bs/a/rec" | wc -l)
check carrier_audio_call sip_call_audio inband "$CARRIER" +8657112345678 +8613800000001 "$AUD/1000.ul" 4000
check inband_offer_has_no_telephone_event not grep -q 'telephone-event' <(sed -n '/^INVITE/,/^$/p;/^v=0/,/^$/p' "$SIPW/inband.log" | head -40)
heard=$(bs_heard a)
check agent_heard_carrier_stream audio_not_silent "$heard" 0.1
check agent_heard_1000hz_stream audio_freq_near "$heard" 1000 5

# ------------------------------------- baresip as a carrier peer (a trunk)
BS_SIP[pstn]=$(pick_port 2)
new_trunk carrier-bs "${BS_SIP[pstn]}"
bs_peer pstn "$AUD/1000.wav" +8613800000009
check trunk_bs_loaded wait_for 15 trunk_known "${BS_SIP[pstn]}"
calls_before=$(grep -ac 'Call established' "$SIPW/bs/a/out")
bs_cmd pstn dial "sip:+8657112345678@127.0.0.1:$CC_SIP_PORT"
check peer_call_answered wait_for 15 bs_in_call pstn
sleep 3
bs_cmd pstn hangup
wait_for 10 bs_ended pstn
sleep 0.5
check peer_heard_agent_440hz audio_freq_near "$(bs_heard pstn)" 440 5
check agent_heard_peer_1000hz audio_freq_near "$(bs_heard a)" 1000 5
check peer_call_was_new [ "$(grep -ac 'Call established' "$SIPW/bs/a/out")" -gt "$calls_before" ]
wait_for 10 calls_are acme 5
api GET "/v1/tenants/acme/calls?limit=10" "${KEY[acme]}"
check peer_call_record_from_trunk [ "$(jr '[.items[] | select(.from == "+8613800000009")][0].result')" = answered ]

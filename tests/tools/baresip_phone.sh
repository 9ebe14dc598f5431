#!/usr/bin/env bash
# baresip_phone: a real softphone (baresip 1.0.0, Debian's baresip-core) for
# the tests, headless on loopback. It registers one account over UDP, TCP
# or TLS, answers every call by itself, sends a 440 Hz tone (ausine) and
# plays nothing (there is no sound card; baresip runs without a player),
# and is driven through its ctrl_tcp module (JSON in netstrings).
#
#   baresip_phone.sh start DIR TRANSPORT USER DOMAIN PASSWORD PROXY SIP_PORT CTRL_PORT RTP_PORT
#   baresip_phone.sh cmd DIR COMMAND [PARAMS]     one command (hangup, reginfo, ...)
#   baresip_phone.sh stop DIR
#
# start writes DIR/config and DIR/accounts and runs baresip in the
# background; its log is DIR/out (SIP trace included: -s), its pid DIR/pid.
# PROXY is HOST:PORT of the platform (the outbound proxy; the account's
# domain is the tenant's SIP domain, which does not resolve). baresip
# listens on SIP_PORT for UDP and TCP and on SIP_PORT+1 for TLS (its rule),
# so a TLS Contact carries a port nobody may connect to (baresip has no
# server certificate here): the platform must use the registered
# connection. RTP uses RTP_PORT..RTP_PORT+3. Its CA file (sip_cafile) is
# the stack's self-signed certificate, $CC_VAR/secrets/tls.crt.
set -uo pipefail

ctrl() { # ctrl DIR COMMAND PARAMS: send one netstring, print the reply
	local port; port=$(cat "$1/ctrl_port")
	local json; json=$(jq -cn --arg c "$2" --arg p "$3" '{command:$c,params:$p,token:"t"}')
	exec 3<> "/dev/tcp/127.0.0.1/$port" || return 1
	printf '%d:%s,' "${#json}" "$json" >&3
	# the reply is one netstring ("LEN:JSON,"); events may come first
	local len body comma reply=""
	while IFS= read -r -t 5 -d ':' len <&3 && [[ $len =~ ^[0-9]+$ ]] &&
	      IFS= read -r -t 5 -N "$len" body <&3 && IFS= read -r -t 5 -N 1 comma <&3; do
		case $body in *'"response"'*) reply=$body; break ;; esac
	done
	exec 3<&-
	printf '%s\n' "$reply"
	case $reply in *'"ok":true'*) return 0 ;; *) return 1 ;; esac
}

case ${1:-} in
start)
	DIR=$2 TRANSPORT=$3 USER_=$4 DOMAIN=$5 PASS=$6 PROXY=$7 SIP_PORT=$8 CTRL_PORT=$9 RTP_PORT=${10}
	mkdir -p "$DIR"
	echo "$CTRL_PORT" > "$DIR/ctrl_port"
	cafile=""
	[ -n "${CC_VAR:-}" ] && [ -r "$CC_VAR/secrets/tls.crt" ] && cafile="sip_cafile		$CC_VAR/secrets/tls.crt"
	cat > "$DIR/config" <<-EOF
	poll_method		epoll
	sip_listen		127.0.0.1:$SIP_PORT
	$cafile
	call_local_timeout	120
	call_max_calls		4
	audio_source		ausine,440
	audio_alert		ausine,440
	# ausine makes 48 kHz stereo only; baresip resamples to 8 kHz mono
	ausrc_srate		48000
	ausrc_channels		2
	rtp_ports		$RTP_PORT-$((RTP_PORT + 3))
	rtcp_mux		no
	rtp_timeout		0
	module_path		/usr/lib/baresip/modules
	module			g711.so
	module			ausine.so
	module_app		account.so
	module_app		menu.so
	module_app		ctrl_tcp.so
	ctrl_tcp_listen		127.0.0.1:$CTRL_PORT
	EOF
	# the outbound proxy is the platform itself; answermode=auto answers
	# every call
	echo "<sip:$USER_@$DOMAIN;transport=$TRANSPORT>;auth_pass=$PASS;answermode=auto;regint=300;outbound=\"sip:$PROXY;transport=$TRANSPORT\";audio_codecs=pcmu,pcma;mwi=no;pubint=0" \
		> "$DIR/accounts"
	: > "$DIR/contacts"
	# stdin is /dev/null: the stdio UI is not loaded, ctrl_tcp drives it
	(cd "$DIR" && exec baresip -f "$DIR" -s < /dev/null > "$DIR/out" 2>&1) &
	echo $! > "$DIR/pid"
	;;
cmd)
	ctrl "$2" "$3" "${4:-}"
	;;
stop)
	pid=$(cat "$2/pid" 2>/dev/null) || exit 0
	ctrl "$2" quit "" > /dev/null 2>&1
	for ((i = 0; i < 30; i++)); do
		kill -0 "$pid" 2>/dev/null || exit 0
		sleep 0.1
	done
	kill "$pid" 2>/dev/null
	;;
*)
	echo "usage: $0 start|cmd|stop DIR ..." >&2
	exit 2
	;;
esac

#!/usr/bin/env bash
# linphone_phone: a real softphone (linphonec from liblinphone 5.1, Debian's
# linphone-cli) for the tests, headless on loopback. It registers one
# account over UDP, TCP or TLS, answers every call by itself (-a), uses
# WAV files instead of a sound card ("soundcard use files": there is none
# here), and reads its commands from a FIFO on its standard input.
#
#   linphone_phone.sh start DIR TRANSPORT USER DOMAIN PASSWORD PROXY SIP_PORT RTP_PORT
#   linphone_phone.sh cmd DIR COMMAND...         one linphonec command (terminate, status register, ...)
#   linphone_phone.sh stop DIR
#
# start writes DIR/linphonerc and runs linphonec in the background with
# HOME=DIR; its console is DIR/out, its full log (SIP messages included)
# DIR/log, its pid DIR/pid. PROXY is HOST:PORT of the platform. RTP uses
# RTP_PORT..RTP_PORT+5 (audio, and video and text, which stay unused). Linphone
# keeps its defaults otherwise, GRUU included (Supported: gruu), as a
# phone in the field would. Its own timers are lifted where a test holds a
# call longer than they allow: nortp_timeout (hang up after 30 s without
# RTP; the SIPp carrier sends none) and in_call_timeout. Server
# certificates are not verified (the stack's is self-signed).
set -uo pipefail

case ${1:-} in
start)
	DIR=$2 TRANSPORT=$3 USER_=$4 DOMAIN=$5 PASS=$6 PROXY=$7 SIP_PORT=$8 RTP_PORT=$9
	mkdir -p "$DIR"
	udp=0 tcp=0 tls=0
	case $TRANSPORT in
	udp) udp=$SIP_PORT ;;
	tcp) tcp=$SIP_PORT ;;
	tls) tls=$SIP_PORT ;;
	*) echo "linphone_phone: unknown transport $TRANSPORT" >&2; exit 2 ;;
	esac
	cat > "$DIR/linphonerc" <<-EOF
	[sip]
	sip_port=$udp
	sip_tcp_port=$tcp
	sip_tls_port=$tls
	default_proxy=0
	verify_server_certs=0
	verify_server_cn=0
	inc_timeout=30
	in_call_timeout=0
	register_only_when_network_is_up=0
	guess_hostname=0
	ipv6=0

	[net]
	firewall_policy=0

	[rtp]
	audio_rtp_port=$RTP_PORT
	video_rtp_port=$((RTP_PORT + 2))
	text_rtp_port=$((RTP_PORT + 4))
	nortp_timeout=300

	[sound]
	echocancellation=0

	[video]
	capture=0
	display=0

	[proxy_0]
	reg_proxy=<sip:$PROXY;transport=$TRANSPORT>
	reg_identity=sip:$USER_@$DOMAIN
	reg_expires=300
	reg_sendregister=1
	publish=0
	realm=$DOMAIN

	[auth_info_0]
	username=$USER_
	passwd=$PASS
	realm=$DOMAIN
	domain=$DOMAIN
	EOF
	# its call history and chat database: without the folder the core
	# never starts (no SIP socket, "No listening point" on REGISTER)
	mkdir -p "$DIR/.local/share/linphone"
	rm -f "$DIR/in"; mkfifo "$DIR/in"
	# a writer that never closes: linphonec quits at the end of its input
	(exec sleep 100000 > "$DIR/in") &
	echo $! > "$DIR/holder.pid"
	(cd "$DIR" && HOME=$DIR exec linphonec -c "$DIR/linphonerc" -a -d 6 -l "$DIR/log" \
		< "$DIR/in" > "$DIR/out" 2>&1) &
	echo $! > "$DIR/pid"
	echo "soundcard use files" > "$DIR/in"
	;;
cmd)
	DIR=$2; shift 2
	echo "$*" > "$DIR/in"
	;;
stop)
	DIR=$2
	pid=$(cat "$DIR/pid" 2>/dev/null) || exit 0
	kill -0 "$pid" 2>/dev/null && echo quit > "$DIR/in"
	for ((i = 0; i < 30; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill "$pid" 2>/dev/null
	kill "$(cat "$DIR/holder.pid")" 2>/dev/null
	;;
*)
	echo "usage: $0 start|cmd|stop DIR ..." >&2
	exit 2
	;;
esac

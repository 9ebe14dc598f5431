#!/usr/bin/env bash
# Installs every Debian 12 package the platform needs, and nothing when all
# are present (idempotent: `make deps` twice is harmless).
set -euo pipefail

PACKAGES=(
	build-essential pkg-config curl openssl ca-certificates iproute2 procps util-linux
	kamailio kamailio-postgres-modules kamailio-tls-modules kamailio-json-modules
	kamailio-extra-modules kamailio-utils-modules kamailio-websocket-modules
	kamailio-nats-modules
	rtpengine-daemon postgresql postgresql-client nats-server sip-tester jq
	libpq-dev libssl-dev libnats-dev libevent-dev libjansson-dev libre-dev libcsv-dev
	libspandsp-dev libpri-dev libmicrohttpd-dev
	# mediad and prompts: audio files, resampling, speech, and sox for tests
	librem-dev libsndfile1-dev libsamplerate0-dev libopus-dev libogg-dev libespeak-ng-dev espeak-ng-data sox libsox-fmt-all
	# real softphones for tests/integration/25_phones.sh
	baresip-core linphone-cli
)

missing=()
for p in "${PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}"
SUDO=
if [ "$(id -u)" != 0 ]; then
	command -v sudo >/dev/null || { echo "deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
	SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
# Debian starts packaged servers; the platform runs its own private ones.
for svc in kamailio rtpengine-daemon nats-server postgresql; do
	$SUDO systemctl disable --now "$svc" >/dev/null 2>&1 || true
done

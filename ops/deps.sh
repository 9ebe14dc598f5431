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
	# the browser softphone and desktop (tenantd/web; tests drive Chromium
	# through puppeteer-core; Chinese text needs the CJK fonts)
	chromium fonts-noto-cjk
)

TOP=$(cd "$(dirname "$0")/.." && pwd)
# tenantd/web's npm packages, exactly as its committed package-lock.json
# says (npm ci), when node_modules is missing or older than the lock
web_packages() {
	local web=$TOP/tenantd/web
	[ -d "$web/node_modules" ] && [ "$web/node_modules/.package-lock.json" -nt "$web/package-lock.json" ] && return 0
	echo "deps: npm ci in tenantd/web (from package-lock.json)"
	(cd "$web" && npm ci --no-audit --no-fund --loglevel=error)
}

missing=()
for p in "${PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# node and npm: Debian's nodejs and npm, unless a node (with its npm) is there
command -v node > /dev/null || missing+=(nodejs)
command -v npm > /dev/null || missing+=(npm)
[ ${#missing[@]} -eq 0 ] && { web_packages; exit 0; }

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
web_packages

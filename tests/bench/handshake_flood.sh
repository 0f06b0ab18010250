#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# handshake_flood.sh [SECONDS] [CONNS]: a benchmark, not a test.
#
# Issue 12's "TLS handshake floods": how many TLS handshakes mpsd accepts
# a second under a flood from ONE address, and how long a legitimate
# device's login (TLS handshake + APF login + port forward, amtsim) takes
# meanwhile. The flood is tests/peers/idle_flood --tls from 127.0.0.2:
# CONNS (default 64) connections at a time, each completing a handshake
# and closing at once, unthrottled, for SECONDS (default 20).
#
# It runs with the default pre-auth limits (MaxPreAuthPerAddress 32: at
# most 32 of the flooder's handshakes in progress at once) and, with
# LIMITS=off, a second time with them lifted (the pre-auth limits set to
# 1000000: as before they existed). Legit logins
# come from 127.0.0.1, five before the flood and five during it.
#
# Prints, per run: handshakes/s completed by the flooder, refused at
# accept/s (mpsd_preauth_refused_total), mpsd CPU, and the legit login
# times (ms, each) without and with the flood.
# Run from a built tree: tests/bench/handshake_flood.sh 20 64
# (uses build/ unless BUILD names another build directory).
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD:-$top/build}
seconds=${1:-20}
conns=${2:-64}
mpsd=$build/server/mpsd
sim=$build/tests/sim/amtsim
flood=$build/tests/peers/idle_flood
for p in "$mpsd" "$sim" "$flood"; do
	[ -x "$p" ] || { echo "build first (make -C $build all check TESTS=): $p" >&2; exit 2; }
done

export top_srcdir=$top top_builddir=$build
# shellcheck source=../integration/lib.sh
. "$top/tests/integration/lib.sh"

echo "# load average: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# login_ms DIR INDEX: one device logs in from 127.0.0.1; prints the ms
# from start to its ready file (forwards done), or "failed".
login_ms() {
	local dir=$1 i=$2 t0 t1 ready=$T/ready-$2
	rm -f "$ready"
	t0=$(date +%s%N)
	"$sim" --port "$(amt_port "$dir")" --ca "$T/certs/ca.pem" \
		--server-name localhost --ready-file "$ready" --first-index "$i" \
		--connect-timeout 10000 >"$T/sim-$i.out" 2>&1 &
	local pid=$!
	local n=0
	while [ ! -f "$ready" ] && [ $n -lt 3000 ] && kill -0 $pid 2>/dev/null; do
		sleep 0.01
		n=$((n + 1))
	done
	t1=$(date +%s%N)
	kill -TERM $pid 2>/dev/null || true
	wait $pid 2>/dev/null || true
	if [ -f "$ready" ] && grep -q ' failed=0' "$ready"; then
		echo $(( (t1 - t0) / 1000000 ))
	else
		echo failed
	fi
}

# run NAME LIMITS-XML
run() {
	local name=$1 limits=$2 D=$T/$1 AP base during cpu0 cpu1 r0 r1 tick
	AP=$(free_port)
	make_config "$D" "s|</MPS>|$limits<Admin><Enabled>true</Enabled><ListenPort>$AP</ListenPort><TokenFile>admin.token</TokenFile></Admin></MPS>|"
	openssl rand -hex 24 >"$D/admin.token"
	chmod 600 "$D/admin.token"
	set_trace_levels "$D" "ERROR|WARNING"
	start_mpsd "$D" || { cat "$D/stderr"; exit 1; }
	local token port metrics
	token=$(cat "$D/admin.token")
	port=$(amt_port "$D")
	refused() {
		curl -s -H "Authorization: Bearer $token" "http://127.0.0.1:$AP/metrics" |
			awk '$1 ~ /^mpsd_preauth_refused_total/ { n += $2 } END { print n + 0 }'
	}
	base=""
	for i in 1 2 3 4 5; do base="$base $(login_ms "$D" "$i")"; done
	r0=$(refused)
	cpu0=$(cpu_ticks "$MPSD_PID")
	"$flood" --tls --target "127.0.0.1:$port" --source 127.0.0.2 \
		--count "$conns" --rate 1000000 --duration "$seconds" \
		>"$T/$name-flood.out" 2>"$T/$name-flood.err" &
	local fpid=$!
	track "$fpid"
	sleep 3
	during=""
	for i in 11 12 13 14 15; do during="$during $(login_ms "$D" "$i")"; sleep 1; done
	wait "$fpid"
	cpu1=$(cpu_ticks "$MPSD_PID")
	r1=$(refused)
	tick=$(getconf CLK_TCK)
	local hs hsps
	hs=$(sed -n 's/.* handshakes=\([0-9]*\).*/\1/p' "$T/$name-flood.out")
	hsps=$(sed -n 's/.*handshakes_per_s=\([0-9.]*\).*/\1/p' "$T/$name-flood.out")
	echo "== $name"
	echo "flood from one address: $conns connections at a time, ${seconds} s"
	echo "handshakes completed: $hs ($hsps/s)"
	echo "refused at accept: $((r1 - r0)) ($(( (r1 - r0) / seconds ))/s)"
	echo "mpsd CPU during the flood: $(( (cpu1 - cpu0) * 1000 / tick )) ms in ${seconds} s"
	if [ "${hs:-0}" -gt 0 ]; then
		echo "mpsd CPU per accepted handshake: $(awk -v c="$(( (cpu1 - cpu0) * 1000 / tick ))" -v h="$hs" 'BEGIN { printf "%.2f", c / h }') ms"
	fi
	echo "legit login ms (127.0.0.1) before:$base"
	echo "legit login ms (127.0.0.1) during:$during"
	echo "flooder: $(cat "$T/$name-flood.out")"
	stop_pid "$MPSD_PID" >/dev/null || true
}

run defaults ""
if [ "${LIMITS:-}" = off ]; then
	run no-limits "<Limits><MaxPreAuthConnections>1000000</MaxPreAuthConnections><MaxPreAuthPerAddress>1000000</MaxPreAuthPerAddress><PreAuthDropStart>1000000</PreAuthDropStart></Limits>"
fi
echo "# load average: $(cut -d' ' -f1-3 /proc/loadavg)"

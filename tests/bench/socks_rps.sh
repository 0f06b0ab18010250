#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# socks_rps.sh [CONNECTIONS] [SECONDS] [DEVICES]: a benchmark, not a test.
#
# Small HTTP requests through mpsd's SOCKS port: CONNECTIONS (default 100)
# console connections, spread over DEVICES (default 10) simulated AMT
# devices, each doing one SOCKS5 CONNECT (with the console account) and
# then keep-alive "GET /small" requests (a 100-byte answer from
# tests/peers/origin_http behind each device's port 16992) one after the
# other for SECONDS (default 10). tests/bench/socks_load measures every
# request from its send to the last byte of its answer.
#
# First the same load goes straight to origin_http (no mpsd, no device),
# to show what the load generator and the origin manage on this machine;
# then through mpsd. Prints requests per second and latency percentiles;
# the target on the 2-core machine is at least 5,000 requests a second
# across 100 connections.
#
# Run from a built tree: tests/bench/socks_rps.sh 100 10
# (uses build/ unless BUILD names another build directory).
set -eo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD:-$top/build}
conns=${1:-100}
secs=${2:-10}
devices=${3:-10}
mode=${MODE:-tls}
for p in server/mpsd tests/sim/amtsim tests/peers/origin_http tests/bench/socks_load; do
	if [ ! -x "$build/$p" ]; then
		echo "build first: $build/$p (make -C $build all check TESTS=)" >&2
		exit 2
	fi
done
LOAD=$build/tests/bench/socks_load

export top_srcdir=$top top_builddir=$build
# shellcheck source=../integration/console_lib.sh
. "$top/tests/integration/console_lib.sh"

per_device=$(( (conns + devices - 1) / devices ))
D=$T/bench
make_config "$D" \
	"$(tunnel_settings "<Limits><MaxChannelsPerDevice>$((per_device + 8))</MaxChannelsPerDevice></Limits>")" \
	"s|<Mode>tls<|<Mode>$mode<|"
set_trace_levels "$D" "ERROR|WARNING"
start_mpsd "$D" || { cat "$D/stderr" >&2; exit 1; }
console_ports "$D"
start_origin --quiet || { echo "origin_http did not start" >&2; exit 1; }
simargs=(--count "$devices" --ports 16992 --target "16992=127.0.0.1:$ORIGIN_PORT")
[ "$mode" = plain ] && simargs+=(--tls plain)
start_sim devs "${simargs[@]}" ||
	{ echo "the devices did not connect" >&2; cat "$T/devs.out" >&2; exit 1; }

echo "$conns connections over $devices devices (devices over $mode), $secs s, GET /small (100-byte body)"
echo "straight to origin_http (no mpsd):"
"$LOAD" --direct "127.0.0.1:$ORIGIN_PORT" --target 'dev-%d.amt.test:16992' \
	--devices "$devices" --connections "$conns" --duration "$secs" | sed 's/^/  /'
echo "through mpsd's SOCKS port and $devices device tunnels:"
"$LOAD" --socks "127.0.0.1:$SOCKS_PORT" --user "$CONSOLE_USER" --pass "$CONSOLE_PASS" \
	--target 'dev-%d.amt.test:16992' --devices "$devices" --connections "$conns" \
	--duration "$secs" >"$T/load.out" || true
sed 's/^/  /' "$T/load.out"
rps=$(sed -n 's/^result .* rps=\([0-9]*\).*/\1/p' "$T/load.out")
echo "target >= 5000 requests/s across 100 connections: $([ "${rps:-0}" -ge 5000 ] && echo met || echo 'NOT met') (${rps:-0}/s)"
hz=$(getconf CLK_TCK)
echo "mpsd: $(awk '/^VmRSS:/ { print $2 " KiB resident" }' "/proc/$MPSD_PID/status"), CPU $(awk -v hz="$hz" '{ printf "%.1f s", ($14 + $15) / hz }' "/proc/$MPSD_PID/stat") since it started"

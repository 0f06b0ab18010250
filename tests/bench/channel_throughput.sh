#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# channel_throughput.sh [MB] [tls|plain]: a benchmark, not a test.
#
# One console, one channel: bytepump connects through mpsd's SOCKS port to
# a simulated device (tests/sim/amtsim) whose port 16993 leads to
# bytepump --serve. The windows are large on both sides (mpsd's
# ChannelWindowSize 16 MiB, the device's 1 MiB, the largest APF frame),
# so the figure is what mpsd itself can move. MB (default 1024) MiB go
# console -> device, then device -> console, then both ways at once;
# these timed runs neither hash nor check the bytes, to keep bytepump's
# own work out of the figure. A last run of the same size checks every
# byte against its seeded stream and compares sha256 at both ends.
# Devices use in-process TLS (default) or plain TCP.
#
# Prints MB/s (10^6 bytes a second) for each run; the target on the
# 2-core machine is at least 200 MB/s on one channel.
#
# Run from a built tree: tests/bench/channel_throughput.sh 1024
# (uses build/ unless BUILD names another build directory).
set -eo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD:-$top/build}
mb=${1:-1024}
mode=${2:-tls}
for p in server/mpsd tests/sim/amtsim tests/peers/bytepump; do
	if [ ! -x "$build/$p" ]; then
		echo "build first: $build/$p (make -C $build all check TESTS=)" >&2
		exit 2
	fi
done

export top_srcdir=$top top_builddir=$build
# shellcheck source=../integration/console_lib.sh
. "$top/tests/integration/console_lib.sh"

bytes=$((mb * 1048576))
D=$T/bench
make_config "$D" \
	"$(tunnel_settings '<Tunnel><ChannelWindowSize>16777216</ChannelWindowSize></Tunnel>')" \
	"s|<Mode>tls<|<Mode>$mode<|"
set_trace_levels "$D" "ERROR|WARNING"
start_mpsd "$D" || { cat "$D/stderr" >&2; exit 1; }
console_ports "$D"
simargs=(--fqdn bench.amt.test --ports 16993 --window 1048576)
[ "$mode" = plain ] && simargs+=(--tls plain)

# run NAME CLIENT-ARGS -- SERVE-ARGS: one transfer; prints MB/s of the
# bytes the direction(s) carried, per direction.
run() {
	local name=$1 cargs=() sargs=() t0 t1 sim
	shift
	while [ "$1" != -- ]; do cargs+=("$1"); shift; done
	shift
	sargs=("$@")
	start_serve "$name-serve" "${sargs[@]}" >/dev/null ||
		{ echo "bytepump --serve did not start" >&2; exit 1; }
	start_sim "$name-sim" "${simargs[@]}" --target "16993=127.0.0.1:$SERVE_PORT" ||
		{ echo "the device did not connect" >&2; cat "$T/$name-sim.out" >&2; exit 1; }
	sim=$SIM_PID
	t0=$(date +%s%N)
	"$BYTEPUMP" --socks "127.0.0.1:$SOCKS_PORT" --user "$CONSOLE_USER" \
		--pass "$CONSOLE_PASS" --target bench.amt.test:16993 \
		"${cargs[@]}" >"$T/$name.out"
	wait "$SERVE_PID"
	t1=$(date +%s%N)
	stop_pid "$sim" >/dev/null || true
	RUN_MS=$(( (t1 - t0) / 1000000 ))
	[ "$RUN_MS" -gt 0 ] || RUN_MS=1
	RUN_MBPS=$(awk -v b="$bytes" -v ms="$RUN_MS" 'BEGIN { printf "%.1f", b / ms / 1000 }')
}

echo "one channel, $mb MiB, devices over $mode, mpsd window 16 MiB, device window 1 MiB"
run up --send "$bytes" --recv 0 --no-hash --no-check -- \
	--send 0 --recv "$bytes" --no-hash --no-check
echo "console -> device: $RUN_MBPS MB/s ($RUN_MS ms)"
up=$RUN_MBPS
run down --send 0 --recv "$bytes" --no-hash --no-check -- \
	--send "$bytes" --recv 0 --no-hash --no-check
echo "device -> console: $RUN_MBPS MB/s ($RUN_MS ms)"
down=$RUN_MBPS
run both --bytes "$bytes" --no-hash --no-check -- --bytes "$bytes" --no-hash --no-check
echo "both ways at once: $RUN_MBPS MB/s each way ($RUN_MS ms)"
run verified --bytes "$bytes" --seed 5 --peer-seed 6 -- --bytes "$bytes" --seed 6 --peer-seed 5
c_sent=$(awk '$1 == "sent" { print $3 }' "$T/verified.out")
s_recv=$(awk '$1 == "received" { print $3 }' "$T/verified-serve.out")
c_recv=$(awk '$1 == "received" { print $3 }' "$T/verified.out")
s_sent=$(awk '$1 == "sent" { print $3 }' "$T/verified-serve.out")
if [ "$c_sent" = "$s_recv" ] && [ "$c_recv" = "$s_sent" ] &&
	grep -q 'match=yes' "$T/verified.out" && grep -q 'match=yes' "$T/verified-serve.out"; then
	verdict="identical sha256 both ways"
else
	verdict="MISMATCH (kept $T)"
	KEEP_TMP=1
fi
echo "both ways, every byte checked and hashed: $RUN_MBPS MB/s each way ($RUN_MS ms), $verdict"
awk -v u="$up" -v d="$down" 'BEGIN {
	m = u < d ? u : d
	printf "target >= 200 MB/s on one channel: %s (slower direction %.1f MB/s)\n",
	    (m >= 200) ? "met" : "NOT met", m }'

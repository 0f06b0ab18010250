#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# idle_tunnels.sh [DEVICES] [PROCESSES] [tls|plain]: a benchmark, not a test.
#
# DEVICES simulated AMT devices (default 10000) connect to one mpsd at
# once over in-process TLS (modern profile, the default) and stay idle.
# Prints how fast they were all logged in and forwarded, and mpsd's
# resident memory per idle tunnel. The simulated devices are spread over
# PROCESSES simulator processes (default 4), because one process may hold
# at most 20,000 descriptors on the machines this runs on.
#
# Issue 11's goal: 19,000 tunnels (the per-process descriptor limit here is
# 20,000) with at most 16 KiB of mpsd RSS each:
#   RATE=400 tests/bench/idle_tunnels.sh 19000 4
# Devices far away (every byte delayed 50 ms each way, through
# tests/bench/delay_proxy.py): DELAY=50 tests/bench/idle_tunnels.sh 2000 2
# Run from a built tree: tests/bench/idle_tunnels.sh 10000 4
# (uses build/ unless BUILD names another build directory).
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD:-$top/build}
devices=${1:-10000}
procs=${2:-4}
mode=${3:-tls}
mpsd=$build/server/mpsd
sim=$build/tests/sim/amtsim
if [ ! -x "$mpsd" ] || [ ! -x "$sim" ]; then echo "build first (make -C $build all check TESTS=)" >&2; exit 2; fi

export top_srcdir=$top top_builddir=$build
# shellcheck source=../integration/lib.sh
. "$top/tests/integration/lib.sh"
# shellcheck source=wave_lib.sh
. "$top/tests/bench/wave_lib.sh"

D=$T/bench
wave_config "$D" "$devices" "s|<Mode>tls<|<Mode>$mode<|"
start_mpsd "$D" || { cat "$D/stderr"; exit 1; }
port=$(sed -n 's|.*<AMTListenPort>\([0-9]*\)<.*|\1|p' "$D/mps.config")
# DELAY=MS: the devices reach mpsd through tests/bench/delay_proxy.py,
# which delays every byte both ways by MS (devices far away; the proxy's
# own CPU is not counted as mpsd's).
if [ -n "${DELAY:-}" ]; then
	pport=$(free_port)
	python3 "$top/tests/bench/delay_proxy.py" "$pport" "$port" "$DELAY" >"$T/proxy.out" 2>&1 &
	track $!
	wait_for 10 grep -q ready "$T/proxy.out" || { echo "delay_proxy did not start" >&2; cat "$T/proxy.out" >&2; exit 1; }
	port=$pport
fi

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
sleep 1
base=$(rss_kb "$MPSD_PID")
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
cpu0=$(cpu_ticks "$MPSD_PID")

per=$(( (devices + procs - 1) / procs ))
# RATE (devices a second in all, default 0: all at once) paces the
# logins (wave_config lifts the limits a wave from one address meets).
rate=0
[ "${RATE:-0}" -gt 0 ] && rate=$(( (RATE + procs - 1) / procs ))
tlsargs=(--tls modern --ca "$T/certs/ca.pem" --server-name localhost)
[ "$mode" = plain ] && tlsargs=(--tls plain)
start=$(date +%s.%N)
for ((i = 0; i < procs; i++)); do
	first=$((i * per))
	n=$per
	[ $((first + n)) -gt "$devices" ] && n=$((devices - first))
	"$sim" --port "$port" "${tlsargs[@]}" --count "$n" --first-index "$first" \
		--quiet --stats-every 10 --rate "$rate" \
		--ready-file "$T/ready.$i" --duration 1200 \
		--connect-timeout 120 --reply-timeout 120 >"$T/sim.$i.out" 2>&1 &
	track $!
done
for ((i = 0; i < procs; i++)); do
	if ! wait_for 1200 test -f "$T/ready.$i"; then
		echo "simulator $i never got ready" >&2
		tail "$T/sim.$i.out" >&2
		exit 1
	fi
done
end=$(date +%s.%N)
cpu1=$(cpu_ticks "$MPSD_PID")
forwarded=0
for ((i = 0; i < procs; i++)); do
	f=$(sed -n 's/.*forwarded=\([0-9]*\).*/\1/p' "$T/ready.$i")
	forwarded=$((forwarded + f))
done
sleep 12	# keepalive options out, buffers released, one heap trim (10 s)
after=$(rss_kb "$MPSD_PID")
threads=$(awk '/^Threads:/ {print $2}' "/proc/$MPSD_PID/status")
cpu=$(awk '{printf "%.2f", ($14 + $15) / 100}' "/proc/$MPSD_PID/stat")
fds=$(find "/proc/$MPSD_PID/fd" -mindepth 1 | wc -l)

awk -v n="$devices" -v fw="$forwarded" -v s="$start" -v e="$end" -v b="$base" \
    -v a="$after" -v t="$threads" -v f="$fds" -v m="$mode" -v c="$cpu" \
    -v lc="$(( (cpu1 - cpu0) * 1000 / $(getconf CLK_TCK) ))" -v la="$(cut -d' ' -f1-3 /proc/loadavg)" -v nc="$(nproc)" -v rt="${RATE:-0}" -v dl="${DELAY:-0}" 'BEGIN {
	el = e - s
	printf "devices            %d (%s), forwarded %d, paced at %s/s (0: all at once), %s ms one-way delay\n", n, m, fw, rt, dl
	printf "all logged in      %.2f s  (%.0f devices/s)\n", el, fw / el
	printf "mpsd RSS           %d KiB idle, %d KiB with the tunnels\n", b, a
	printf "per idle tunnel    %.1f KiB\n", (a - b) / fw
	printf "mpsd CPU per login %.3f ms (%d ms for the whole wave)\n", lc / fw, lc
	printf "mpsd threads       %d, descriptors %d, CPU %s s\n", t, f, c
	printf "goal <= 16 KiB per tunnel: %s; load average %s on %d cores\n",
	    ((a - b) / fw <= 16) ? "met" : "NOT met", la, nc
}'

# A clean stop with every tunnel open is part of the run.
if stop_pid "$MPSD_PID"; then
	echo "mpsd stopped      cleanly with $forwarded tunnels open"
else
	echo "mpsd did not stop cleanly" >&2
	exit 1
fi
exit 0

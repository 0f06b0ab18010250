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
# In the same run the same bytes also go through a plain TLS pipe with
# no MPS in it, the yardstick: the same topology (two relay processes,
# one TLS hop between them, plain TCP at both ends) made of two socat
# processes, one wrapping TCP into TLS and one unwrapping it, with the
# cipher suite the device negotiated with mpsd and 256 KiB reads (so
# full 16 KiB TLS records). In plain mode the pipe is two plain TCP
# socat relays. For scale, bytepump straight to bytepump (no relay) too.
#
# Prints MB/s (10^6 bytes a second) for each run, and mpsd's figure as a
# share of the pipe's; then the CPU milliseconds per MiB of the relays
# (mpsd and amtsim against the two socat processes, from /proc and bash's
# `times`), which unlike MB/s hold on a machine shared with other work,
# and the cipher's own cost on one core (`openssl speed`). socat does one
# select() per TLS record it reads, so the pipe is a yardstick, not the
# fastest TLS relay possible. Issue 11's goal on an idle 2-core machine: at
# least 1000 MB/s on one channel and at least 70 % of the TLS pipe.
#
# Run from a built tree: tests/bench/channel_throughput.sh 1024
# (uses build/ unless BUILD names another build directory).
# PERF=1 records mpsd under `perf record --call-graph dwarf` during the
# two one-way runs (perf.data kept in the printed folder; see README.md)
# and counts its syscalls and context switches per MiB with perf stat.
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
command -v socat >/dev/null || { echo "socat is needed for the TLS pipe" >&2; exit 2; }

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

perf_pid=
perf_start() {
	[ "${PERF:-0}" = 1 ] || return 0
	perf record --call-graph dwarf,8192 -e cpu-clock -F 499 -p "$MPSD_PID" -o "$T/perf.data" \
		>"$T/perf.log" 2>&1 &
	perf_pid=$!
	sleep 0.5
}
perf_stop() {
	[ -n "$perf_pid" ] || return 0
	kill -INT "$perf_pid" 2>/dev/null || true
	wait "$perf_pid" || true
	perf_pid=
	KEEP_TMP=1
}

# During the timed one-way runs with PERF=1: mpsd's syscalls and context
# switches, counted by perf stat, printed per MiB moved.
STAT_EVENTS=syscalls:sys_enter_read,syscalls:sys_enter_write,syscalls:sys_enter_recvfrom,syscalls:sys_enter_sendto,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_epoll_ctl,syscalls:sys_enter_futex,context-switches,cpu-clock
stat_pid=
stat_start() {
	[ "${PERF:-0}" = 1 ] || return 0
	perf stat -x, -e "$STAT_EVENTS" -p "$MPSD_PID" -o "$T/$1.stat" 2>/dev/null &
	stat_pid=$!
	sleep 0.3
}
stat_stop() {
	[ -n "$stat_pid" ] || return 0
	kill -INT "$stat_pid" 2>/dev/null || true
	wait "$stat_pid" || true
	stat_pid=
	awk -F, -v mib="$mb" -v name="$1" '
		/^[0-9]/ { ev = $3; sub(/^syscalls:sys_enter_/, "", ev)
			line = line sprintf(" %s=%.0f", ev, $1 / mib) }
		END { print "  perf stat, mpsd per MiB (" name "):" line }' "$T/$1.stat"
}

hz=$(getconf CLK_TCK)
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# secs_of "XmY.ZZZs": seconds, from bash's `times`.
secs_of() { echo "$1" | awk -F'[ms]' '{ printf "%.3f", $1 * 60 + $2 }'; }

# finish T0: RUN_MS and RUN_MBPS of the bytes one direction carried
# since T0 (date +%s%N).
finish() {
	local t1
	t1=$(date +%s%N)
	RUN_MS=$(( (t1 - $1) / 1000000 ))
	[ "$RUN_MS" -gt 0 ] || RUN_MS=1
	RUN_MBPS=$(awk -v b="$bytes" -v ms="$RUN_MS" 'BEGIN { printf "%.1f", b / ms / 1000 }')
}

# pump_cpu NAME: the CPU ms per MiB of the two bytepumps of run NAME
# (each prints its own getrusage at the end: cpu_ms=), "client serve".
pump_cpu() {
	local c s
	c=$(sed -n 's/^result ok .*cpu_ms=\([0-9]*\).*/\1/p' "$T/$1.out")
	s=$(sed -n 's/^result ok .*cpu_ms=\([0-9]*\).*/\1/p' "$T/$1-serve.out")
	awk -v c="${c:-0}" -v s="${s:-0}" -v mib="$mb" \
	    'BEGIN { printf "%.2f %.2f", c / mib, s / mib }'
}

# run NAME CLIENT-ARGS -- SERVE-ARGS: one transfer through mpsd.
run() {
	local name=$1 cargs=() sargs=() t0 sim m0
	shift
	while [ "$1" != -- ]; do cargs+=("$1"); shift; done
	shift
	sargs=("$@")
	start_serve "$name-serve" "${sargs[@]}" >/dev/null ||
		{ echo "bytepump --serve did not start" >&2; exit 1; }
	start_sim "$name-sim" "${simargs[@]}" --target "16993=127.0.0.1:$SERVE_PORT" ||
		{ echo "the device did not connect" >&2; cat "$T/$name-sim.out" >&2; exit 1; }
	sim=$SIM_PID
	CIPHER=$(sed -n 's/.* cipher=\([^ ]*\).*/\1/p' "$T/$name-sim.out" | head -n 1)
	case $name in up | down) stat_start "$name" ;; esac
	m0=$(ticks "$MPSD_PID")
	t0=$(date +%s%N)
	"$BYTEPUMP" --socks "127.0.0.1:$SOCKS_PORT" --user "$CONSOLE_USER" \
		--pass "$CONSOLE_PASS" --target bench.amt.test:16993 \
		"${cargs[@]}" >"$T/$name.out"
	wait "$SERVE_PID"
	finish "$t0"
	# CPU of the two relays (mpsd, and amtsim's whole life: its login
	# is a few ms), in ms per MiB moved one way.
	RUN_CPU=$(awk -v m=$(( $(ticks "$MPSD_PID") - m0 )) -v s="$(ticks "$sim")" \
	    -v hz="$hz" -v mib="$mb" 'BEGIN { printf "%.2f %.2f", m * 1000 / hz / mib, s * 1000 / hz / mib }')
	RUN_CPU="$RUN_CPU $(pump_cpu "$name")"
	stat_stop "$name" >>"$T/stats.txt"
	stop_pid "$sim" >/dev/null || true
}

# pipe_run NAME CLIENT-ARGS -- SERVE-ARGS: the same transfer through the
# socat pair (or, with NAME direct*, bytepump to bytepump).
pipe_run() {
	local name=$1 cargs=() sargs=() t0 p1 p2 a b tlsopt far near f sum
	shift
	while [ "$1" != -- ]; do cargs+=("$1"); shift; done
	shift
	sargs=("$@")
	start_serve "$name-serve" "${sargs[@]}" >/dev/null ||
		{ echo "bytepump --serve did not start" >&2; exit 1; }
	if [[ $name == direct* ]]; then
		t0=$(date +%s%N)
		"$BYTEPUMP" --connect "127.0.0.1:$SERVE_PORT" "${cargs[@]}" >"$T/$name.out"
		wait "$SERVE_PID"
		finish "$t0"
		return
	fi
	p1=$(free_port)
	p2=$(free_port)
	while [ "$p2" = "$p1" ]; do p2=$(free_port); done
	if [ "$mode" = tls ]; then
		tlsopt="cipher=${CIPHER:-ECDHE-RSA-AES256-GCM-SHA384},min-version=TLS1.2,max-version=TLS1.2"
		a="OPENSSL-LISTEN:$p2,bind=127.0.0.1,reuseaddr,cert=$T/certs/server-chain.pem,key=$T/certs/server-key.pem,verify=0,$tlsopt"
		b="OPENSSL:127.0.0.1:$p2,verify=0,$tlsopt"
	else
		a="TCP-LISTEN:$p2,bind=127.0.0.1,reuseaddr"
		b="TCP:127.0.0.1:$p2"
	fi
	# Each socat under a shell whose `times` gives its CPU once it ends.
	bash -c 'socat -b 262144 "$1" "$2"; times' _ "$a" "TCP:127.0.0.1:$SERVE_PORT" \
		>"$T/$name-socat-far.times" 2>"$T/$name-socat-far.err" &
	far=$!
	track $far
	bash -c 'socat -b 262144 "$1" "$2"; times' _ "TCP-LISTEN:$p1,bind=127.0.0.1,reuseaddr" "$b" \
		>"$T/$name-socat-near.times" 2>"$T/$name-socat-near.err" &
	near=$!
	track $near
	wait_for 10 port_in_use "$p1" && wait_for 10 port_in_use "$p2" ||
		{ echo "socat did not listen" >&2; exit 1; }
	t0=$(date +%s%N)
	"$BYTEPUMP" --connect "127.0.0.1:$p1" "${cargs[@]}" >"$T/$name.out"
	wait "$SERVE_PID"
	finish "$t0"
	wait "$far" "$near" || true
	RUN_CPU=
	for f in far near; do
		# times: the shell's user/sys, then its children's (socat).
		sum=$(awk 'NR == 2 { print $1, $2 }' "$T/$name-socat-$f.times")
		sum=$(awk -v u="$(secs_of "${sum% *}")" -v s="$(secs_of "${sum#* }")" \
		    -v mib="$mb" 'BEGIN { printf "%.2f", (u + s) * 1000 / mib }')
		RUN_CPU="$RUN_CPU${RUN_CPU:+ }$sum"
	done
	RUN_CPU="$RUN_CPU $(pump_cpu "$name")"
}

up_c=(--send "$bytes" --recv 0 --no-hash --no-check)
up_s=(--send 0 --recv "$bytes" --no-hash --no-check)
echo "one channel, $mb MiB, devices over $mode, mpsd window 16 MiB, device window 1 MiB"
perf_start
run up "${up_c[@]}" -- "${up_s[@]}"
up=$RUN_MBPS
cup=$RUN_CPU
run down "${up_s[@]}" -- "${up_c[@]}"
down=$RUN_MBPS
cdown=$RUN_CPU
perf_stop
echo "cipher suite (device <-> mpsd): ${CIPHER:-none}"
pipe_run pipe-up "${up_c[@]}" -- "${up_s[@]}"
pup=$RUN_MBPS
pcup=$RUN_CPU
pipe_run pipe-down "${up_s[@]}" -- "${up_c[@]}"
pdown=$RUN_MBPS
pcdown=$RUN_CPU
pipe_run direct-up "${up_c[@]}" -- "${up_s[@]}"
dup=$RUN_MBPS
awk -v u="$up" -v d="$down" -v pu="$pup" -v pd="$pdown" -v du="$dup" -v m="$mode" 'BEGIN {
	printf "%-26s %10s %10s\n", "", "c -> dev", "dev -> c"
	printf "%-26s %10.1f %10.1f  MB/s\n", "through mpsd", u, d
	printf "%-26s %10.1f %10.1f  MB/s\n", "socat pipe (" m ")", pu, pd
	printf "%-26s %9.0f%% %9.0f%%\n", "mpsd / pipe", 100 * u / pu, 100 * d / pd
	printf "%-26s %10.1f %10s  MB/s\n", "bytepump direct (no hop)", du, "-"
}'
# CPU per MiB does not depend on the share of the machine a run got.
awk -v cu="$cup" -v cd="$cdown" -v pu="$pcup" -v pd="$pcdown" 'BEGIN {
	split(cu, a, " "); split(cd, b, " "); split(pu, c, " "); split(pd, d, " ")
	printf "CPU ms per MiB             %10s %10s\n", "c -> dev", "dev -> c"
	printf "  mpsd                     %10.2f %10.2f\n", a[1], b[1]
	printf "  amtsim (the device)      %10.2f %10.2f\n", a[2], b[2]
	printf "  mpsd + amtsim            %10.2f %10.2f\n", a[1] + a[2], b[1] + b[2]
	printf "  socat pair (pipe)        %10.2f %10.2f  (%s + %s, %s + %s)\n",
	    c[1] + c[2], d[1] + d[2], c[1], c[2], d[1], d[2]
	printf "  pipe / (mpsd + amtsim)   %9.0f%% %9.0f%%  (the CPU-time form of mpsd / pipe)\n",
	    100 * (c[1] + c[2]) / (a[1] + a[2]), 100 * (d[1] + d[2]) / (b[1] + b[2])
	printf "  bytepumps (ends), mpsd   %10.2f %10.2f  (%s + %s, %s + %s)\n",
	    a[3] + a[4], b[3] + b[4], a[3], a[4], b[3], b[4]
	printf "  bytepumps (ends), pipe   %10.2f %10.2f\n", c[3] + c[4], d[3] + d[4]
	tu = a[1] + a[2] + a[3] + a[4]; td = b[1] + b[2] + b[3] + b[4]
	printf "  whole chain through mpsd %10.2f %10.2f  (4 processes)\n", tu, td
	printf "  whole chain, socat pipe  %10.2f %10.2f\n",
	    c[1] + c[2] + c[3] + c[4], d[1] + d[2] + d[3] + d[4]
	# 1000 MB/s = 953.7 MiB/s; 2 cores give 2000 CPU ms a second.
	budget = 2000 / (1e9 / 1048576)
	printf "  2 cores at 1000 MB/s: %.2f ms per MiB for the whole chain; through mpsd it needs %.0f%% / %.0f%% of that,\n",
	    budget, 100 * tu / budget, 100 * td / budget
	printf "  i.e. at most %.0f / %.0f MB/s if the chain had both cores to itself\n",
	    2000 / tu * 1.048576, 2000 / td * 1.048576
}'
# The floor: the cipher alone on one core (16 KiB blocks, openssl speed).
case $CIPHER in
*AES128-GCM*) evp=aes-128-gcm ;;
*AES256-GCM*) evp=aes-256-gcm ;;
*) evp= ;;
esac
if [ "$mode" = tls ] && [ -n "$evp" ]; then
	timeout 30 openssl speed -seconds 1 -bytes 16384 -evp "$evp" 2>/dev/null |
	    awk -v e="$evp" 'NF == 2 && $2 ~ /k$/ { kb = $2 + 0
		printf "%s alone (openssl speed, one core, 16 KiB): %.0f MB/s, %.2f ms per MiB per TLS side\n",
		    e, kb / 1000, 1048.576 / kb * 1000 }' || true
fi
run both --bytes "$bytes" --no-hash --no-check -- --bytes "$bytes" --no-hash --no-check
echo "both ways at once through mpsd: $RUN_MBPS MB/s each way ($RUN_MS ms)"
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
awk -v u="$up" -v d="$down" -v pu="$pup" -v pd="$pdown" 'BEGIN {
	m = u < d ? u : d
	r = u / pu < d / pd ? u / pu : d / pd
	printf "goal >= 1000 MB/s on one channel: %s (slower direction %.1f MB/s)\n",
	    (m >= 1000) ? "met" : "NOT met", m
	printf "goal >= 70%% of the TLS pipe: %s (lower share %.0f%%)\n",
	    (r >= 0.7) ? "met" : "NOT met", 100 * r }'
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
if [ "${PERF:-0}" = 1 ]; then
	cat "$T/stats.txt"
	echo "perf data: $T/perf.data (perf report -i $T/perf.data --no-children)"
fi

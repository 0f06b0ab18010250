#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# datapath_windows.sh: bulk data through a SOCKS console and a real TLS
# device tunnel, at the windows real clients use (issue 11, section 1).
#
# For each window W of 64 KiB, 1 MiB and 4 MiB, mpsd (ChannelWindowSize W)
# and one simulated device (--window W) carry 100 MB each way:
#   console -> device  bytepump sends to the device's port 16992, where
#                      the device itself takes every byte (--target sink)
#                      and returns window in halves, as LMS, Open AMT and
#                      mpsd itself do (--window-adjust half);
#   device -> console  the device itself sends bytepump's seeded stream
#                      from its port 16993 (--target source:BYTES), which
#                      bytepump checks byte by byte (--peer-seed 2).
# Each transfer must arrive whole, with the same SHA-256 at both ends,
# and no pause between two consecutive CHANNEL_DATA at the device (the
# closed line's rx-gap-ms / tx-gap-ms) may exceed 100 ms: nothing may wait
# for a timer to move bytes that are ready to move. The tunnel must
# survive every transfer.
#
# Healthy, each transfer takes about a second. DATAPATH_BYTES overrides
# the size (e.g. for a quick run by hand).
. "$(dirname "$0")/console_lib.sh"
require_peers

BYTES=${DATAPATH_BYTES:-100000000}
MAX_GAP_MS=100
# Under ThreadSanitizer (5 to 15 times slower) a tenth of the bytes: the
# same windows and code paths in a tenth of the time. Under any sanitizer
# the gaps are the sanitizer's, not a timer's (ASan at load 10 measured
# 230 ms): gap_ok skips them.
if [ -z "${DATAPATH_BYTES:-}" ] && [ "$SANITIZER" = thread ]; then
	BYTES=10000000
fi
# gap_ok WHAT MS: the check that no pause exceeded MAX_GAP_MS.
gap_ok() {
	if [ -n "$SANITIZER" ]; then
		skip "$1" "built with a sanitizer: wall-clock gaps measure it"
	else
		ok "$1" at_most "$2" "$MAX_GAP_MS"
	fi
}
# A transfer that stalls (1 s pauses) would take minutes: give up well
# before, the assertions then say what went wrong.
XFER_TIMEOUT=30
FQDN=datapath.amt.test

# field FILE KEY: the value of KEY=... on the last line of FILE that has it.
field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" "$1" | tail -n 1; }
# sent_sha FILE / recv_sha FILE: bytepump's SHA-256 of what it sent / got.
sent_sha() { sed -n 's/^sent .*sha256=\([0-9a-f]*\).*/\1/p' "$1"; }
recv_sha() { sed -n 's/^received .*sha256=\([0-9a-f]*\).*/\1/p' "$1"; }
# closed_line NAME PORT: the device's closed line for its channel to PORT.
closed_line() { grep -E "^device 0 channel [0-9]+ closed port=$2 " "$T/$1.out" | tail -n 1; }
# at_most A B: both numbers, A <= B.
at_most() { [ -n "$1" ] && [ -n "$2" ] && [ "$1" -le "$2" ]; }
# same_text A B: both non-empty and equal.
same_text() { [ -n "$1" ] && [ "$1" = "$2" ]; }

# pump NAME ARGS...: bytepump through mpsd's SOCKS port to the device,
# output in $T/NAME.out; its exit status.
pump() {
	local name=$1
	shift
	"$BYTEPUMP" --socks "127.0.0.1:$SOCKS_PORT" --user "$CONSOLE_USER" \
		--pass "$CONSOLE_PASS" --timeout "$XFER_TIMEOUT" "$@" \
		>"$T/$name.out" 2>"$T/$name.err"
}

for W in 65536 1048576 4194304; do
	K=$((W / 1024))KiB
	D=$T/w$W
	make_config "$D" "$(tunnel_settings "<Tunnel><ChannelWindowSize>$W</ChannelWindowSize></Tunnel>")"
	set_trace_levels "$D" "ERROR|WARNING|INFO"
	if ! start_mpsd "$D"; then
		echo "Bail out! mpsd did not start (window $W)"
		cat "$D/stderr" >&2
		exit 1
	fi
	console_ports "$D"
	if ! start_sim "sim$W" --fqdn "$FQDN" --ports 16992,16993 \
		--window "$W" --window-adjust half \
		--target 16992=sink --target "16993=source:$BYTES"; then
		echo "Bail out! the device did not connect (window $W)"
		cat "$T/sim$W.out" >&2
		exit 1
	fi
	DEV=$SIM_PID

	# ---- console -> device ----
	pump "up$W" --target "$FQDN:16992" --send "$BYTES" --recv 0
	ok "window $K, console -> device: bytepump sent all $BYTES bytes" \
		grep -q '^result ok' "$T/up$W.out"
	wait_for 10 sim_has "sim$W" "^device 0 channel [0-9]+ closed port=16992 "
	line=$(closed_line "sim$W" 16992)
	echo "$line" >"$T/up$W.closed"
	diag "window $K up: $(grep '^result' "$T/up$W.out"); device: ${line#device 0 }"
	ok "window $K, console -> device: the device received all of them" \
		same_text "$(field "$T/up$W.closed" rx)" "$BYTES"
	ok "window $K, console -> device: SHA-256 equal at both ends" \
		same_text "$(sent_sha "$T/up$W.out")" "$(field "$T/up$W.closed" rx-sha256)"
	gap_ok "window $K, console -> device: no pause between device reads over $MAX_GAP_MS ms" \
		"$(field "$T/up$W.closed" rx-gap-ms)"

	# ---- device -> console ----
	pump "down$W" --target "$FQDN:16993" --send 0 --recv "$BYTES" --peer-seed 2
	ok "window $K, device -> console: bytepump received every byte, checked against the device's stream" \
		grep -q '^received bytes='"$BYTES"' .* match=yes' "$T/down$W.out"
	wait_for 10 sim_has "sim$W" "^device 0 channel [0-9]+ closed port=16993 "
	line=$(closed_line "sim$W" 16993)
	echo "$line" >"$T/down$W.closed"
	diag "window $K down: $(grep '^result' "$T/down$W.out"); device: ${line#device 0 }"
	ok "window $K, device -> console: the device sent all $BYTES bytes" \
		same_text "$(field "$T/down$W.closed" tx)" "$BYTES"
	ok "window $K, device -> console: SHA-256 equal at both ends" \
		same_text "$(recv_sha "$T/down$W.out")" "$(field "$T/down$W.closed" tx-sha256)"
	gap_ok "window $K, device -> console: no pause between device sends over $MAX_GAP_MS ms" \
		"$(field "$T/down$W.closed" tx-gap-ms)"

	# Gaps are wall-clock: on a machine loaded far beyond its cores a
	# process may wait 100 ms for a CPU. Say how loaded it was.
	diag "window $K: load average $(cut -d ' ' -f 1-3 /proc/loadavg)"
	ok "window $K: the tunnel is still up after both transfers" \
		eval "still_running $DEV && ! sim_has sim$W '^device 0 disconnected'"
	stop_pid "$DEV" >/dev/null
	ok "window $K: the device ends cleanly (outcome=ok)" \
		sim_has "sim$W" '^device 0 disconnected .*outcome=ok'
	stop_pid "$MPSD_PID" >/dev/null
done

done_testing

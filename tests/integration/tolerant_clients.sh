#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# tolerant_clients.sh: APF clients in the field that are looser than
# firmware and LMS (issue 11, section 2), through a real TLS tunnel and
# SOCKS consoles.
#
# (a) A client that sends tcpip-forward (and cancel-tcpip-forward) with
#     want_reply 0, yet waits for REQUEST_SUCCESS before its next forward
#     and starts its keepalives only once every forward is answered
#     (amtsim --forward-no-reply). mpsd answers every forward and cancel
#     whatever the flag says, so the client forwards all its ports, starts
#     its keepalives and stays connected past IdleTimeout (3 s here).
#
# (b) A client without flow control: it sends channel data beyond the
#     window mpsd advertised (amtsim --ignore-window). With the default
#     setting mpsd must keep memory bounded without losing data or other
#     channels: 20 MB reach a console that waits 5 s before reading
#     byte-exact, the tunnel stays up, another channel of the same tunnel
#     completes, and mpsd logs one WARNING per overrunning channel naming
#     the device as not honouring the window. With the strict setting,
#     the old behaviour: the tunnel ends with DISCONNECT 2 (protocol
#     error).
#
#     The setting (mps.config(5)):
#       <Tunnel><ChannelWindowOverrun>BYTES|strict</ChannelWindowOverrun></Tunnel>
#     BYTES (default 1 MiB): what mpsd holds for one channel beyond the
#     window it advertised. While a channel holds data beyond its window
#     mpsd stops reading the tunnel's socket until that channel's console
#     drains (TCP back-pressure); a channel past the bound is closed
#     alone. The first overrun of each channel logs one WARNING:
#       Intel remote client <fqdn> (<ip:port>) does not honour the window
#       of channel [<device id>:<mps id>]: <N> bytes beyond it ...
#     (the assertion below only needs WARNING, the device's FQDN and
#     "honour" on one line). "strict" (also 0): any byte beyond the
#     window is a protocol error (DISCONNECT 2).
. "$(dirname "$0")/console_lib.sh"
require_peers

sent_sha() { sed -n 's/^sent .*sha256=\([0-9a-f]*\).*/\1/p' "$1"; }
recv_sha() { sed -n 's/^received .*sha256=\([0-9a-f]*\).*/\1/p' "$1"; }
same_text() { [ -n "$1" ] && [ "$1" = "$2" ]; }
# closed_line NAME PORT N: the Nth closed line of the device's channels
# to PORT (1 = the first).
closed_line() { grep -E "^device 0 channel [0-9]+ closed port=$2 " "$T/$1.out" | sed -n "${3}p"; }
# pump NAME ARGS...: bytepump through mpsd's SOCKS port; output in
# $T/NAME.out, its exit status.
pump() {
	local name=$1
	shift
	"$BYTEPUMP" --socks "127.0.0.1:$SOCKS_PORT" --user "$CONSOLE_USER" \
		--pass "$CONSOLE_PASS" --timeout 60 "$@" \
		>"$T/$name.out" 2>"$T/$name.err"
}
# alive PID NAME: the simulator is running and its device has not ended.
alive() { still_running "$1" && ! sim_has "$2" '^device 0 disconnected'; }

# ---- (a) want_reply 0, reply awaited --------------------------------
A=$T/a
make_config "$A" "$(tunnel_settings '<Tunnel><KeepAliveInterval>1</KeepAliveInterval><IdleTimeout>3</IdleTimeout></Tunnel>')"
set_trace_levels "$A" "ERROR|WARNING|INFO"
start_mpsd "$A" || { echo "Bail out! mpsd did not start"; cat "$A/stderr" >&2; exit 1; }
console_ports "$A"
log=$A/log/mps.log
FQDN=noreply.amt.test
PORTS=16993,16992,664,623,16995,16994
ok "(a) a no-reply-but-waits device gets every forward answered" \
	start_sim noreply --forward-no-reply --fqdn "$FQDN" --ports "$PORTS" \
	--cancel-port 664 --reply-timeout 20
NR=$SIM_PID
ok "(a) all six ports forwarded, one after the other" \
	test "$(count_lines "$T/noreply.out" '^device 0 forwarded ')" -eq 6
ok "(a) mpsd registered each forward (log)" \
	test "$(count_lines "$log" "Intel remote client $(dev_re "$FQDN") started port forwarding to address ${FQDN//./\\.}:")" -eq 6
ok "(a) the cancel-tcpip-forward sent without want_reply is answered too" \
	wait_for 5 sim_has noreply '^device 0 cancel-ok 664$'
ok "(a) the device starts its keepalives once ready, and mpsd answers them" \
	wait_for 10 sim_has noreply '^device 0 keepalive-ok '
# IdleTimeout is 3 s: 5 s more of keepalives every second.
sleep 5
ok "(a) the device stays connected past IdleTimeout" alive "$NR" noreply
ok "(a) mpsd did not drop it as idle" file_lacks "$log" "(IdleTimeout): tunnel dropped"
ok "(a) every keepalive was answered (none missed)" \
	test "$(count_lines "$T/noreply.out" '^device 0 keepalive-(missed|mismatch)')" -eq 0
stop_pid "$NR" >/dev/null
ok "(a) the device ends cleanly (outcome=ok)" sim_has noreply '^device 0 disconnected .*outcome=ok'
stop_pid "$MPSD_PID" >/dev/null

# ---- (b) data beyond the window, default (tolerant) setting ---------
B=$T/b
make_config "$B"
set_trace_levels "$B" "ERROR|WARNING|INFO"
start_mpsd "$B" || { echo "Bail out! mpsd did not start"; cat "$B/stderr" >&2; exit 1; }
console_ports "$B"
log=$B/log/mps.log
FQDN=nowindow.amt.test
BIG=20000000
# The device ignores mpsd's window (64 KiB, the default) altogether on
# every channel; port 16993 sends BIG bytes, port 16992 takes what comes.
ok "(b) a device without flow control connects" \
	start_sim nowin --fqdn "$FQDN" --ports 16992,16993 --window 1M \
	--ignore-window 1G --target 16992=sink --target "16993=source:$BIG"
NW=$SIM_PID
rss_watch "$MPSD_PID" "$T/rss-b"
rss0=$(rss_kb "$MPSD_PID")
# A console that reads nothing for 5 s while the device pushes as fast
# as it can: once the socket buffers between mpsd and the console are
# full (loopback lets them take some 4-6 MB) mpsd gets bytes its window
# does not cover. A sanitizer build on a loaded machine moves 2-3 MB/s,
# so 5 s overrun there too; a console merely slower than mpsd would not.
# Meanwhile another console uploads 5 MB to the same device.
READ_DELAY=5
pump big --target "$FQDN:16993" --send 0 --recv "$BIG" --peer-seed 2 \
	--read-delay "$READ_DELAY" &
BIGPID=$!
track "$BIGPID"
sleep 0.3
pump other --target "$FQDN:16992" --send 5000000 --recv 0
other_rc=$?
wait "$BIGPID"
big_rc=$?
kill "$RSS_WATCH_PID" 2>/dev/null
wait_for 10 sim_has nowin '^device 0 channel [0-9]+ closed port=16993 '
# The other channel's close reaches the device's log a moment after its
# console ends (seconds under ThreadSanitizer).
wait_for $((10 * ${SLOW:-1})) sim_has nowin '^device 0 channel [0-9]+ closed port=16992 '
diag "(b) big: $(grep '^result' "$T/big.out"); other: $(grep '^result' "$T/other.out")"
diag "(b) device: $(grep ' closed ' "$T/nowin.out" | tr '\n' ' ')"
# The device's own count (adjusts in flight make mpsd's view smaller);
# the WARNINGs below show that mpsd saw the overrun.
beyond=$(closed_line nowin 16993 1 | sed -n 's/.* max-beyond-window=\([0-9]*\).*/\1/p')
ok "(b) the device went beyond mpsd's window (by its own count)" \
	test "${beyond:-0}" -gt 65536
ok "(b) 20 MB from the device reach the late console whole, every byte checked" \
	eval "test $big_rc -eq 0 && grep -q '^received bytes=$BIG .* match=yes' '$T/big.out'"
line=$(closed_line nowin 16993 1)
ok "(b) SHA-256 equal at both ends" \
	same_text "$(recv_sha "$T/big.out")" "$(echo "$line" | sed -n 's/.* tx-sha256=\([0-9a-f]*\).*/\1/p')"
ok "(b) the other channel of the tunnel completes: 5 MB byte-exact" \
	eval "test $other_rc -eq 0 && same_text \"\$(sent_sha '$T/other.out')\" \
	\"\$(closed_line nowin 16992 1 | sed -n 's/.* rx-sha256=\([0-9a-f]*\).*/\1/p')\""
ok "(b) ... and was closed by its console, not by the tunnel's end" \
	eval "closed_line nowin 16992 1 | grep -q ' by=mps '"
ok "(b) the tunnel is still up" alive "$NW" nowin
ok "(b) mpsd did not disconnect the device (no reason 2)" \
	file_lacks "$log" "disconnecting (reason 2)"
if [ -n "$SANITIZER" ]; then
	# ASan's quarantine keeps freed memory, TSan its shadow and
	# histories: RSS would measure them.
	skip "(b) mpsd's memory stays bounded (RSS grew by less than 16 MiB)" \
		"built with a sanitizer"
else
	ok "(b) mpsd's memory stays bounded (RSS grew by less than 16 MiB)" \
		test $(( $(max_of "$T/rss-b") - rss0 )) -lt 16384
fi
# A second overrunning channel: one more WARNING, not one per message.
pump big2 --target "$FQDN:16993" --send 0 --recv "$BIG" --peer-seed 2 \
	--read-delay "$READ_DELAY"
ok "(b) a second overrunning channel also arrives whole" \
	grep -q "^received bytes=$BIG .* match=yes" "$T/big2.out"
warnings() { grep -E "WARNING.*$FQDN.*[Hh]onou?r" "$log" | grep -ci window; }
ok "(b) one WARNING per overrunning channel, naming the device as not honouring the window" \
	wait_for 5 test "$(warnings)" -eq 2
ok "(b) the tunnel is still up after both" alive "$NW" nowin
stop_pid "$NW" >/dev/null
ok "(b) the device ends cleanly (outcome=ok)" sim_has nowin '^device 0 disconnected .*outcome=ok'
stop_pid "$MPSD_PID" >/dev/null

# ---- (b) strict setting: today's behaviour ----------------------------
S=$T/s
make_config "$S" "$(tunnel_settings '<Tunnel><ChannelWindowOverrun>strict</ChannelWindowOverrun></Tunnel>')"
set_trace_levels "$S" "ERROR|WARNING|INFO"
started=no
start_mpsd "$S" && started=yes
ok "(b strict) mpsd starts with <ChannelWindowOverrun>strict" test $started = yes
log=$S/log/mps.log
strict_rc=not-run
if [ $started = yes ]; then
	console_ports "$S"
	if start_sim strict --fqdn "$FQDN" --ports 16993 --window 1M \
		--ignore-window 1G --target "16993=source:$BIG"; then
		pump strict --target "$FQDN:16993" --send 0 --recv "$BIG" \
			--peer-seed 2 --read-delay "$READ_DELAY"
		strict_rc=$?
	fi
fi
# The device may not read the DISCONNECT: mpsd closes with the device's
# data unread, so the kernel resets the connection (reason=none
# error=ECONNRESET). mpsd's log says which reason it sent.
ok "(b strict) the server ends the tunnel (outcome=dropped)" \
	wait_for 5 sim_has strict '^device 0 disconnected reason=(2|none) .*by=server .*outcome=dropped'
ok "(b strict) mpsd logs the protocol error (reason 2), naming the device" \
	grep -qsE "WARNING.*$FQDN.*disconnecting \(reason 2\)" "$log"
ok "(b strict) the console's transfer is cut short" \
	eval "[ $strict_rc != not-run ] && [ $strict_rc != 0 ]"

done_testing

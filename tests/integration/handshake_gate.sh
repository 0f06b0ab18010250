#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# handshake_gate.sh: MaxHandshakes, the device TLS handshakes mpsd works
# on at once (issue #11: a login storm no longer starts every handshake
# together). With MaxHandshakes 2, real devices (amtsim over TLS) and
# raw sockets show that:
#   1. idle sockets (connected, silent) hold no slot: a device logs in
#      at once beside 20 of them;
#   2. two connections that started a handshake and stalled hold both
#      slots: a third device waits, unread and counted as waiting in
#      /metrics, and logs in as soon as one of them goes;
#   3. a storm of 200 devices all log in, never more than 2 handshakes
#      under way at once (sampled from /metrics), the others waiting;
#   4. a stalled handshake holds its slot only until its handshake
#      deadline: the device waiting behind it logs in then;
# and the gauges are back at 0 after.
. "$(dirname "$0")/console_lib.sh"
require_peers

A=$T/a
ADMIN_PORT=$(free_port)
make_config "$A" \
	"$(tunnel_settings "<Limits><MaxHandshakes>2</MaxHandshakes><MaxPreAuthConnections>600</MaxPreAuthConnections><MaxPreAuthPerAddress>600</MaxPreAuthPerAddress><PreAuthDropStart>600</PreAuthDropStart><PreAuthTimeout>30</PreAuthTimeout><AuthQueueLength>600</AuthQueueLength></Limits>$(admin_settings "$ADMIN_PORT")")"
admin_token "$A"
ok "mpsd starts with MaxHandshakes 2" start_mpsd "$A"
log=$A/log/mps.log
ok "... and says so" file_has "$log" \
	"Device TLS handshakes: at most 2 at once (MaxHandshakes); more wait in arrival order"
console_ports "$A"

running() { metric 'mpsd_device_handshakes{state="running"}'; }
waiting() { metric 'mpsd_device_handshakes{state="waiting"}'; }
# running_is N, waiting_is N: for wait_for.
running_is() { test "$(running)" = "$1"; }
waiting_is() { test "$(waiting)" = "$1"; }
ready_in() { wait_for "$1" test -f "$T/$2.ready" && grep -q ' failed=0' "$T/$2.ready"; }
# stall: a connection that sends a TLS record header and nothing more:
# mpsd reads it, takes a slot and waits for the rest of the ClientHello.
# Its own process (sleep holds the socket), so that no other child of
# this shell inherits the socket and keeps it open after a kill. STALL.
stall() {
	( exec 3<>"/dev/tcp/127.0.0.1/$AMT_PORT" && printf '\026\003\001' >&3 &&
		exec sleep 120 ) &
	STALL=$!
	track "$STALL"
}

# ---- 1. idle sockets hold no slot ---------------------------------------
( for _ in $(seq 20); do exec {fd}<>"/dev/tcp/127.0.0.1/$AMT_PORT"; done
	exec sleep 120 ) &
IDLE=$!
track "$IDLE"
sleep 1
ok "20 idle sockets: no handshake under way" test "$(running)" = 0
ok "... none waiting" test "$(waiting)" = 0
t0=$(date +%s%N)
ok "a device logs in beside them" start_sim first --fqdn first.amt.test --first-index 1 --ports 16992
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
diag "login beside 20 idle sockets: $ms ms"
ok "... at once (under 5 s; the idle sockets' deadline is 30 s)" test "$ms" -lt 5000
kill "$IDLE"

# ---- 2. stalled handshakes hold the slots; the next device waits ------
stall
ST1=$STALL
stall
ST2=$STALL
ok "two stalled handshakes hold both slots" wait_for 5 running_is 2
rm -f "$T/second.ready"
"$SIM" --port "$AMT_PORT" --ca "$T/certs/ca.pem" --server-name localhost \
	--ready-file "$T/second.ready" --fqdn second.amt.test --first-index 2 --ports 16992 \
	--connect-timeout 30000 >"$T/second.out" 2>&1 &
SECOND=$!
track "$SECOND"
sleep 2
ok "a third device waits for a slot (counted as waiting)" test "$(waiting)" = 1
ok "... and has not logged in" test ! -f "$T/second.ready"
kill "$ST1"
ok "one stalled handshake goes: the waiting device logs in" ready_in 10 second
r=$(running) w=$(waiting)
diag "after the second device's login: running $r, waiting $w"
ok "... and nothing waits any more" test "$w" = 0
ok "... one slot still held by the other stalled handshake" test "$r" = 1
kill "$ST2"
ok "the slots are free once it goes" wait_for 5 running_is 0

# ---- 3. a storm of 200 devices through 2 slots -------------------------
samples=$T/samples
: >"$samples"
(
	while :; do
		curl -sS --max-time 5 -H "Authorization: Bearer $TOKEN" \
			"http://127.0.0.1:$ADMIN_PORT/metrics" |
			awk '$1 ~ /^mpsd_device_handshakes/ { printf "%s ", $2 } END { print "" }'
	done >>"$samples"
) &
SAMPLER=$!
track "$SAMPLER"
rm -f "$T/storm.ready"
"$SIM" --port "$AMT_PORT" --ca "$T/certs/ca.pem" --server-name localhost \
	--ready-file "$T/storm.ready" --count 200 --first-index 100 --ports 16992 \
	--connect-timeout 30000 --reply-timeout 30000 >"$T/storm.out" 2>&1 &
track $!
ok "a storm of 200 devices: all log in" ready_in 60 storm
kill "$SAMPLER" 2>/dev/null
wait "$SAMPLER" 2>/dev/null
diag "storm: $(sed -n 's/.* \(forwarded=[0-9]*\).*/\1/p' "$T/storm.ready"), $(wc -l <"$samples") samples of /metrics"
max_running=$(awk 'NF == 2 && $1 > m { m = $1 } END { print m + 0 }' "$samples")
max_waiting=$(awk 'NF == 2 && $2 > m { m = $2 } END { print m + 0 }' "$samples")
diag "most handshakes under way at once: $max_running; most waiting: $max_waiting"
ok "... never more than 2 handshakes under way at once" test "$max_running" -le 2
ok "... the others waited their turn" test "$max_waiting" -ge 1
ok "... and the gauges are back at 0" test "$(running)" = 0 -a "$(waiting)" = 0

# ---- 4. a stalled handshake holds its slot only until its deadline -----
stop_pid "$MPSD_PID"
rc=$?
ok "mpsd stops cleanly with 200 tunnels open" test $rc = 0
B=$T/b
ADMIN_PORT=$(free_port)
make_config "$B" \
	"$(tunnel_settings "<Limits><MaxHandshakes>1</MaxHandshakes><PreAuthTimeout>3</PreAuthTimeout></Limits>$(admin_settings "$ADMIN_PORT")")"
admin_token "$B"
ok "mpsd starts with MaxHandshakes 1 and a 3 s deadline" start_mpsd "$B"
console_ports "$B"
stall
sleep 0.5
t0=$(date +%s%N)
"$SIM" --port "$AMT_PORT" --ca "$T/certs/ca.pem" --server-name localhost \
	--ready-file "$T/late.ready" --fqdn late.amt.test --first-index 3 \
	--ports 16992 --connect-timeout 20000 >"$T/late.out" 2>&1 &
track $!
sleep 1
ok "a device waits behind a stalled handshake" test "$(waiting)" = 1
ok "... which is closed at its deadline" wait_for 10 grep -q \
	'no TLS handshake from 127.0.0.1:[0-9]* within 3 s' "$B/log/mps.log"
ok "... and then the device logs in" ready_in 10 late
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
diag "the device waited $ms ms for the slot and logged in"
ok "... after waiting for it (over 1.5 s)" test "$ms" -gt 1500
ok "the gauges end at 0" test "$(running)" = 0 -a "$(waiting)" = 0
stop_pid "$MPSD_PID"
rc=$?
ok "mpsd stops cleanly" test $rc = 0

done_testing

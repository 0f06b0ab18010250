#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# preauth_flood.sh: issue #12, "idle sockets take every slot". A real
# device (amtsim over TLS) and real consoles (curl through SOCKS and the
# HTTP proxy) log in and move bytes while tests/peers/idle_flood holds and
# renews 2,000 idle sockets on the AMT, SOCKS and HTTP ports, with the
# default limits (MaxPreAuthConnections 512, MaxPreAuthPerAddress 32,
# PreAuthDropStart 256 at 30 %, PreAuthTimeout 10 s):
#   1. from 4 addresses (127.0.0.2-5): the per-address limit refuses all
#      but 32 of each at accept; the device and consoles (127.0.0.1) pass;
#   2. from 64 addresses (127.0.0.10-73): the pre-auth budget and its
#      random drop hold the flood below 480, the last eighth staying free
#      for addresses that hold none; a device and consoles still log in, and the device and console that were connected before
#      keep moving bytes (never evicted);
# and mpsd's descriptors and memory stay bounded, the refusals are counted
# in /metrics and logged once per 10 s per limit, not once per refusal.
. "$(dirname "$0")/console_lib.sh"
require_peers
FLOOD=$top_builddir/tests/peers/idle_flood
if [ ! -x "$FLOOD" ]; then
	echo "1..0 # SKIP $FLOOD not built (make check builds it)"
	exit 0
fi
# 2,000 sockets in the flooder, as many again in mpsd at worst: take the
# hard limit (the flooder raises its own too).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 4200 ]; then
	echo "1..0 # SKIP open file limit $(ulimit -n) < 4200"
	exit 0
fi

start_origin --quiet || { echo "Bail out! origin_http did not start"; exit 1; }
ORIGIN_ADDR=127.0.0.1:$ORIGIN_PORT

A=$T/a
ADMIN_PORT=$(free_port)
AP=$ADMIN_PORT
make_config "$A" "$(tunnel_settings "$(admin_settings "$ADMIN_PORT")")"
admin_token "$A"
ok "mpsd starts with the default pre-auth limits" start_mpsd "$A"
log=$A/log/mps.log
ok "... and says which" file_has "$log" \
	"Unauthenticated connections: at most 512, 32 per address, random drop from 256 at 30%, 10 s to log in; MaxConsoles 1000"
console_ports "$A"
fds() { find "/proc/$MPSD_PID/fd" -mindepth 1 -maxdepth 1 | wc -l; }

# flood NAME SOURCES SECONDS: idle_flood in the background on all three
# ports, 2,000 sockets renewed at up to 200 new ones a second.
flood() {
	"$FLOOD" --target "127.0.0.1:$AMT_PORT" --target "127.0.0.1:$SOCKS_PORT" \
		--target "127.0.0.1:$HTTP_PORT" --source "$2" --count 2000 \
		--rate 200 --duration "$3" >"$T/$1.out" 2>"$T/$1.err" &
	FLOOD_PID=$!
	track "$FLOOD_PID"
}

# login NAME UUID-SUFFIX: a device logs in (a real TLS handshake and APF
# login) and stays; prints the seconds it took. DEV_PID.
login() {
	local t0 t1
	t0=$(date +%s%N)
	start_sim "$1" --uuid "48534188-0000-0000-0000-$2" --fqdn "$1.amt.test" \
		--ports 16992 --target "16992=$ORIGIN_ADDR" --connect-timeout 5000 \
		|| return 1
	t1=$(date +%s%N)
	DEV_PID=$SIM_PID
	echo "$(( (t1 - t0) / 1000000 ))" >"$T/$1.ms"
}

# consoles DEVICE TAG: one GET of 300,000 bytes through SOCKS and one
# through the HTTP proxy, each compared with what the device's web server
# sent.
consoles() {
	local want
	want=$(expected 300000)
	socks_curl -o "$T/$2-socks" "http://$1.amt.test:16992/bytes/300000" &&
		same_file "$want" "$T/$2-socks" &&
		http_curl -o "$T/$2-http" "http://$1.amt.test:16992/bytes/300000" &&
		same_file "$want" "$T/$2-http"
}

ok "a device logs in before any flood" login before 000000000001
BEFORE=$DEV_PID
diag "login before the flood: $(cat "$T/before.ms") ms"
ok "... and consoles move bytes through it (SOCKS and HTTP)" consoles before calm
fd0=$(fds)
rss0=$(rss_kb "$MPSD_PID")
diag "before: $fd0 descriptors, RSS $rss0 KiB"

# A console that holds its channel across both floods: opened now, used
# after them (socks_probe.py holds it, then sends the request).
"$PYTHON" "$PROBE_PY" --proxy "127.0.0.1:$SOCKS_PORT" --user "$CONSOLE_USER" \
	--pass "$CONSOLE_PASS" --host before.amt.test --port 16992 --hold 62 \
	--timeout 90 --send 'GET /bytes/100000 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' \
	--expect-bytes 100000 >"$T/held" 2>&1 &
HELD=$!
track "$HELD"
ok "a console opens a channel to hold across the floods" wait_for 10 grep -q '^rep=00' "$T/held"

# ---- 1. 2,000 idle sockets from 4 addresses ----------------------------
flood flood1 127.0.0.2-127.0.0.5 30
sleep 5		# the flood is at full strength (and renewing) by then
ok "during a 4-address flood, a device logs in" login dev1 000000000002
diag "login during the 4-address flood: $(cat "$T/dev1.ms") ms"
ok "... within 5 s" test "$(cat "$T/dev1.ms")" -lt 5000
ok "... and consoles move bytes through it (SOCKS and HTTP)" consoles dev1 f1
pre=$(metric mpsd_preauth_connections)
diag "pre-auth connections held by mpsd: $pre; descriptors $(fds)"
ok "the flood holds at most 4 x 32 pre-auth slots" test "${pre:-999}" -le 130
ok "mpsd holds at most 4 x 32 flood sockets (descriptors)" test "$(fds)" -le $((fd0 + 150))
refused=$(metric 'mpsd_preauth_refused_total{reason="per_address"}')
diag "refused per address so far: $refused"
ok "the per-address limit refuses (mpsd_preauth_refused_total)" test "${refused:-0}" -gt 500
wait "$FLOOD_PID"
diag "flood 1: $(cat "$T/flood1.out")"
ok "the flooder saw its sockets closed at once (refused at accept)" \
	grep -qE 'closed_within_1s=[0-9]{4,}' "$T/flood1.out"
lines=$(grep -c 'MaxPreAuthPerAddress (32) reached' "$log")
diag "MaxPreAuthPerAddress lines in the log: $lines (refusals: $refused)"
ok "... logged once per 10 s, not once per refusal" test "$lines" -ge 1 -a "$lines" -le 5
ok "... naming the port and the address" grep -qE \
	'MaxPreAuthPerAddress \(32\) reached: refusing the (AMT|SOCKS|HTTP) connection from 127\.0\.0\.[2-5]' "$log"

# ---- 2. 2,000 idle sockets from 64 addresses ---------------------------
flood flood2 127.0.0.10-127.0.0.73 30
sleep 8
pre=$(metric mpsd_preauth_connections)
diag "64-address flood: $pre pre-auth connections held; descriptors $(fds)"
ok "the budget holds: at most MaxPreAuthConnections (512) pre-auth" test "${pre:-999}" -le 512
ok "... and the random drop keeps the flood out of the last eighth (480-512)" \
	test "${pre:-999}" -le 500
ok "during a 64-address flood, a device logs in" login dev2 000000000003
diag "login during the 64-address flood: $(cat "$T/dev2.ms") ms"
ok "... and consoles move bytes through it (SOCKS and HTTP)" consoles dev2 f2
ok "the device from before the floods is still connected (never evicted)" \
	consoles before f2b
dropped=$(metric 'mpsd_preauth_refused_total{reason="random_drop"}')
diag "random drops: $dropped; full: $(metric 'mpsd_preauth_refused_total{reason="full"}')"
ok "the random drop refuses (mpsd_preauth_refused_total)" test "${dropped:-0}" -gt 100
fd2=$(fds)
rss2=$(rss_kb "$MPSD_PID")
diag "during: $fd2 descriptors, RSS $rss2 KiB"
ok "descriptors stay bounded by the budget (<= before + 512 + 64)" \
	test "$fd2" -le $((fd0 + 576))
ok "memory stays bounded (RSS grew < 64 MiB)" test $((rss2 - rss0)) -lt 65536
wait "$FLOOD_PID"
diag "flood 2: $(cat "$T/flood2.out")"
ok "PreAuthDropStart is logged, rate-limited" sh -c \
	"n=\$(grep -c 'PreAuthDropStart (256) passed' '$log'); [ \"\$n\" -ge 1 ] && [ \"\$n\" -le 5 ]"

# ---- after -------------------------------------------------------------
wait "$HELD"
ok "the console held across both floods got its 100,000 bytes" \
	grep -q '^recv_len=100[0-9][0-9][0-9]' "$T/held"
ok "every flood socket is gone within PreAuthTimeout" \
	wait_for 15 sh -c "[ \"\$(curl -s -H 'Authorization: Bearer $TOKEN' http://127.0.0.1:$AP/metrics | awk '\$1 == \"mpsd_preauth_connections\" { print \$2 }')\" = 0 ]"
ok "... and the descriptors are back near the baseline" \
	wait_for 10 sh -c "[ \$(find /proc/$MPSD_PID/fd -mindepth 1 | wc -l) -le $((fd0 + 8)) ]"
ok "no handshake timeout flooded the log (one line per 10 s)" \
	test "$(grep -c 'no TLS handshake from' "$log")" -le 8
ok "all three devices are still connected" \
	test "$(metric mpsd_devices_connected)" = 3
for d in "$BEFORE" ; do stop_pid "$d" >/dev/null; done
stop_pid "$MPSD_PID"
ok "mpsd stops cleanly" test $? -eq 0
done_testing

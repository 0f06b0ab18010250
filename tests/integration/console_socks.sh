#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# console_socks.sh: consoles reach simulated AMT devices through mpsd's
# SOCKSv5 port (guide 2, 3, 4.4, 6): curl --socks5-hostname gets the exact
# bytes of GET and POST (sized and chunked) from the web server behind a
# device's port 16992; the device is named by its FQDN, its UUID in any
# case, or the IP literal it announced; RFC 1929 authentication through
# the Socks plugin, accepted and refused; every RFC 1928 reply code mpsd
# gives (0x02, 0x04, 0x05, 0x06, 0x07), and that it is not an open proxy;
# the per-device channel limit; who closes first; the guide's log lines.
. "$(dirname "$0")/console_lib.sh"
require_peers

A=$T/a
make_config "$A" "$(tunnel_settings '<Tunnel><ChannelOpenTimeout>2</ChannelOpenTimeout></Tunnel><Limits><MaxChannelsPerDevice>4</MaxChannelsPerDevice></Limits>')"
ok "mpsd starts with console authentication on (the demo's)" start_mpsd "$A"
MPSD_A=$MPSD_PID
console_ports "$A"
log=$A/log/mps.log
start_origin || { echo "Bail out! origin_http did not start"; exit 1; }
start_blackhole || { echo "Bail out! no blackhole port"; exit 1; }
ORIGIN_ADDR=127.0.0.1:$ORIGIN_PORT

# dev-0 and dev-1 forward 16992, 16993 (both to the web server) and 16994
# (which leads nowhere: the device refuses channels to it).
ok "two devices log in and forward 16992, 16993, 16994" \
	start_sim devs --count 2 --ports 16992,16993,16994 \
	--target "16992=$ORIGIN_ADDR" --target "16993=$ORIGIN_ADDR"
DEVS=$SIM_PID

# rep_of FILE: the REP byte socks_probe.py printed.
rep_of() { sed -n 's/^rep=\([0-9a-f]*\).*/\1/p' "$1"; }
# p ARGS...: socks_probe.py with the console account.
p() { probe --user "$CONSOLE_USER" --pass "$CONSOLE_PASS" "$@"; }
# http_small HOST: a one-shot request for /small (239 bytes answer it).
http_small() { printf 'GET /small HTTP/1.1\\r\\nHost: %s:16992\\r\\nConnection: close\\r\\n\\r\\n' "$1"; }

# ---- curl through SOCKS: the exact bytes, both ways -------------------
socks_curl -o "$T/get" "http://dev-0.amt.test:16992/bytes/1000000"
ok "curl --socks5-hostname: GET /bytes/1000000 returns the exact bytes" \
	same_file "$(expected 1000000)" "$T/get"
socks_curl -o "$T/chunked" "http://dev-0.amt.test:16992/chunked/777777"
ok "curl --socks5-hostname: a chunked GET returns the exact bytes" \
	same_file "$(expected 777777)" "$T/chunked"
up=$(random_file up 2000000)
socks_curl --data-binary @"$up" -o "$T/echo" "http://dev-1.amt.test:16992/echo"
ok "curl --socks5-hostname: a 2 MB sized POST is echoed exactly" \
	same_file "$up" "$T/echo"
socks_curl -H 'Transfer-Encoding: chunked' --data-binary @"$up" \
	-o "$T/echo-chunked" "http://dev-1.amt.test:16992/echo"
ok "curl --socks5-hostname: a 2 MB chunked POST is echoed exactly" \
	same_file "$up" "$T/echo-chunked"
socks_curl -o "$T/p16993" "http://dev-1.amt.test:16993/bytes/65537"
ok "another forwarded port (16993) of the device" \
	same_file "$(expected 65537)" "$T/p16993"
socks_curl -o "$T/uuid" "http://12345678-9ABC-DEF0-1234-000000000000:16992/bytes/4096"
ok "the device's UUID, in upper case, names it as well" \
	same_file "$(expected 4096)" "$T/uuid"

# ---- the guide's log lines, and who closes ----------------------------
ok "log: Channel between Intel remote client <fqdn> and management console <ip> opened. Channel ID [x:y]" \
	wait_for 5 grep -qE "$(channel_opened_re dev-0.amt.test)" "$log"
ok "log: [<ip>] management console has shutdown" \
	wait_for 5 file_has "$log" "$CONSOLE_SHUTDOWN"
# Our channel lines (issue #13): the open line names the front, device
# port, console address and user; the close line, of the same channel id,
# adds the bytes each way and the duration. The 65537-byte download above
# is the one channel with more than 65537 bytes to the console.
close_re="Channel between Intel remote client dev-0\.amt\.test \([0-9A-Fa-f-]{36}\) and management console 127\.0\.0\.1 closed\. Channel ID \[([0-9]+:[0-9]+)\]; SOCKS, device port 16992, console 127\.0\.0\.1:[0-9]+, console user \"$CONSOLE_USER\", [0-9]+ bytes to the device, ([0-9]{6,}) bytes from the device, [0-9]+\.[0-9]{3} s$"
big_close() { grep -E "$close_re" "$log" | sed -E "s/.*$close_re/\1 \2/" | awk '$2 > 65537 { print $1; exit }'; }
ok "log: a channel's close line: id, device port, console, user, bytes each way, duration" \
	wait_for 5 grep -qE "$close_re" "$log"
big_id=$(big_close)
ok "log: ... the 65537-byte download's close line counts the bytes from the device" \
	test -n "$big_id"
ok "log: ... and its open line has the same channel id, front, port and user" \
	grep -qF "opened. Channel ID [$big_id]; SOCKS, device port 16992, console 127.0.0.1:" "$log"
ok "log: ... and says whose it was" \
	grep -qE "opened\. Channel ID \[$big_id\]; SOCKS, device port 16992, console 127\.0\.0\.1:[0-9]+, console user \"$CONSOLE_USER\"$" "$log"
ok "console EOF: mpsd closes the channel (the device sees its CHANNEL_CLOSE)" \
	wait_for 5 sim_has devs "^device 0 channel [0-9]+ closed port=16992 by=mps"
p --host dev-1.amt.test --port 16992 --send "$(http_small dev-1.amt.test)" \
	>"$T/devclose"
ok "device closes first: the console still gets the whole answer" \
	grep -qx 'recv_len=239' "$T/devclose"
ok "device closes first: then mpsd closes the console" \
	grep -q '^closed=yes' "$T/devclose"
ok "device closes first: the device saw the channel end as its own" \
	wait_for 5 sim_has devs "^device 1 channel [0-9]+ closed port=16992 by=target"

# ---- authentication (RFC 1929 through the Socks plugin) ---------------
probe --methods 0 --host dev-0.amt.test --port 16992 >"$T/m0"
ok "auth on: a console offering only method 0x00 gets 0xFF" grep -qx 'method=ff' "$T/m0"
ok "auth on: ... and the connection is closed" grep -q '^closed=yes' "$T/m0"
p --methods 0,2 --host dev-0.amt.test --port 16992 >"$T/m02"
ok "auth on: of 0x00 and 0x02, mpsd picks 0x02" grep -qx 'method=02' "$T/m02"
ok "auth on: the right password gets status 0x00" grep -qx 'auth=00' "$T/m02"
ok "auth on: then CONNECT succeeds" test "$(rep_of "$T/m02")" = 00
probe --user "$CONSOLE_USER" --pass wrong --host dev-0.amt.test --port 16992 >"$T/wrongpw"
ok "a wrong password gets RFC 1929 status 0x01" grep -qx 'auth=01' "$T/wrongpw"
ok "... and the connection is closed" grep -q '^closed=yes' "$T/wrongpw"
probe --user nosuchuser --pass "$CONSOLE_PASS" --host dev-0.amt.test --port 16992 >"$T/nouser"
ok "an unknown user gets status 0x01" grep -qx 'auth=01' "$T/nouser"
opened_before=$(count_lines "$T/devs.out" ' opened port=')
curl -sS --max-time 20 --socks5-hostname "127.0.0.1:$SOCKS_PORT" \
	--proxy-user "$CONSOLE_USER:wrong" -o /dev/null \
	"http://dev-0.amt.test:16992/small" 2>"$T/curl-wrong.err"
ok "curl with a wrong password fails" test $? -ne 0
ok "... refused by the SOCKS server" file_has "$T/curl-wrong.err" "rejected by the SOCKS5 server"
ok "a refused console opens no channel" \
	test "$(count_lines "$T/devs.out" ' opened port=')" -eq "$opened_before"

# ---- reply codes: mpsd is not an open proxy ---------------------------
p --host nosuch.amt.test --port 16992 >"$T/r-unknown"
ok "an unknown device name: REP 0x04" test "$(rep_of "$T/r-unknown")" = 04
ok "... and the connection is closed" grep -q '^closed=yes' "$T/r-unknown"
p --host localhost --port 16992 >"$T/r-localhost"
ok "a host that is not a device (localhost): REP 0x04" test "$(rep_of "$T/r-localhost")" = 04
origin_conns=$(count_lines "$ORIGIN_LOG" '^conn [0-9]+ open')
p --atyp ipv4 --host 127.0.0.1 --port "$ORIGIN_PORT" >"$T/r-open"
ok "an IPv4 literal no device announced (127.0.0.1, a live server): refused" \
	grep -qE '^rep=0[1-8]' "$T/r-open"
p --atyp ipv4 --host 127.0.0.1 --port 16992 >"$T/r-open2"
ok "127.0.0.1:16992: REP 0x04 (no device announced that address)" \
	test "$(rep_of "$T/r-open2")" = 04
ok "mpsd connected to nothing for them" \
	test "$(count_lines "$ORIGIN_LOG" '^conn [0-9]+ open')" -eq "$origin_conns"
p --host dev-0.amt.test --port 8080 >"$T/r-8080"
ok "a port outside the AMT ports (8080): REP 0x02" test "$(rep_of "$T/r-8080")" = 02
ok "... and the connection is closed" grep -q '^closed=yes' "$T/r-8080"
p --host dev-0.amt.test --port 623 >"$T/r-623"
ok "an AMT port the device did not forward (623): REP 0x02" test "$(rep_of "$T/r-623")" = 02
p --host dev-0.amt.test --port 5900 >"$T/r-5900"
ok "5900 when the device did not forward it: REP 0x02" test "$(rep_of "$T/r-5900")" = 02
p --host dev-0.amt.test --port 16994 >"$T/r-refused"
ok "the device refuses the channel (OPEN_FAILURE): REP 0x05" test "$(rep_of "$T/r-refused")" = 05
ok "... the device did refuse it (reason 2)" \
	sim_has devs "^device 0 channel-open-failed .*port=16994 reason=2"
p --cmd bind --host dev-0.amt.test --port 16992 >"$T/r-bind"
ok "BIND: REP 0x07" test "$(rep_of "$T/r-bind")" = 07
p --cmd udp --host dev-0.amt.test --port 16992 >"$T/r-udp"
ok "UDP ASSOCIATE: REP 0x07" test "$(rep_of "$T/r-udp")" = 07
ok "... and the connection is closed" grep -q '^closed=yes' "$T/r-udp"

# ---- IP literals that devices announced -------------------------------
ok "a device announcing the IPv4 literal 10.9.8.7 connects" \
	start_sim v4 --fqdn 10.9.8.7 --uuid 44444444-0000-0000-0000-000000000001 \
	--ports 16992 --target "16992=$ORIGIN_ADDR"
V4=$SIM_PID
p --atyp ipv4 --host 10.9.8.7 --port 16992 --send "$(http_small 10.9.8.7)" >"$T/v4"
ok "ATYP IPv4 10.9.8.7 reaches it" grep -qx 'recv_len=239' "$T/v4"
p --atyp ipv4 --host 10.9.8.8 --port 16992 >"$T/v4-other"
ok "another IPv4 literal: REP 0x04" test "$(rep_of "$T/v4-other")" = 04
ok "a device announcing the IPv6 literal fd00::7 connects" \
	start_sim v6 --fqdn fd00::7 --uuid 44444444-0000-0000-0000-000000000002 \
	--ports 16992 --target "16992=$ORIGIN_ADDR"
V6=$SIM_PID
p --atyp ipv6 --host fd00::7 --port 16992 --send "$(http_small '[fd00::7]')" >"$T/v6"
ok "ATYP IPv6 fd00::7 reaches it" grep -qx 'recv_len=239' "$T/v6"

# ---- a device that was there and left: 0x04 ---------------------------
ok "a device that will leave connects" \
	start_sim gone --fqdn gone.amt.test --uuid 55555555-0000-0000-0000-000000000001 \
	--ports 16992 --target "16992=$ORIGIN_ADDR"
GONE=$SIM_PID
p --host gone.amt.test --port 16992 >"$T/gone-before"
ok "while it is connected, CONNECT succeeds" test "$(rep_of "$T/gone-before")" = 00
# It leaves when told, not after a fixed time: on a loaded machine a
# --duration could run out before the console above got its answer.
kill "$GONE"
wait "$GONE" 2>/dev/null
ok "it disconnects" wait_for 10 log_has_dev "$log" "[" gone.amt.test "] Intel remote client has disconnected"
p --host gone.amt.test --port 16992 >"$T/gone-after"
ok "a disconnected device: REP 0x04" test "$(rep_of "$T/gone-after")" = 04

# ---- the device runs out of channels (AMT answers 4): 0x05 -------------
ok "a device that takes one channel at most connects" \
	start_sim full --fqdn full.amt.test --uuid 66666666-0000-0000-0000-000000000001 \
	--ports 16992 --target "16992=$ORIGIN_ADDR" --max-channels 1
FULL=$SIM_PID
p --host full.amt.test --port 16992 --hold 4 >"$T/full-hold" &
hold=$!
wait_for 10 sim_has full "^device 0 channel 0 opened"
p --host full.amt.test --port 16992 >"$T/full-second"
ok "the device answers OPEN_FAILURE 4 (out of channels): REP 0x05" \
	test "$(rep_of "$T/full-second")" = 05
ok "... the device did refuse it with reason 4" \
	sim_has full "channel-open-failed .*reason=4"
wait $hold
ok "the held channel was fine meanwhile" test "$(rep_of "$T/full-hold")" = 00

# ---- MaxChannelsPerDevice (4 here) -------------------------------------
ok "a device for the channel limit connects" \
	start_sim lim --fqdn lim.amt.test --uuid 66666666-0000-0000-0000-000000000002 \
	--ports 16992 --target "16992=$ORIGIN_ADDR"
LIM=$SIM_PID
holds=()
for i in 1 2 3 4; do
	p --host lim.amt.test --port 16992 --hold 4 >"$T/lim-$i" &
	holds+=($!)
done
wait_for 10 sh -c "[ \$(grep -c ' opened port=' '$T/lim.out') -ge 4 ]"
p --host lim.amt.test --port 16992 >"$T/lim-5"
diag "fifth channel: $(grep '^rep=' "$T/lim-5")"
ok "MaxChannelsPerDevice 4: a fifth channel is refused" grep -qE '^rep=0[1-8]' "$T/lim-5"
ok "... without bothering the device" test "$(count_lines "$T/lim.out" ' opened port=|channel-open-failed')" -eq 4
wait "${holds[@]}"
ok "the four channels worked" test "$(cat "$T"/lim-[1-4] | grep -c '^rep=00')" -eq 4
wait_for 10 sh -c "[ \$(grep -c ' closed port=' '$T/lim.out') -ge 4 ]"
p --host lim.amt.test --port 16992 --send "$(http_small lim.amt.test)" >"$T/lim-after"
ok "once they closed, a new channel opens" grep -qx 'recv_len=239' "$T/lim-after"

# ---- ChannelOpenTimeout (2 s here): 0x06 --------------------------------
ok "a device whose port leads to a connect that never completes connects" \
	start_sim slow --fqdn slow.amt.test --uuid 77777777-0000-0000-0000-000000000001 \
	--ports 16992 --target "16992=127.0.0.1:$BLACKHOLE_PORT"
SLOW=$SIM_PID
t0=$(date +%s%N)
p --host slow.amt.test --port 16992 --timeout 10 >"$T/slow"
t1=$(date +%s%N)
ms=$(( (t1 - t0) / 1000000 ))
diag "channel open timeout answered after $ms ms"
ok "no answer from the device within ChannelOpenTimeout: REP 0x06" test "$(rep_of "$T/slow")" = 06
ok "... after about ChannelOpenTimeout (2 s)" test "$ms" -ge 1500 -a "$ms" -le $((6000 * SLOW))

# ---- mpsd with console authentication off, and ChannelIdleTimeout --------
B=$T/b
make_config "$B" "$SOCKS_AUTH_OFF" \
	"$(tunnel_settings '<Tunnel><ChannelIdleTimeout>2</ChannelIdleTimeout></Tunnel>')"
ok "a second mpsd starts with console authentication off" start_mpsd "$B"
MPSD_B=$MPSD_PID
console_ports "$B"
ok "a device logs in to it" start_sim devb --ports 16992 --target "16992=$ORIGIN_ADDR"
DEVB=$SIM_PID
probe --methods 0 --host dev-0.amt.test --port 16992 --send "$(http_small dev-0.amt.test)" >"$T/noauth"
ok "auth off: method 0x00" grep -qx 'method=00' "$T/noauth"
ok "auth off: CONNECT succeeds and the device answers" grep -qx 'recv_len=239' "$T/noauth"
curl -sS --max-time 60 --socks5-hostname "127.0.0.1:$SOCKS_PORT" \
	-o "$T/noauth-get" "http://dev-0.amt.test:16992/bytes/300000"
ok "auth off: curl without credentials gets the exact bytes" \
	same_file "$(expected 300000)" "$T/noauth-get"
by_mps=$(count_lines "$T/devb.out" 'closed port=16992 by=mps')
probe --methods 0 --host dev-0.amt.test --port 16992 --wait-close 8 >"$T/idle"
ms=$(sed -n 's/^closed=yes ms=\([0-9]*\)/\1/p' "$T/idle")
diag "an idle channel was closed after ${ms:-?} ms"
ok "ChannelIdleTimeout 2: mpsd closes an idle channel's console" grep -q '^closed=yes' "$T/idle"
ok "... after about 2 s" test "${ms:-0}" -ge 1500 -a "${ms:-0}" -le 6000
ok "... and closes the channel with the device" \
	wait_for 5 sh -c "[ \$(grep -c 'closed port=16992 by=mps' '$T/devb.out') -gt $by_mps ]"
stop_pid "$DEVB"
ok "its device leaves cleanly (simulator exit 0)" test $? -eq 0
stop_pid "$MPSD_B"
ok "the second mpsd stops cleanly" test $? -eq 0

# ---- MaxConsoles, and the pre-auth budget before it ------------------
# An unfinished greeting holds a pre-auth slot (MaxPreAuthPerAddress), not
# a MaxConsoles one; a console counts against MaxConsoles once its request
# is complete.
C=$T/mpsd-c
make_config "$C" "$SOCKS_AUTH_OFF" \
	"$(tunnel_settings '<Limits><MaxConsoles>1</MaxConsoles><MaxPreAuthPerAddress>2</MaxPreAuthPerAddress></Limits>')"
ok "a third mpsd starts with MaxConsoles 1, MaxPreAuthPerAddress 2" start_mpsd "$C"
MPSD_C=$MPSD_PID
console_ports "$C"
ok "one device logs in to it" start_sim devc --ports 16992 --target "16992=$ORIGIN_ADDR"
DEVC=$SIM_PID
# Two unfinished greetings hold this address's two pre-auth slots...
exec 7<>"/dev/tcp/127.0.0.1/$SOCKS_PORT"
exec 8<>"/dev/tcp/127.0.0.1/$SOCKS_PORT"
sleep 0.5	# accepted by then: nothing observable to wait for
probe --methods 0 --host dev-0.amt.test --port 16992 >"$T/preauth3" 2>&1
ok "a third connection from the address is closed at once" grep -q '^method=eof' "$T/preauth3"
ok "... with a WARNING naming MaxPreAuthPerAddress" wait_for 3 grep -q \
	"MaxPreAuthPerAddress (2) reached: refusing the SOCKS connection from 127.0.0.1" "$C/log/mps.log"
exec 7>&- 8>&-
# ...and once they left, one console relays (holding the one MaxConsoles slot)
"$PYTHON" "$PROBE_PY" --proxy "127.0.0.1:$SOCKS_PORT" --methods 0 \
	--host dev-0.amt.test --port 16992 --hold 60 >"$T/holder" 2>&1 &
HOLDER=$!
track "$HOLDER"
ok "a console gets its channel once the greetings left" wait_for 5 grep -q '^rep=00' "$T/holder"
probe --methods 0 --host dev-0.amt.test --port 16992 >"$T/second" 2>&1
ok "a second console is refused (reply 05) while MaxConsoles 1 is held" grep -q '^rep=05' "$T/second"
ok "... naming MaxConsoles" wait_for 3 grep -q "MaxConsoles (1) reached: refusing the SOCKS console" "$C/log/mps.log"
kill "$HOLDER" 2>/dev/null	# the python process itself: its socket closes
wait "$HOLDER" 2>/dev/null
ok "once the console left, a console gets through again" \
	wait_for 5 sh -c "curl -sS --max-time 5 --socks5-hostname 127.0.0.1:$SOCKS_PORT http://dev-0.amt.test:16992/small -o /dev/null"
stop_pid "$DEVC"
stop_pid "$MPSD_C"
ok "the third mpsd stops cleanly" test $? -eq 0

# ---- everyone survived ------------------------------------------------
ok "the late OPEN_FAILURE after a channel open timeout comes in" \
	wait_for 15 sim_has slow "channel-open-failed"
ok "... and mpsd keeps that device connected" \
	sh -c "! grep -q disconnected '$T/slow.out'"
ok "mpsd is still running" still_running "$MPSD_A"
for name in devs v4 v6 full lim slow; do
	ok "no device of '$name' saw a protocol error" \
		sh -c "! grep -q 'protocol-error' '$T/$name.out'"
done
for pid in "$DEVS" "$V4" "$V6" "$FULL" "$LIM" "$SLOW"; do
	stop_pid "$pid"
	ok "simulator $pid ends cleanly (exit 0: no device failed)" test $? -eq 0
done
stop_pid "$MPSD_A"
ok "mpsd stops cleanly" test $? -eq 0

done_testing

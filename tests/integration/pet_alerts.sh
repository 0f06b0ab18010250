#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# pet_alerts.sh: PET alerts through a real mpsd. A simulated device sends
# GLOBAL_REQUEST udp-send-to@amt.intel.com (want_reply 1); mpsd must send
# the payload on as ONE UDP datagram, byte for byte, when the target is in
# AuthorizedServersList.config or FilterUnauthorizedServers is false, and
# otherwise drop it with a WARNING naming the device and the target
# (guide 6.1 Filtering, 6.2, 10.1). Every request is answered:
# REQUEST_SUCCESS when sent, REQUEST_FAILURE when dropped.
# UDP listeners: tests/peers/udp_catch.py (one file per datagram).
. "$(dirname "$0")/lib.sh"

SIM=$top_builddir/tests/sim/amtsim
PEERS=$top_srcdir/tests/peers
PYTHON=${PYTHON:-python3}
command -v "$PYTHON" >/dev/null 2>&1 || {
	echo "1..0 # SKIP python3 is not installed"
	exit 0
}
certs=$(test_certs)
FQDN=pet-device.amt.test



# catcher NAME [--ipv6]: a UDP listener saving datagrams as $T/NAME.N;
# sets CATCH_PORT.
catcher() {
	local name=$1
	shift
	start_peer "$name" udp_catch.py "$@" && CATCH_PORT=$PEER_PORT
}

# datagrams NAME: how many datagrams NAME has saved.
datagrams() { saved "$1"; }

# pets DIR OUT N ARGS...: one device logs in to DIR's mpsd, sends the
# --pet alerts in ARGS once ready, waits (at most 15 s) for N replies,
# then leaves; its exit status is in SIM_RC.
pets() {
	local dir=$1 out=$2 n=$3 pid
	shift 3
	"$SIM" --port "$(amt_port "$dir")" --ca "$certs/ca.pem" \
		--server-name localhost --fqdn "$FQDN" --duration 60 "$@" \
		>"$out" 2>&1 &
	pid=$!
	track "$pid"
	wait_for 15 sh -c "c=\$(grep -c '^device 0 pet-reply ' '$out' 2>/dev/null); [ \"\${c:-0}\" -ge $n ]"
	stop_pid "$pid"
	SIM_RC=$?
}

# A PET is an SNMPv1 trap; any bytes must pass, zeros and 0xff included.
printf '\x30\x39\x02\x01\x00\x04\x06public\xa4\x2c\x06\x08\x2b\x06\x01\x04\x01\x9a\x6f\x05\x40\x04\x7f\x00\x00\x01\x02\x01\x06\x02\x03\x10\x00\x00\x43\x01\x00\x30\x0b\x30\x09\x06\x04\x2b\x06\x01\x04\x04\x01\xff' >"$T/trap1.bin"
printf 'second trap\x00\x01\x02\xfe\xff' >"$T/trap2.bin"
printf 'by name\n' >"$T/trap3.bin"
head -c 1000 /dev/urandom >"$T/trap4.bin"
head -c 65507 /dev/urandom >"$T/max.bin"
head -c 65508 /dev/urandom >"$T/over.bin"

ok "a UDP listener for the authorized target" catcher c1
P1=$CATCH_PORT
ok "a UDP listener for an unlisted target" catcher c2
P2=$CATCH_PORT
have_v6=0
if "$PYTHON" -c 'import socket; socket.socket(socket.AF_INET6, socket.SOCK_DGRAM).bind(("::1", 0))' 2>/dev/null; then
	have_v6=1
	ok "a UDP listener on ::1" catcher c6 --ipv6
	P6=$CATCH_PORT
fi

# ---- FilterUnauthorizedServers true: only the list passes ----
A=$T/on
make_config "$A"
{
	echo "# the test's trap receivers"
	echo "127.0.0.1:$P1"
	[ $have_v6 = 1 ] && echo "[::1]:$P6"
} >"$A/AuthorizedServersList.config"
ok "mpsd starts with FilterUnauthorizedServers true" start_mpsd "$A"
log=$A/log/mps.log

# The unlisted target first: once the listed one's datagram is in, the
# refused one, had it been sent, would be in too (one session, in order).
pets "$A" "$T/a.out" 3 --pet "127.0.0.1:$P2:$T/trap2.bin" \
	--pet "127.0.0.1:$P1:$T/trap1.bin" --pet "localhost:$P1:$T/trap3.bin"
ok "the device sent three alerts" test "$(grep -c "^device 0 pet-sent " "$T/a.out")" -eq 3
ok "pet-sent reports the payload size and the target" \
	grep -q "^device 0 pet-sent bytes=$(stat -c %s "$T/trap1.bin") dest=127.0.0.1:$P1\$" "$T/a.out"
ok "the listed target gets its datagram" wait_for 5 test -f "$T/c1.1"
ok "... byte-identical" cmp -s "$T/trap1.bin" "$T/c1.1"
ok "want_reply: REQUEST_SUCCESS for the sent alert" \
	grep -q "^device 0 pet-reply ok dest=127.0.0.1:$P1\$" "$T/a.out"
ok "want_reply: REQUEST_FAILURE for the unlisted target" \
	grep -q "^device 0 pet-reply failed dest=127.0.0.1:$P2\$" "$T/a.out"
ok "want_reply: a name is not its address (localhost is not listed)" \
	grep -q "^device 0 pet-reply failed dest=localhost:$P1\$" "$T/a.out"
sleep 1
ok "nothing reaches the unlisted target" test "$(datagrams c2)" -eq 0
ok "exactly one datagram reached the listed target" test "$(datagrams c1)" -eq 1
ok "the drop is a WARNING naming the device and the target" \
	grep -q "WARNING.*$FQDN.*127\.0\.0\.1:$P2" "$log"
ok "the refused name is logged too" grep -q "WARNING.*$FQDN.*localhost:$P1" "$log"
ok "refused alerts do not fail the device (sim exit 0)" test "$SIM_RC" -eq 0

if [ $have_v6 = 1 ]; then
	pets "$A" "$T/v6.out" 1 --pet "[::1]:$P6:$T/trap2.bin"
	ok "IPv6: a listed [::1] target gets its datagram" wait_for 5 test -f "$T/c6.1"
	ok "IPv6: byte-identical" cmp -s "$T/trap2.bin" "$T/c6.1"
	ok "IPv6: REQUEST_SUCCESS" grep -q "^device 0 pet-reply ok dest=\[::1\]:$P6\$" "$T/v6.out"
else
	skip "IPv6: a listed [::1] target gets its datagram" "no IPv6 loopback"
fi

# Five alerts in a row: five datagrams, five answers, in order.
pets "$A" "$T/five.out" 5 --pet "127.0.0.1:$P1:$T/trap4.bin" --pet-count 5
ok "five alerts: five REQUEST_SUCCESS" test "$(grep -c "^device 0 pet-reply ok " "$T/five.out")" -eq 5
ok "five alerts: five more datagrams" wait_for 5 test "$(datagrams c1)" -eq 6
same=0
for n in 2 3 4 5 6; do
	cmp -s "$T/trap4.bin" "$T/c1.$n" && same=$((same + 1))
done
ok "five alerts: each one byte-identical" test $same -eq 5

# The largest UDP payload passes; one byte more is refused, not cut.
pets "$A" "$T/size.out" 2 --pet "127.0.0.1:$P1:$T/over.bin" --pet "127.0.0.1:$P1:$T/max.bin"
ok "a 65508-byte payload is refused (REQUEST_FAILURE)" \
	grep -q "^device 0 pet-reply failed dest=127.0.0.1:$P1\$" "$T/size.out"
ok "a 65507-byte payload is sent (REQUEST_SUCCESS)" \
	grep -q "^device 0 pet-reply ok dest=127.0.0.1:$P1\$" "$T/size.out"
ok "the 65507-byte datagram arrives whole" wait_for 5 test -f "$T/c1.7"
ok "... byte-identical" cmp -s "$T/max.bin" "$T/c1.7"
sleep 1
ok "the oversized one never left" test "$(datagrams c1)" -eq 7

# A delayed alert: the device has been up a while (--action-delay).
pets "$A" "$T/late.out" 1 --pet "127.0.0.1:$P1:$T/trap2.bin" --action-delay 1500
ok "an alert sent 1.5 s after ready arrives" wait_for 5 test -f "$T/c1.8"
ok "... byte-identical" cmp -s "$T/trap2.bin" "$T/c1.8"
ok "the delay was kept (ready, then pet-sent)" \
	awk '/ready forwards=/ { r = NR } /pet-sent/ { p = NR } END { exit !(r && p > r) }' "$T/late.out"
ok "mpsd is still running" kill -0 "$MPSD_PID"
stop_pid "$MPSD_PID"
ok "mpsd stops cleanly" test $? -eq 0

# ---- FilterUnauthorizedServers false: everything passes ----
B=$T/off
make_config "$B" "s|<FilterUnauthorizedServers>true<|<FilterUnauthorizedServers>false<|"
echo "127.0.0.1:$P1" >"$B/AuthorizedServersList.config"
ok "mpsd starts with FilterUnauthorizedServers false" start_mpsd "$B"
c1=$(datagrams c1)
pets "$B" "$T/b.out" 2 --pet "127.0.0.1:$P2:$T/trap2.bin" --pet "127.0.0.1:$P1:$T/trap1.bin"
ok "filter off: the unlisted target gets its datagram" wait_for 5 test -f "$T/c2.1"
ok "filter off: ... byte-identical" cmp -s "$T/trap2.bin" "$T/c2.1"
ok "filter off: the listed target too" wait_for 5 test "$(datagrams c1)" -eq $((c1 + 1))
ok "filter off: ... byte-identical" cmp -s "$T/trap1.bin" "$T/c1.$((c1 + 1))"
ok "filter off: both answered REQUEST_SUCCESS" \
	test "$(grep -c "^device 0 pet-reply ok " "$T/b.out")" -eq 2
ok "filter off: the device left cleanly" test "$SIM_RC" -eq 0
stop_pid "$MPSD_PID"
ok "mpsd stops cleanly" test $? -eq 0

done_testing

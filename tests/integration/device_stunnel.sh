#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# device_stunnel.sh: the guide's deployment (sections 5.2 and 6.3): the
# real stunnel terminates TLS and forwards plain TCP to mpsd's AMT port
# (<TLS><Mode>plain</Mode>). Simulated devices log in through it.
. "$(dirname "$0")/lib.sh"

STUNNEL=$(command -v stunnel4 || command -v stunnel) || {
	echo "1..0 # SKIP stunnel is not installed"
	exit 0
}
certs=$(test_certs)

P=$T/plain
make_config "$P" "s|<Mode>tls<|<Mode>plain<|"
ok "mpsd starts in plain mode" start_mpsd "$P"
ok "plain mode is logged" file_has "$P/log/mps.log" "plain TCP behind a TLS terminator"
mport=$(sed -n 's|.*<AMTListenPort>\([0-9]*\)<.*|\1|p' "$P/mps.config")

tport=$(free_port)
cat >"$T/stunnel.conf" <<CONF
foreground = yes
pid = $T/stunnel.pid
output = $T/stunnel.log
[mps]
accept = 127.0.0.1:$tport
connect = 127.0.0.1:$mport
cert = $certs/server-chain.pem
key = $certs/server-key.pem
CONF
"$STUNNEL" "$T/stunnel.conf" >/dev/null 2>&1 &
track $!
ok "stunnel listens in front of mpsd" wait_for 10 port_in_use "$tport"

"$top_builddir/tests/sim/amtsim" --port "$tport" --ca "$certs/ca.pem" \
	--server-name localhost --fqdn behind.stunnel.test --duration 3 >"$T/sim.out" 2>&1
ok "a device logs in through stunnel" grep -q "^device 0 ready forwards=7" "$T/sim.out"
ok "it verified stunnel's chain (the one mps-certgen made)" grep -q "^device 0 .*connected" "$T/sim.out"
ok "mpsd logs the device" log_has_dev "$P/log/mps.log" "Intel remote client " behind.stunnel.test " started port forwarding to address behind.stunnel.test:16992"
ok "the connection came from stunnel (loopback)" file_has "$P/log/mps.log" "(127.0.0.1:"
ok "its disconnect is logged" wait_for 5 log_has_dev "$P/log/mps.log" "[" behind.stunnel.test "] Intel remote client has disconnected"

"$top_builddir/tests/sim/amtsim" --port "$tport" --ca "$certs/ca.pem" \
	--server-name localhost --pass wrong --duration 3 >"$T/wrong.out" 2>&1
ok "through stunnel a wrong password is still refused" grep -q "^device 0 auth-failed" "$T/wrong.out"

"$top_builddir/tests/sim/amtsim" --port "$tport" --ca "$certs/ca.pem" \
	--server-name localhost --count 50 --quiet --ready-file "$T/ready" --duration 3 \
	>"$T/fifty.out" 2>&1
ok "50 devices log in through stunnel" grep -q "forwarded=50 failed=0" "$T/ready"

done_testing

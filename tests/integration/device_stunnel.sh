#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# device_stunnel.sh: the guide's deployment (sections 5.2 and 6.3): the
# real stunnel terminates TLS and forwards plain TCP to mpsd's AMT port
# (<TLS><Mode>plain</Mode>). Simulated devices log in through it; with
# stunnel's "protocol = proxy", mpsd takes their addresses from the PROXY
# header.
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

# stunnel can pass the device's address on with the PROXY protocol (v1,
# "protocol = proxy"): in plain mode mpsd then logs that address, not
# stunnel's, and MaxPreAuthPerAddress applies to it again (without the
# header every device comes from stunnel and only the total applies).
X=$T/proxied
make_config "$X" "s|<Mode>tls<|<Mode>plain<|" \
	"s|</Network>|<AMTProxyProtocol>true</AMTProxyProtocol><AMTProxyTrusted>127.0.0.1</AMTProxyTrusted></Network>|" \
	"s|</MPS>|<Limits><MaxPreAuthPerAddress>1</MaxPreAuthPerAddress></Limits></MPS>|"
set_trace_levels "$X" "INFO|ERROR|WARNING|DEBUG"
ok "mpsd starts in plain mode with the PROXY protocol" start_mpsd "$X"
xport=$(sed -n 's|.*<AMTListenPort>\([0-9]*\)<.*|\1|p' "$X/mps.config")
pport=$(free_port)
cat >"$T/stunnel-proxy.conf" <<CONF
foreground = yes
pid = $T/stunnel-proxy.pid
output = $T/stunnel-proxy.log
[mps]
accept = 127.0.0.1:$pport
connect = 127.0.0.1:$xport
protocol = proxy
cert = $certs/server-chain.pem
key = $certs/server-key.pem
CONF
"$STUNNEL" "$T/stunnel-proxy.conf" >/dev/null 2>&1 &
track $!
ok "stunnel (protocol = proxy) listens in front of it" wait_for 10 port_in_use "$pport"
"$top_builddir/tests/sim/amtsim" --port "$pport" --ca "$certs/ca.pem" \
	--server-name localhost --source 127.0.0.77 --fqdn proxied.test --duration 3 \
	>"$T/proxied.out" 2>&1
ok "a device logs in through stunnel's PROXY header" grep -q "^device 0 ready forwards=7" "$T/proxied.out"
ok "mpsd read stunnel's v1 header" \
	grep -qE "PROXY v1 header from 127\.0\.0\.1:[0-9]+: the device is 127\.0\.0\.77:[0-9]+" "$X/log/mps.log"
ok "the login is logged with the device's address, not stunnel's" \
	grep -qE "Intel remote client [0-9a-f-]{36} \(127\.0\.0\.77:[0-9]+\) authenticated" "$X/log/mps.log"
"$top_builddir/tests/sim/amtsim" --port "$pport" --ca "$certs/ca.pem" \
	--server-name localhost --source 127.0.0.78 --count 2 --misbehave stall \
	--reply-timeout 3 --duration 4 >"$T/stall.out" 2>&1
ok "in plain mode MaxPreAuthPerAddress (1) applies to the header's address" \
	grep -q "MaxPreAuthPerAddress (1) reached: refusing the AMT connection from 127.0.0.78" "$X/log/mps.log"

done_testing

#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# balancer_haproxy.sh: the shipped HAProxy sample (config/haproxy-mps.cfg)
# in front of three mpsd instances sharing a real redis-server, with the
# PROXY protocol on their AMT ports (issue 14, the balancer). Devices (the
# C simulator) connect through HAProxy from different loopback addresses:
# they spread over the instances and each instance logs the device's real
# address, never HAProxy's. A PROXY header from an untrusted address is
# refused; a trusted one without a header is closed; a v1 header is read
# exactly (TLS works right after it); MaxPreAuthPerAddress applies to the
# address the header names. HAProxy's health checks (v2 LOCAL) leave no
# warning in mpsd's log. One instance killed with SIGKILL: HAProxy marks
# it down, its devices reconnect through HAProxy to the others, and the
# directory shows them there.
. "$(dirname "$0")/cluster_lib.sh"

require_peers
if ! command -v haproxy >/dev/null; then
	echo "1..0 # SKIP haproxy not installed (apt-get install haproxy; scripts/install-deps lists it)"
	exit 0
fi
require_redis

TTL=3
NDEV=6
start_redis || { echo "1..0 # SKIP redis-server did not start"; exit 0; }
holder() { rcli HGET "mps:dev:$1" instance; }

# Pre-auth limits lifted as in the other many-device tests, except
# MaxPreAuthPerAddress on A, which the test below fills from one address
# named in PROXY headers.
LIMITS='<MaxPreAuthConnections>1000</MaxPreAuthConnections><PreAuthDropStart>1000</PreAuthDropStart>'
declare -A PID AMT ADMIN
for i in a b c; do
	per=1000
	[ $i = a ] && per=3
	ADMIN[$i]=$(free_port)
	make_config "$T/$i" "s|</MPS>|<Admin><Enabled>true</Enabled><ListenPort>${ADMIN[$i]}</ListenPort><TokenFile>admin.token</TokenFile></Admin><Directory><Backend>redis</Backend><RedisAddress>127.0.0.1:$RPORT</RedisAddress><InstanceId>mps-$i</InstanceId><TTL>$TTL</TTL><RedisTimeout>1</RedisTimeout></Directory><Limits>$LIMITS<MaxPreAuthPerAddress>$per</MaxPreAuthPerAddress></Limits></MPS>|" \
		"s|</Network>|<AMTProxyProtocol>true</AMTProxyProtocol><AMTProxyTrusted>127.0.0.1</AMTProxyTrusted></Network>|"
	set_trace_levels "$T/$i" "INFO|ERROR|WARNING|DEBUG"
	openssl rand -hex 24 >"$T/$i/admin.token"
	chmod 600 "$T/$i/admin.token"
	if ! start_mpsd "$T/$i"; then
		if grep -q "built without hiredis" "$T/$i/stderr"; then
			echo "1..0 # SKIP mpsd built without hiredis"
			exit 0
		fi
		echo "Bail out! mpsd $i did not start"
		cat "$T/$i/stderr" >&2
		exit 1
	fi
	PID[$i]=$MPSD_PID
	AMT[$i]=$(conf_value "$T/$i" AMTListenPort)
done
ok "three instances started with the PROXY protocol on" \
	file_has "$T/c/log/mps.log" "MPS has started its operation."

# ---- HAProxy from the shipped sample ----------------------------------------
# Only addresses, the log target, maxconn (the sample's needs more
# descriptors than a test may open) and the check interval change
# (checks every 500 ms so the failover below takes seconds, not tens).
HPORT=$(free_port)
sed -e "s|^\tlog /dev/log local0 info|\tlog stdout format raw local0 info|" \
	-e "s|^\tbind :16993|\tbind 127.0.0.1:$HPORT|" \
	-e "s|10.0.0.11:16993|127.0.0.1:${AMT[a]}|" \
	-e "s|10.0.0.12:16993|127.0.0.1:${AMT[b]}|" \
	-e "s|10.0.0.13:16993|127.0.0.1:${AMT[c]}|" \
	-e "s|check inter 2s|check inter 500ms|" \
	-e "s|^\tmaxconn 200000|\tmaxconn 2000|" \
	"$top_srcdir/config/haproxy-mps.cfg" >"$T/haproxy.cfg"
ok "the sample's substitutions all applied" \
	test "$(grep -cE "127\.0\.0\.1:(${AMT[a]}|${AMT[b]}|${AMT[c]}|$HPORT)\$|inter 500ms|log stdout|maxconn 2000" "$T/haproxy.cfg")" = 7
ok "the shipped sample passes haproxy -c" haproxy -c -q -f "$T/haproxy.cfg"
haproxy -db -f "$T/haproxy.cfg" >"$T/haproxy.out" 2>&1 &
HAPROXY_PID=$!
track "$HAPROXY_PID"
wait_for 10 port_in_use "$HPORT" || { echo "Bail out! haproxy did not start"; cat "$T/haproxy.out" >&2; exit 1; }

# ---- devices through HAProxy, each from its own address ---------------------
AMT_PORT=$HPORT
uuid() { printf '12345678-0000-0000-0000-%012d' "$1"; }
src() { echo "127.0.0.$((11 + $1))"; }
declare -A SIMS
for d in $(seq 0 $((NDEV - 1))); do
	start_sim "dev$d" --uuid "$(uuid "$d")" --fqdn "dev$d.test" \
		--source "$(src "$d")" --reconnect 1 --duration 180 ||
		diag "device $d did not get ready: $(tail -n 3 "$T/dev$d.out")"
	SIMS[$d]=$SIM_PID
done
recorded() {
	local d
	for d in $(seq 0 $((NDEV - 1))); do
		[ -n "$(holder "$(uuid "$d")")" ] || return 1
	done
}
ok "all $NDEV devices are recorded in the directory" wait_for 10 recorded
declare -A HELD
for d in $(seq 0 $((NDEV - 1))); do HELD[$d]=$(holder "$(uuid "$d")"); done
diag "held by: ${HELD[*]}"
for i in a b c; do
	ok "leastconn gave instance $i devices" \
		sh -c "echo '${HELD[*]}' | grep -qw mps-$i"
done

# Each instance logs each device's own address (from the PROXY header),
# never HAProxy's 127.0.0.1.
real_addresses() {
	local d i
	for d in $(seq 0 $((NDEV - 1))); do
		i=${HELD[$d]#mps-}
		grep -qE "Intel remote client $(uuid "$d") \($(src "$d" | sed 's/\./\\./g'):[0-9]+\) authenticated" \
			"$T/$i/log/mps.log" || { diag "device $d: no line with $(src "$d") on $i"; return 1; }
	done
}
ok "each device's login is logged with its real address" real_addresses
ok "the header's address is logged as replacing the balancer's" \
	grep -qE "PROXY v2 header from 127\.0\.0\.1:[0-9]+: the device is $(src 0 | sed 's/\./\\./g'):[0-9]+" \
	"$T/${HELD[0]#mps-}/log/mps.log"
# The admin API shows the same address.
admin_peer() {
	local i=${HELD[$1]#mps-}
	curl -s --max-time 5 -H "Authorization: Bearer $(cat "$T/$i/admin.token")" \
		"http://127.0.0.1:${ADMIN[$i]}/api/v1/devices/$(uuid "$1")" |
		grep -qE "\"peer\": *\"$(src "$1" | sed 's/\./\\./g'):[0-9]+\""
}
ok "the admin API shows device 0's real address as its peer" admin_peer 0
ok "... and device 1's" admin_peer 1
ok "no device login is logged with HAProxy's address" \
	sh -c "! grep -hE 'Intel remote client [0-9a-f-]{36} \(127\.0\.0\.1:[0-9]+\) authenticated' '$T'/[abc]/log/mps.log | grep -q ."

# ---- what may and may not send a header -------------------------------------
# raw SRC PORT HEX: connect from SRC, send the bytes, print "closed" when
# mpsd closes the connection within 5 s, "open" otherwise.
raw() {
	"$PYTHON" - "$@" <<'PY'
import socket, sys
src, port, data = sys.argv[1], int(sys.argv[2]), bytes.fromhex(sys.argv[3])
s = socket.socket()
s.bind((src, 0))
s.connect(("127.0.0.1", port))
s.sendall(data)
s.settimeout(5)
try:
    print("closed" if s.recv(100) == b"" else "data")
except ConnectionResetError:
    print("closed")
except socket.timeout:
    print("open")
PY
}
hex() { printf '%s' "$1" | od -An -tx1 | tr -d ' \n'; }
FORGED=$(hex "PROXY TCP4 203.0.113.9 127.0.0.1 4242 16993"$'\r\n')
ok "a PROXY header from an untrusted address is refused" \
	test "$(raw 127.0.0.50 "${AMT[a]}" "$FORGED")" = closed
ok "... and logged, naming the real sender" \
	wait_for 5 grep -qE "PROXY header from 127\.0\.0\.50:[0-9]+, which is not in AMTProxyTrusted: connection refused" "$T/a/log/mps.log"
ok "the forged address never reaches the log as a peer" \
	sh -c "! grep -q 203.0.113.9 '$T/a/log/mps.log'"
ok "a trusted address without a header is refused" \
	test "$(raw 127.0.0.1 "${AMT[a]}" 16030100050102030405)" = closed
ok "... as an invalid header" \
	wait_for 5 grep -qE "invalid PROXY header from 127\.0\.0\.1:[0-9]+ \(AMTProxyTrusted\): not a PROXY header" "$T/a/log/mps.log"

# A device connecting directly from an untrusted address still works.
AMT_PORT=${AMT[a]}
ok "a device connecting directly (no header, untrusted address) logs in" \
	start_sim direct --uuid "$(uuid 99)" --fqdn direct.test --source 127.0.0.60 --duration 60
ok "... under its own address" \
	wait_for 5 grep -qE "Intel remote client $(uuid 99) \(127\.0\.0\.60:[0-9]+\) authenticated" "$T/a/log/mps.log"
kill -TERM "$SIM_PID" 2>/dev/null

# v1: TLS right after the line (the header is consumed exactly).
v1_tls() {
	"$PYTHON" - "${AMT[b]}" "$T/certs/ca.pem" <<'PY'
import socket, ssl, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"PROXY TCP4 198.51.100.7 127.0.0.1 4242 16993\r\n")
ctx = ssl.create_default_context(cafile=sys.argv[2])
ctx.check_hostname = False
t = ctx.wrap_socket(s)
print(t.version())
t.close()
PY
}
v1_ok() { v1_tls 2>"$T/v1.err" | grep -q '^TLSv1'; }
ok "a v1 header is followed by a working TLS handshake" v1_ok
ok "... and its address is the peer" \
	wait_for 5 grep -qE "PROXY v1 header from 127\.0\.0\.1:[0-9]+: the device is 198\.51\.100\.7:4242" "$T/b/log/mps.log"

# MaxPreAuthPerAddress (3 on A) counts the address the header names: three
# unauthenticated connections through the balancer's address naming
# 198.51.100.9 fill it, a fourth naming it is refused, one naming another
# address is not.
hold() {
	"$PYTHON" - "${AMT[a]}" <<'PY'
import socket, sys, time
port = int(sys.argv[1])
def conn(ip):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(("PROXY TCP4 %s 127.0.0.1 5000 16993\r\n" % ip).encode())
    return s
def closed(s, t):
    s.settimeout(t)
    try:
        return s.recv(10) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False
held = [conn("198.51.100.9") for _ in range(3)]
time.sleep(0.5)
fourth = conn("198.51.100.9")
other = conn("198.51.100.10")
# All within PreAuthTimeout (10 s), which closes every one of them.
print("held", sum(1 for s in held if not closed(s, 0.3)))
print("fourth", "closed" if closed(fourth, 3) else "open")
print("other", "closed" if closed(other, 1) else "open")
PY
}
hold >"$T/hold.out" 2>&1
ok "a fourth connection naming the same address is refused" grep -qx "fourth closed" "$T/hold.out"
ok "... counted against that address, not the balancer's" \
	grep -qE "MaxPreAuthPerAddress \(3\) reached: refusing the AMT connection from 198\.51\.100\.9" "$T/a/log/mps.log"
ok "another address behind the same balancer is not refused" grep -qx "other open" "$T/hold.out"
ok "the three that fit stay open" grep -qx "held 3" "$T/hold.out"

# ---- HAProxy's health checks -------------------------------------------------
ok "HAProxy's checks (v2 LOCAL) reach mpsd as health checks" \
	wait_for 5 grep -q "balancer health check (PROXY header without client) ended" "$T/c/log/mps.log"
ok "... and never look like failed TLS handshakes" \
	sh -c "! grep -hE 'TLS handshake with 127\.0\.0\.1|no TLS handshake from 127\.0\.0\.1|invalid PROXY header from 127\.0\.0\.1' '$T/b/log/mps.log' '$T/c/log/mps.log' | grep -q ."
ok "HAProxy sees every instance up" sh -c "! grep -q 'is DOWN' '$T/haproxy.out'"

# ---- an instance dies: HAProxy marks it down, its devices move ---------------
VICTIM=${HELD[0]#mps-}
MOVED=()
for d in $(seq 0 $((NDEV - 1))); do
	[ "${HELD[$d]}" = "mps-$VICTIM" ] && MOVED+=("$d")
done
diag "killing instance $VICTIM (devices ${MOVED[*]})"
kill -KILL "${PID[$VICTIM]}"
t0=$(date +%s%N)
ok "HAProxy marks the killed instance down" \
	wait_for 10 grep -q "Server mps/mps-$VICTIM is DOWN" "$T/haproxy.out"
moved() {
	local d h
	for d in "${MOVED[@]}"; do
		h=$(holder "$(uuid "$d")")
		[ -n "$h" ] && [ "$h" != "mps-$VICTIM" ] || return 1
	done
}
ok "the killed instance's devices reconnect through HAProxy to the others" \
	wait_for $((15 * SLOW)) moved
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
diag "devices of mps-$VICTIM recorded on other instances ${ms} ms after SIGKILL (TTL ${TTL} s, amtsim --reconnect 1)"
on_new_instance() {
	local d i
	for d in "${MOVED[@]}"; do
		i=$(holder "$(uuid "$d")")
		i=${i#mps-}
		grep -qE "Intel remote client $(uuid "$d") \($(src "$d" | sed 's/\./\\./g'):[0-9]+\) authenticated" \
			"$T/$i/log/mps.log" || return 1
	done
}
ok "... and their new instances log their real addresses" on_new_instance
ok "the moved devices reconnected on their own (amtsim --reconnect)" \
	grep -q "reconnect-in" "$T/dev${MOVED[0]}.out"
stay() {
	local d
	for d in $(seq 0 $((NDEV - 1))); do
		[ "${HELD[$d]}" = "mps-$VICTIM" ] && continue
		[ "$(holder "$(uuid "$d")")" = "${HELD[$d]}" ] || return 1
		grep -q reconnect-in "$T/dev$d.out" && return 1
	done
	return 0
}
ok "the other devices stayed where they were, never dropped" stay
ok "the survivors are still running" \
	sh -c "for p in $(for i in a b c; do [ $i != "$VICTIM" ] && printf '%s ' "${PID[$i]}"; done); do kill -0 \$p || exit 1; done"

for d in $(seq 0 $((NDEV - 1))); do kill -TERM "${SIMS[$d]}" 2>/dev/null; done
stop_pid "$HAPROXY_PID"
done_testing

#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# cluster_forward.sh: issue 14, a console reaches a device through any
# instance. A real redis-server and three mpsd instances (A, B, C) on
# loopback, each with its peer link (mutual TLS with certificates of a
# CA made here for the instances), simulated devices spread over them.
# Real curl on instance A reaches the device on C through SOCKS, through
# the HTTP proxy's CONNECT and through an absolute-form request, byte
# exact (sha256 of a few MB); refusals keep the codes a local device
# gets; a link with a certificate of another CA is refused; a device
# moved from B to C is reachable through A and B's old tunnel closes
# with reason 11 without a DISCONNECTED notification; C killed with
# SIGKILL: its devices leave the directory within the TTL and a console
# for them gets "host unreachable" at once; Redis down: the same for a
# device elsewhere, while A's own device still works.
. "$(dirname "$0")/cluster_lib.sh"

require_peers
require_redis
if ! command -v curl >/dev/null || ! command -v openssl >/dev/null; then
	echo "1..0 # SKIP curl or openssl not installed"
	exit 0
fi

TTL=3
SUB=$top_srcdir/tests/peers/notify_subscriber.py
WSDL=$top_srcdir/config/MpsNotification.wsdl


# peer_certs DIR NAME...: a CA of the instances' own and a certificate
# per name (serverAuth and clientAuth: each instance is both ends).
peer_certs() {
	local d=$1 n
	shift
	mkdir -p "$d"
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/ca.key" \
		-out "$d/ca.pem" -days 2 -subj "/CN=mps peers CA $(basename "$d")" 2>/dev/null || return 1
	printf 'basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth,clientAuth\n' >"$d/ext"
	for n in "$@"; do
		openssl req -newkey rsa:2048 -nodes -keyout "$d/$n.key" \
			-out "$d/$n.csr" -subj "/CN=$n" 2>/dev/null || return 1
		openssl x509 -req -in "$d/$n.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" \
			-CAcreateserial -out "$d/$n.pem" -days 2 -extfile "$d/ext" \
			2>/dev/null || return 1
	done
}

# sha FILE: its sha256.
sha() { sha256sum "$1" | cut -d' ' -f1; }

start_redis || { echo "1..0 # SKIP redis-server did not start"; exit 0; }
start_origin
ok "the instances' certificates are made" peer_certs "$T/peers" mps-a mps-b mps-c
ok "a rogue CA's certificate is made" peer_certs "$T/rogue" mps-x

python3 "$SUB" --wsdl "$WSDL" --log "$T/sub.log" >"$T/sub.port" 2>"$T/sub.err" &
track $!
ok "a notification subscriber starts" wait_for 10 test -s "$T/sub.port"
echo "http://127.0.0.1:$(head -n 1 "$T/sub.port")/notify" >"$T/sub.url"

# Many consoles and devices from 127.0.0.1: lift the pre-auth limits.
LIMITS='<Limits><MaxPreAuthConnections>1000</MaxPreAuthConnections><MaxPreAuthPerAddress>1000</MaxPreAuthPerAddress><PreAuthDropStart>1000</PreAuthDropStart></Limits>'
MPSCTL=$top_builddir/server/admin/mpsctl
AP=$(free_port)
ADMIN="<Admin><Enabled>true</Enabled><ListenPort>$AP</ListenPort><TokenFile>admin.token</TokenFile></Admin>"
declare -A PID PEER
for i in a b c; do
	PEER[$i]=$(free_port)
	mkdir -p "$T/$i"
	openssl rand -hex 24 >"$T/$i/admin.token"
	chmod 600 "$T/$i/admin.token"
	[ $i = a ] && admin=$ADMIN || admin=
	# C knows another console account only: A's consoles reach it
	# logged in by A (the owner trusts the authenticated link).
	printf 'owner:owner-secret\n' >"$T/c-socks-users.txt"
	[ $i = c ] && users="s|<DllParameters>[^<]*SocksAuthFile.txt<|<DllParameters>$T/c-socks-users.txt<|" || users=
	make_config "$T/$i" ${users:+"$users"} "s|</MPS>|$LIMITS$admin<Directory><Backend>redis</Backend><RedisAddress>127.0.0.1:$RPORT</RedisAddress><InstanceId>mps-$i</InstanceId><PeerAddress>127.0.0.1:${PEER[$i]}</PeerAddress><PeerListenIP>127.0.0.1</PeerListenIP><PeerListenPort>${PEER[$i]}</PeerListenPort><PeerCertFile>$T/peers/mps-$i.pem</PeerCertFile><PeerKeyFile>$T/peers/mps-$i.key</PeerKeyFile><PeerCAFile>$T/peers/ca.pem</PeerCAFile><PeerTimeout>2</PeerTimeout><TTL>$TTL</TTL><RedisTimeout>1</RedisTimeout></Directory></MPS>|"
	cp "$T/sub.url" "$T/$i/NotificationList.config"
	start_mpsd "$T/$i" || { echo "Bail out! mpsd $i did not start"; cat "$T/$i/stderr"; exit 1; }
	PID[$i]=$MPSD_PID
done
ok "C listens for other instances on its peer link" \
	file_has "$T/c/log/mps.log" "Listening for other instances on 127.0.0.1:${PEER[c]} (peer link, mutual TLS"

UA=aaaaaaaa-0000-0000-0000-00000000000a
UB=bbbbbbbb-0000-0000-0000-00000000000b
UC=cccccccc-0000-0000-0000-00000000000c

on() {
	local dir=$1
	shift
	console_ports "$dir"
	start_sim "$@" --target "16992=127.0.0.1:$ORIGIN_PORT" --duration 300
}
on "$T/a" dev-a --uuid "$UA" --fqdn dev-a.test
SIM_A=$SIM_PID
on "$T/b" dev-b --uuid "$UB" --fqdn dev-b.test
SIM_B=$SIM_PID
on "$T/c" dev-c --uuid "$UC" --fqdn dev-c.test
SIM_C=$SIM_PID
ok "the three devices are in the directory" wait_for 5 sh -c \
	"[ \"\$(redis-cli -p $RPORT --raw HGET mps:dev:$UC instance)\" = mps-c ] && [ \"\$(redis-cli -p $RPORT --raw HGET mps:dev:$UB instance)\" = mps-b ]"

console_ports "$T/a"
SA=$SOCKS_PORT HA=$HTTP_PORT
SOCKS_A="$CONSOLE_USER:$CONSOLE_PASS@127.0.0.1:$SA"
HTTP_A="http://$CONSOLE_USER:$CONSOLE_PASS@127.0.0.1:$HA"
N=4000000
want=$(sha "$(expected $N)")

# ---- the admin API lists the whole cluster -----------------------------------
"$MPSCTL" -c "$T/a/mps.config" cluster >"$T/cluster.txt" 2>&1
ok "mpsctl cluster on A lists C's device as held by mps-c" \
	grep -Eq "^$UC +dev-c.test +mps-c +127.0.0.1:${PEER[c]} " "$T/cluster.txt"
ok "... and B's as held by mps-b, A's own by mps-a" sh -c \
	"grep -Eq '^$UB +dev-b.test +mps-b ' '$T/cluster.txt' && grep -Eq '^$UA +dev-a.test +mps-a ' '$T/cluster.txt'"
ok "... three devices in the cluster" grep -q "^3 device(s) in the cluster (asked instance mps-a)" "$T/cluster.txt"
"$MPSCTL" -c "$T/a/mps.config" list >"$T/local.txt" 2>&1
ok "while mpsctl list shows A's own device only" \
	sh -c "grep -q '^1 device(s)' '$T/local.txt' && grep -q '^$UA' '$T/local.txt'"
"$MPSCTL" -c "$T/a/mps.config" --json cluster >"$T/cluster.json" 2>&1
ok "the JSON names the instance and its ports" python3 -c "
import json, sys
j = json.load(open('$T/cluster.json'))
d = {e['uuid']: e for e in j['devices']}
assert j['count'] == 3, j
assert d['$UC']['instance'] == 'mps-c' and 16992 in d['$UC']['ports'], d
"

# ---- SOCKS through A to the device on C ------------------------------------
curl -s --max-time 30 --socks5-hostname "$SOCKS_A" -o "$T/socks.get" \
	"http://dev-c.test:16992/bytes/$N"
ok "SOCKS on A reaches the device on C byte-exact (sha256 of $N bytes)" \
	test "$(sha "$T/socks.get")" = "$want"
ok "A logs the forwarding to mps-c" \
	file_has "$T/a/log/mps.log" "forwarded to instance mps-c (127.0.0.1:${PEER[c]}) for dev-c.test:16992"
ok "C opened the channel for A's console, with its login name" wait_for 3 \
	grep -q "Channel between Intel remote client .*dev-c.test.* opened.*peer-link, device port 16992, .*console user \"$CONSOLE_USER\"" "$T/c/log/mps.log"
console_ports "$T/c"
"$PYTHON" "$PROBE_PY" --proxy "127.0.0.1:$SOCKS_PORT" --user "$CONSOLE_USER" \
	--pass "$CONSOLE_PASS" --host dev-c.test --port 16992 >"$T/c.direct" 2>&1
ok "C itself refuses A's console account (auth=01)..." grep -q '^auth=01' "$T/c.direct"
ok "... yet served it through A: the login is A's alone" test "$(sha "$T/socks.get")" = "$want"

# ---- the HTTP proxy through A ----------------------------------------------
curl -s --max-time 30 -x "$HTTP_A" -o "$T/abs.get" "http://dev-c.test:16992/bytes/$N"
ok "an absolute-form request on A's HTTP proxy reaches C byte-exact" \
	test "$(sha "$T/abs.get")" = "$want"
curl -s --max-time 30 -x "$HTTP_A" -w '%{num_connects}\n' \
	-o "$T/abs1.get" "http://dev-c.test:16992/bytes/1000" \
	-o "$T/abs2.get" "http://dev-c.test:16992/bytes/2000" >"$T/abs.connects"
ok "two requests on one forwarded keep-alive connection" sh -c \
	"cmp -s '$T/abs1.get' '$(expected 1000)' && cmp -s '$T/abs2.get' '$(expected 2000)' && [ \"\$(tr -d '\n' <'$T/abs.connects')\" = 10 ]"
curl -s --max-time 30 -p -x "$HTTP_A" -o "$T/connect.get" "http://dev-c.test:16992/bytes/$N"
ok "HTTP CONNECT on A reaches C byte-exact" test "$(sha "$T/connect.get")" = "$want"
code=$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' -x "http://127.0.0.1:$HA" \
	"http://dev-c.test:16992/bytes/10")
ok "without credentials A answers 407 itself (got $code)" test "$code" = 407

# ---- no thread per forwarded console -----------------------------------------
# HOLD consoles on A for C's device, open at once (one client process,
# each console logged in and its channel opened before the next), then
# each carries a request: the links relay on the event core, so neither
# instance's thread count grows with them (a thread per link would add
# HOLD on each). Under MaxChannelsPerDevice (32) of the one device.
# SLACK: what the worker lanes may add whatever the number of consoles:
# the I/O lane may grow to twice its threads (one per core more) while
# tasks wait, and the lanes that log consoles in and look devices up
# start threads on demand up to their bounds (seen: +1 under TSan, 5-15
# times slower; +3 in a plain run on 2 cores). The I/O part is counted
# for at most 8 cores, so that SLACK stays well under HOLD: a thread per
# forwarded console would add HOLD.
threads() { awk '/^Threads:/ { print $2 }' "/proc/$1/status"; }
cores=$(nproc)
HOLD=30 SLACK=$(( (cores < 8 ? cores : 8) + 4 ))
ta0=$(threads "${PID[a]}")
tc0=$(threads "${PID[c]}")
touch "$T/held"
python3 - "$SA" "$CONSOLE_USER" "$CONSOLE_PASS" "$HOLD" "$T/held" >"$T/hold.out" 2>&1 <<'PY' &
import os, socket, struct, sys, time
port, user, pw, n, flag = int(sys.argv[1]), sys.argv[2].encode(), sys.argv[3].encode(), int(sys.argv[4]), sys.argv[5]
def recv_n(s, k):
    b = b""
    while len(b) < k:
        c = s.recv(k - len(b))
        if not c:
            raise SystemExit("closed after %r" % b)
        b += c
    return b
socks = []
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(b"\x05\x01\x02")
    assert recv_n(s, 2) == b"\x05\x02"
    s.sendall(b"\x01" + bytes([len(user)]) + user + bytes([len(pw)]) + pw)
    assert recv_n(s, 2)[1] == 0
    host = b"dev-c.test"
    s.sendall(b"\x05\x01\x00\x03" + bytes([len(host)]) + host + struct.pack(">H", 16992))
    rep = recv_n(s, 10)
    assert rep[1] == 0, rep
    socks.append(s)
print("held", len(socks), flush=True)
# The test reads the thread counts now, then removes the flag.
while os.path.exists(flag):
    time.sleep(0.1)
good = 0
for i, s in enumerate(socks):
    s.sendall(b"GET /bytes/%d HTTP/1.0\r\n\r\n" % (1000 + i))
    b = b""
    while True:
        c = s.recv(65536)
        if not c:
            break
        b += c
    if b.startswith(b"HTTP/1.") and len(b.split(b"\r\n\r\n", 1)[1]) == 1000 + i:
        good += 1
    s.close()
print("served", good, flush=True)
PY
HOLD_PID=$!
ok "$HOLD SOCKS consoles on A for C's device, open at once" \
	wait_for 60 grep -q "^held $HOLD" "$T/hold.out"
ta1=$(threads "${PID[a]}")
tc1=$(threads "${PID[c]}")
rm -f "$T/held"
ok "A's threads: $ta0 before, $ta1 with $HOLD forwarded consoles" test "$ta1" -le $((ta0 + SLACK))
ok "C's threads: $tc0 before, $tc1 with $HOLD links accepted" test "$tc1" -le $((tc0 + SLACK))
ok "... and each of them then carries its request and response" \
	wait_for 60 grep -q "^served $HOLD" "$T/hold.out"
wait "$HOLD_PID" 2>/dev/null

# ---- refusals: the same codes as for a device of one's own -----------------
probe_a() { "$PYTHON" "$PROBE_PY" --proxy "127.0.0.1:$SA" --user "$CONSOLE_USER" --pass "$CONSOLE_PASS" "$@"; }
# unreachable NAME: curl through A's SOCKS to NAME; "code seconds" of
# the failure (curl's exit status 97 and its SOCKS reply, (4) for host
# unreachable). python's start-up alone takes seconds under load, so
# timing is measured with curl.
unreachable() {
	curl -sS --max-time 10 --socks5-hostname "$SOCKS_A" -o /dev/null \
		-w '%{time_total}' "http://$1:16992/" 2>"$T/unreach.err"
}
# fast SECONDS: under 3 s.
fast() { awk -v t="$1" 'BEGIN { exit !(t < 3) }'; }
# unreach_ok SECONDS: fast, and curl saw SOCKS reply 4.
unreach_ok() { fast "$1" && grep -q '(4)' "$T/unreach.err"; }
console_ports "$T/c"
"$PYTHON" "$PROBE_PY" --proxy "127.0.0.1:$SOCKS_PORT" --user owner \
	--pass owner-secret --host dev-c.test --port 16995 >"$T/local.port" 2>&1
probe_a --host dev-c.test --port 16995 >"$T/remote.port" 2>&1
ok "C's device refuses a channel: A gives the reply C gives ($(grep rep= "$T/local.port"))" \
	sh -c "grep -q '^rep=05' '$T/local.port' && grep -q '^rep=05' '$T/remote.port'"
probe_a --host dev-c.test --port 8080 >"$T/remote.8080" 2>&1
ok "not an AMT port: 0x02 (not allowed) from C through A" grep -q '^rep=02' "$T/remote.8080"
code=$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' -x "$HTTP_A" "http://dev-c.test:8080/")
ok "... and the HTTP proxy's 403 (got $code)" test "$code" = 403
probe_a --host nobody.test --port 16992 >"$T/nobody" 2>&1
ok "a device held nowhere: host unreachable (0x04)" grep -q '^rep=04' "$T/nobody"
s=$(unreachable nobody.test)
ok "... at once (curl: $s s, $(cat "$T/unreach.err"))" unreach_ok "$s"
code=$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' -x "$HTTP_A" "http://nobody.test:16992/")
ok "... and 502 from the HTTP proxy (got $code)" test "$code" = 502

# ---- the link is mutual TLS -------------------------------------------------
openssl s_client -connect "127.0.0.1:${PEER[c]}" -cert "$T/rogue/mps-x.pem" \
	-key "$T/rogue/mps-x.key" -CAfile "$T/peers/ca.pem" </dev/null >"$T/rogue.out" 2>&1
ok "C refuses a link with a certificate of another CA" wait_for 3 \
	grep -q "peer link from 127.0.0.1:[0-9]* refused: .*verify result: unable to get local issuer certificate" "$T/c/log/mps.log"
openssl s_client -connect "127.0.0.1:${PEER[c]}" -CAfile "$T/peers/ca.pem" </dev/null >"$T/nocert.out" 2>&1
ok "... and one with no certificate at all" wait_for 3 \
	grep -q "peer link from 127.0.0.1:[0-9]* refused: .*certificate" "$T/c/log/mps.log"

# ---- a device moves from B to C ---------------------------------------------
ok "B's device was announced once, by B" wait_for 5 sh -c \
	"[ \"\$(grep -ci 'Uuid=$UB' '$T/sub.log')\" = 1 ]"
on "$T/c" dev-b2 --uuid "$UB" --fqdn dev-b.test
SIM_B2=$SIM_PID
ok "the moved device is held by mps-c" wait_for 5 r_is mps-c HGET "mps:dev:$UB" instance
ok "B closes its old tunnel with reason 11" \
	wait_for 10 grep -q "disconnected reason=11 .*by=server" "$T/dev-b.out"
ok "B says why it sends no DISCONNECTED" wait_for 5 \
	file_has "$T/b/log/mps.log" "not notified as disconnected: the device is connected to another instance"
sleep 1
ok "the subscriber heard CONNECTED twice (B, then C) and no DISCONNECTED" \
	test "$(grep -i "Uuid=$UB" "$T/sub.log" | sed -n 's/^State=\([01]\).*/\1/p' | tr -d '\n')" = 00
curl -s --max-time 30 --socks5-hostname "$SOCKS_A" -o "$T/moved.get" \
	"http://dev-b.test:16992/bytes/1000000"
ok "a console on A reaches the moved device (now on C)" \
	cmp -s "$T/moved.get" "$(expected 1000000)"

# ---- C dies ---------------------------------------------------------------------
kill -KILL "${PID[c]}"
t0=$(date +%s%N)
s=$(unreachable dev-c.test)
ok "C dead, its record not yet expired: the owner unreachable, host unreachable in $s s" \
	unreach_ok "$s"
# A connect racing C's death may still reach its dying socket and be
# reset rather than refused: either way A must name C as unreachable.
ok "... and A says why" grep -qE \
	"held by instance mps-c at 127\.0\.0\.1:${PEER[c]}: unreachable: Connection (refused|reset by peer)\$" \
	"$T/a/log/mps.log"
ok "C's devices leave the directory within the TTL" \
	wait_for $((TTL + 2)) sh -c "[ \$(redis-cli -p $RPORT EXISTS mps:dev:$UC mps:dev:$UB) = 0 ]"
diag "gone $(( ($(date +%s%N) - t0) / 1000000 )) ms after SIGKILL (TTL $TTL s)"
s=$(unreachable dev-c.test)
ok "a console on A for C's device: host unreachable in $s s" \
	unreach_ok "$s"
kill -TERM "$SIM_C" "$SIM_B2" 2>/dev/null

# ---- Redis down -----------------------------------------------------------------
on "$T/b" dev-b3 --uuid dddddddd-0000-0000-0000-00000000000d --fqdn dev-d.test
ok "a device on B is in the directory" wait_for 5 r_is mps-b HGET mps:dev:dddddddd-0000-0000-0000-00000000000d instance
curl -s --max-time 30 --socks5-hostname "$SOCKS_A" -o "$T/b3.get" "http://dev-d.test:16992/bytes/100000"
ok "... and reachable through A" cmp -s "$T/b3.get" "$(expected 100000)"
kill -TERM "$REDIS_PID"
wait "$REDIS_PID" 2>/dev/null
ok "A logs the outage" \
	wait_for 5 file_has "$T/a/log/mps.log" "Redis at 127.0.0.1:$RPORT is unreachable"
"$MPSCTL" -c "$T/a/mps.config" cluster >"$T/cluster.down" 2>&1
ok "mpsctl cluster says the directory is unavailable" \
	grep -q "503 the device directory is unavailable" "$T/cluster.down"
s=$(unreachable dev-d.test)
ok "Redis down: a console on A for B's device gets host unreachable in $s s" \
	unreach_ok "$s"
code=$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' -x "$HTTP_A" "http://dev-d.test:16992/")
ok "... and 502 from the HTTP proxy (got $code)" test "$code" = 502
curl -s --max-time 30 --socks5-hostname "$SOCKS_A" -o "$T/own.get" "http://dev-a.test:16992/bytes/$N"
ok "... while A's own device still works byte-exact" test "$(sha "$T/own.get")" = "$want"
ok "A and B are still running" kill -0 "${PID[a]}" "${PID[b]}"
ok "A stops cleanly" stop_pid "${PID[a]}"
ok "B stops cleanly" stop_pid "${PID[b]}"
kill -TERM "$SIM_A" "$SIM_B" 2>/dev/null
done_testing

#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# cluster_directory.sh: three mpsd instances sharing one device directory
# on a real redis-server (issue 14, first step), with the C device
# simulator: devices recorded in Redis (read back with redis-cli); a
# device that moves from instance B to instance C has its old tunnel on B
# closed with reason 11; an instance killed with SIGKILL vanishes from
# Redis within the TTL; Redis stopped (instances keep serving their own
# devices and consoles, log the outage once, nothing hangs) and started
# again empty (every instance writes its devices again).
. "$(dirname "$0")/cluster_lib.sh"

require_peers
require_redis
if ! "$MPSD" -V 2>/dev/null | grep -q . ; then
	echo "1..0 # SKIP mpsd not built"
	exit 0
fi

TTL=3

r_gone() { [ "$(rcli EXISTS "$1")" = 0 ]; }

start_redis || { echo "1..0 # SKIP redis-server did not start"; exit 0; }
start_origin

declare -A PID
for i in a b c; do
	peer=$(free_port)
	make_config "$T/$i" "s|</MPS>|<Directory><Backend>redis</Backend><RedisAddress>127.0.0.1:$RPORT</RedisAddress><InstanceId>mps-$i</InstanceId><PeerAddress>127.0.0.1:$peer</PeerAddress><TTL>$TTL</TTL><RedisTimeout>1</RedisTimeout></Directory></MPS>|"
	start_mpsd "$T/$i" || { echo "Bail out! mpsd $i did not start"; exit 1; }
	PID[$i]=$MPSD_PID
done
ok "three instances started on the redis backend" \
	file_has "$T/c/log/mps.log" "Device directory: Redis at 127.0.0.1:$RPORT as instance mps-c"

UA=aaaaaaaa-0000-0000-0000-000000000001
UB=bbbbbbbb-0000-0000-0000-000000000002
UC=cccccccc-0000-0000-0000-000000000003

# on DIR NAME ARGS...: a simulated device against DIR's instance.
on() {
	local dir=$1
	shift
	console_ports "$dir"
	start_sim "$@"
}

on "$T/a" dev-a --uuid "$UA" --fqdn dev-a.test --duration 120 \
	--target "16992=127.0.0.1:$ORIGIN_PORT"
SIM_A=$SIM_PID
on "$T/b" dev-b --uuid "$UB" --fqdn dev-b.test --duration 120
SIM_B=$SIM_PID
on "$T/c" dev-c --uuid "$UC" --fqdn dev-c.test --duration 120
SIM_C=$SIM_PID

# ---- devices recorded in Redis -------------------------------------------
ok "device on A recorded as held by mps-a" wait_for 5 r_is mps-a HGET "mps:dev:$UA" instance
ok "device on B recorded as held by mps-b" wait_for 5 r_is mps-b HGET "mps:dev:$UB" instance
ok "device on C recorded as held by mps-c" wait_for 5 r_is mps-c HGET "mps:dev:$UC" instance
ok "its FQDN leads to its UUID" r_is "$UA" GET mps:fqdn:dev-a.test
ok "its forwarded ports are recorded" \
	wait_for 5 sh -c "redis-cli -p $RPORT --raw HGET mps:dev:$UA ports | grep -q 16992"
ok "the record names the instance's peer address" \
	r_is "$(conf_value "$T/a" PeerAddress)" HGET "mps:dev:$UA" peer
pttl=$(rcli PTTL "mps:dev:$UA")
ok "the record carries the TTL (${pttl} ms <= ${TTL}000)" \
	test "$pttl" -gt 0 -a "$pttl" -le "${TTL}000"
ok "each instance has its liveness key" \
	test "$(rcli KEYS 'mps:inst:*' | wc -l)" = 3
sleep $((TTL + 1))
ok "records are refreshed past the TTL" r_is mps-a HGET "mps:dev:$UA" instance

# ---- newest wins across instances: B's device reconnects to C ------------
on "$T/c" dev-b2 --uuid "$UB" --fqdn dev-b.test --duration 120
SIM_B2=$SIM_PID
ok "the moved device is recorded as held by mps-c" \
	wait_for 5 r_is mps-c HGET "mps:dev:$UB" instance
ok "B closes its old tunnel with reason 11" \
	wait_for 10 grep -q "disconnected reason=11 .*by=server" "$T/dev-b.out"
ok "B logs the takeover by mps-c" \
	wait_for 5 file_has "$T/b/log/mps.log" "reconnected to instance mps-c"
ok "the generation moved on" r_is 2 HGET "mps:dev:$UB" gen
sleep 1
ok "B's late close left C's record alone" r_is mps-c HGET "mps:dev:$UB" instance
ok "the new tunnel on C is untouched" kill -0 "$SIM_B2"
ok "the new tunnel on C saw no disconnect" sh -c "! grep -q disconnected '$T/dev-b2.out'"

# ---- an instance dies: its devices vanish within the TTL -------------------
kill -KILL "${PID[c]}"
t0=$(date +%s%N)
ok "C's devices are gone from Redis within the TTL after SIGKILL" \
	wait_for $((TTL + 2)) sh -c "[ \$(redis-cli -p $RPORT EXISTS mps:dev:$UC mps:dev:$UB) = 0 ]"
gone_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
diag "C's records expired ${gone_ms} ms after SIGKILL (TTL ${TTL} s)"
ok "so is C's liveness key" r_gone mps:inst:mps-c
ok "A's device is still recorded" r_is mps-a HGET "mps:dev:$UA" instance
kill -TERM "$SIM_C" "$SIM_B2" 2>/dev/null

# ---- Redis down: serve on, log once, resynchronise -------------------------
kill -TERM "$REDIS_PID"
wait "$REDIS_PID" 2>/dev/null
ok "A logs the outage" \
	wait_for 5 file_has "$T/a/log/mps.log" "Redis at 127.0.0.1:$RPORT is unreachable"
ok "A's device stays connected through the outage" kill -0 "$SIM_A"
console_ports "$T/a"
t0=$(date +%s%N)
curl -s --max-time 10 --socks5-hostname "$CONSOLE_USER:$CONSOLE_PASS@127.0.0.1:$SOCKS_PORT" \
	-o "$T/outage.get" "http://dev-a.test:16992/bytes/10000"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
ok "a console reaches A's own device during the outage (${ms} ms)" \
	cmp -s "$T/outage.get" "$(expected 10000)"
on "$T/a" dev-a2 --uuid dddddddd-0000-0000-0000-000000000004 --fqdn dev-d.test --duration 120
ok "a device logs in on A during the outage" grep -q ' failed=0' "$T/dev-a2.ready"
SIM_A2=$SIM_PID
sleep 3
ok "the outage is logged once, not once per retry" \
	test "$(grep -c 'is unreachable' "$T/a/log/mps.log")" = 1
ok "B logged it once too" test "$(grep -c 'is unreachable' "$T/b/log/mps.log")" = 1
start_redis
ok "A logs that Redis is back" \
	wait_for 5 file_has "$T/a/log/mps.log" "Redis at 127.0.0.1:$RPORT is reachable again"
ok "A's device is written again after the restart (resync)" \
	wait_for 5 r_is mps-a HGET "mps:dev:$UA" instance
ok "so is the device that logged in during the outage" \
	wait_for 5 r_is mps-a HGET mps:dev:dddddddd-0000-0000-0000-000000000004 instance
ok "and its name" r_is dddddddd-0000-0000-0000-000000000004 GET mps:fqdn:dev-d.test
ok "A and B are still running" kill -0 "${PID[a]}" "${PID[b]}"

# ---- a clean stop removes the instance's records ---------------------------
kill -TERM "$SIM_A2" 2>/dev/null
wait "$SIM_A2" 2>/dev/null
ok "a device that leaves is removed from Redis" \
	wait_for 5 r_gone mps:dev:dddddddd-0000-0000-0000-000000000004
stop_pid "${PID[a]}"
ok "A stopping removes its devices from Redis at once" r_gone "mps:dev:$UA"
kill -TERM "$SIM_A" 2>/dev/null
done_testing

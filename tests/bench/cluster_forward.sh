#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# cluster_forward.sh [N] [SECONDS] [CONNECTIONS]: a benchmark, not a test
# (issue 14).
#
# A private redis-server and three mpsd instances (A, B, C) on loopback,
# sharing the directory, each with its peer link (mutual TLS, certificates
# of a CA made here). Measures:
#
#   1. logins per second: three simulators log N devices (TLS, APF
#      password login, port forwards) into each instance at once, each
#      started RATE per second (default 100: 3,000 connects at once
#      overflow the listen backlogs on a loaded 2-core machine); the time
#      until all 3 x N are ready, and the directory holds 3 x N.
#   2. the latency a console pays when served through another instance,
#      beside the same load through the owner: tests/bench/socks_load,
#      CONNECTIONS keep-alive SOCKS connections (default 10) doing
#      "GET /small" for SECONDS (default 5) to C's devices, first through
#      C's own SOCKS port, then through A's (forwarded to C); p50/p99 per
#      request. Then a new connection per request (SOCKS, link, channel,
#      one GET: what a console that does not keep its connection pays),
#      100 curl runs through C and through A, p50/p99 of curl's
#      time_total.
#
# The machine is shared: the load average is printed with the figures.
# Run from a built tree: tests/bench/cluster_forward.sh 1000 5 10
set -eo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD:-$top/build}
N=${1:-1000}
RATE=${RATE:-100}
secs=${2:-5}
conns=${3:-10}
for p in server/mpsd tests/sim/amtsim tests/peers/origin_http tests/bench/socks_load; do
	if [ ! -x "$build/$p" ]; then
		echo "build first: $build/$p (make -C $build all check TESTS=)" >&2
		exit 2
	fi
done
command -v redis-server >/dev/null || { echo "redis-server not installed" >&2; exit 2; }
LOAD=$build/tests/bench/socks_load
export top_srcdir=$top top_builddir=$build
# shellcheck source=../integration/console_lib.sh
. "$top/tests/integration/console_lib.sh"

load() { cut -d' ' -f1-3 /proc/loadavg; }

RPORT=$(free_port)
redis-server --port "$RPORT" --bind 127.0.0.1 --save "" --appendonly no \
	--loglevel warning >"$T/redis.log" 2>&1 &
track $!
wait_for 10 sh -c "redis-cli -p $RPORT ping 2>/dev/null | grep -q PONG" || exit 1

d=$T/peers
mkdir -p "$d"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/ca.key" -out "$d/ca.pem" \
	-days 2 -subj "/CN=bench peers CA" 2>/dev/null
printf 'basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth,clientAuth\n' >"$d/ext"
for i in a b c; do
	openssl req -newkey rsa:2048 -nodes -keyout "$d/$i.key" -out "$d/$i.csr" \
		-subj "/CN=mps-$i" 2>/dev/null
	openssl x509 -req -in "$d/$i.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" \
		-CAcreateserial -out "$d/$i.pem" -days 2 -extfile "$d/ext" 2>/dev/null
done

big=$((N + conns + 200))
LIMITS="<Limits><MaxConnections>$((N + 100))</MaxConnections><MaxPreAuthConnections>$big</MaxPreAuthConnections><MaxPreAuthPerAddress>$big</MaxPreAuthPerAddress><PreAuthDropStart>$big</PreAuthDropStart><MaxChannelsPerDevice>64</MaxChannelsPerDevice><MaxConsoles>$big</MaxConsoles></Limits>"
declare -A PEER
for i in a b c; do
	PEER[$i]=$(free_port)
	make_config "$T/$i" "s|</MPS>|$LIMITS<Directory><Backend>redis</Backend><RedisAddress>127.0.0.1:$RPORT</RedisAddress><InstanceId>mps-$i</InstanceId><PeerAddress>127.0.0.1:${PEER[$i]}</PeerAddress><PeerListenIP>127.0.0.1</PeerListenIP><PeerListenPort>${PEER[$i]}</PeerListenPort><PeerCertFile>$d/$i.pem</PeerCertFile><PeerKeyFile>$d/$i.key</PeerKeyFile><PeerCAFile>$d/ca.pem</PeerCAFile></Directory></MPS>|"
	set_trace_levels "$T/$i" "ERROR|WARNING"
	start_mpsd "$T/$i" || { cat "$T/$i/stderr" >&2; exit 1; }
done
start_origin --quiet || { echo "origin_http did not start" >&2; exit 1; }

# ---- 1. logins per second ------------------------------------------------------
echo "# load average before: $(load)"
t0=$(date +%s%N)
k=0
for i in a b c; do
	console_ports "$T/$i"
	rm -f "$T/sim-$i.ready"
	"$SIM" --port "$AMT_PORT" --ca "$T/certs/ca.pem" --server-name localhost \
		--ready-file "$T/sim-$i.ready" --count "$N" --first-index $((k * N)) \
		--ports 16992 --target "16992=127.0.0.1:$ORIGIN_PORT" --rate "$RATE" \
		>"$T/sim-$i.out" 2>&1 &
	track $!
	k=$((k + 1))
done
wait_for 600 sh -c "test -f '$T/sim-a.ready' && test -f '$T/sim-b.ready' && test -f '$T/sim-c.ready'" ||
	{ echo "the devices did not all log in" >&2; tail -3 "$T"/sim-*.out >&2; exit 1; }
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
cat "$T"/sim-*.ready | sed 's/^/# /'
wait_for 30 sh -c "[ \$(redis-cli -p $RPORT --raw EVAL \"return #redis.call('keys','mps:dev:*')\" 0) -ge $((3 * N)) ]" || true
indir=$(redis-cli -p "$RPORT" --raw EVAL "return #redis.call('keys','mps:dev:*')" 0)
awk -v n=$((3 * N)) -v ms="$ms" -v dir="$indir" -v l="$(load)" -v r="$RATE" 'BEGIN {
	printf "logins: %d devices over 3 instances in %.2f s = %.0f logins/s (offered %d/s; directory holds %d; load %s)\n",
	    n, ms / 1000, n / (ms / 1000), 3 * r, dir, l }'
grep -q ' failed=0 ' "$T/sim-a.ready" && grep -q ' failed=0 ' "$T/sim-b.ready" &&
	grep -q ' failed=0 ' "$T/sim-c.ready" || echo "WARNING: some devices failed (above)"

# ---- 2. latency through the owner and through another instance -----------------
console_ports "$T/c"
SC=$SOCKS_PORT
console_ports "$T/a"
SA=$SOCKS_PORT
first=$((2 * N))
devs=$(( conns < N ? conns : N ))
field() { awk -v k="$2" '$1 == "latency_ms" { for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) print kv[2] } }' "$1"; }
run_load() {
	"$LOAD" --socks "127.0.0.1:$1" --user "$CONSOLE_USER" --pass "$CONSOLE_PASS" \
		--target 'dev-%d.amt.test:16992' --first "$first" --devices "$devs" \
		--connections "$conns" --duration "$secs" --path /small >"$2" || true
}
run_load "$SC" "$T/owner.out"
l1=$(load)
run_load "$SA" "$T/forwarded.out"
l2=$(load)
echo "keep-alive: $conns SOCKS connections to $devs of C's devices, GET /small, $secs s each"
echo "  through C (the owner), load $l1:"
sed 's/^/    /' "$T/owner.out"
echo "  through A (forwarded to C over the peer link), load $l2:"
sed 's/^/    /' "$T/forwarded.out"
awk -v o50="$(field "$T/owner.out" p50)" -v o99="$(field "$T/owner.out" p99)" \
    -v f50="$(field "$T/forwarded.out" p50)" -v f99="$(field "$T/forwarded.out" p99)" 'BEGIN {
	printf "  added by the forwarding, per request: p50 %+.3f ms, p99 %+.3f ms\n", f50 - o50, f99 - o99 }'

# pct FILE P: the P-th percentile of the numbers in FILE (seconds -> ms).
pct() { sort -n "$1" | awk -v p="$2" '{ a[NR] = $1 } END { i = int(NR * p / 100 + 0.999); if (i < 1) i = 1; printf "%.2f", a[i] * 1000 }'; }
one_by_one() {
	local port=$1 out=$2 i
	: >"$out"
	for i in $(seq 100); do
		curl -s --max-time 10 --socks5-hostname "$CONSOLE_USER:$CONSOLE_PASS@127.0.0.1:$port" \
			-o /dev/null -w '%{time_total}\n' "http://dev-$((first + i % devs)).amt.test:16992/small" >>"$out"
	done
}
one_by_one "$SC" "$T/new-owner"
l1=$(load)
one_by_one "$SA" "$T/new-forwarded"
l2=$(load)
echo "a new connection per request (SOCKS + channel + GET /small), 100 curl runs each:"
echo "  through C: p50 $(pct "$T/new-owner" 50) ms, p99 $(pct "$T/new-owner" 99) ms (load $l1)"
echo "  through A: p50 $(pct "$T/new-forwarded" 50) ms, p99 $(pct "$T/new-forwarded" 99) ms (load $l2)"
awk -v o="$(pct "$T/new-owner" 50)" -v f="$(pct "$T/new-forwarded" 50)" \
    -v o9="$(pct "$T/new-owner" 99)" -v f9="$(pct "$T/new-forwarded" 99)" 'BEGIN {
	printf "  added by the forwarding (link TLS handshake + one round trip): p50 %+.2f ms, p99 %+.2f ms\n", f - o, f9 - o9 }'

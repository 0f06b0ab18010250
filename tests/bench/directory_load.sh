#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# directory_load.sh [DEVICES]: the Redis directory backend's write rate
# (issue 14). Starts a private redis-server on a free loopback port and
# runs tests/bench/directory_load: DEVICES (20000) claims, then as many
# refresh writes; prints writes/s and what record() costs its caller.
. "$(dirname "$0")/../integration/lib.sh"
BUILD=${BUILD:-$top_builddir}
N=${1:-20000}
command -v redis-server >/dev/null || { echo "redis-server not installed"; exit 1; }
port=$(free_port)
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
	--loglevel warning >"$T/redis.log" 2>&1 &
track $!
wait_for 10 sh -c "redis-cli -p $port ping 2>/dev/null | grep -q PONG" || exit 1
echo "# load average: $(cut -d' ' -f1-3 /proc/loadavg)"
"$BUILD/tests/bench/directory_load" "$port" "$N"
echo "# keys in Redis: $(redis-cli -p "$port" DBSIZE)"

# shellcheck shell=bash
# SPDX-License-Identifier: Apache-2.0
# cluster_lib.sh: what the scripts with several instances and a real
# redis-server share (cluster_directory.sh, cluster_forward.sh,
# balancer_haproxy.sh), on top of console_lib.sh.
. "$(dirname "${BASH_SOURCE[0]}")/console_lib.sh"

# Skips the whole script (TAP "1..0") without redis-server and redis-cli.
require_redis() {
	if ! command -v redis-server >/dev/null ||
	    ! command -v redis-cli >/dev/null; then
		echo "1..0 # SKIP redis-server or redis-cli not installed (apt-get install redis-server)"
		exit 0
	fi
}

RPORT=$(free_port)

# A private redis-server on 127.0.0.1:$RPORT, nothing saved, stopped by
# PID with the script (REDIS_PID: kill it to test an outage, call this
# again to bring it back). Fails when it does not answer within 10 s.
start_redis() {
	redis-server --port "$RPORT" --bind 127.0.0.1 --save "" \
		--appendonly no --loglevel warning >>"$T/redis.log" 2>&1 &
	REDIS_PID=$!
	track "$REDIS_PID"
	wait_for 10 sh -c "redis-cli -p $RPORT ping 2>/dev/null | grep -q PONG"
}
rcli() { redis-cli -p "$RPORT" --raw "$@" 2>/dev/null; }
# r_is EXPECTED ARGS...: redis-cli ARGS prints exactly EXPECTED.
r_is() { local want=$1; shift; [ "$(rcli "$@")" = "$want" ]; }

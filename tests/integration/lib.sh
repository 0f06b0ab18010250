# shellcheck shell=bash
# SPDX-License-Identifier: Apache-2.0
# lib.sh: shared helpers for mpsd's integration scripts (bash).
#
# Each script sources this, gets a private temporary directory $T, prints
# TAP ("ok N - what" / "not ok N - what", then "1..N"), and starts real
# processes whose PIDs are recorded and stopped on exit, whatever happens.
# Ports are picked at run time and never assumed free.
set -u

top_srcdir=${top_srcdir:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
MPSD=${MPSD:-$top_builddir/server/mpsd}

# SANITIZER: what mpsd was built with, "thread" (ThreadSanitizer),
# "address" (ASan and UBSan) or empty. Under a sanitizer, time and memory
# figures measure the sanitizer as much as mpsd (ThreadSanitizer runs our
# code 5 to 15 times slower, ASan about twice; both keep shadow memory).
# So a test stretches its deadlines by SLOW, scales a load test down where
# it says so, and skips RSS ceilings and latency figures (with skip, which
# names the reason); what it asserts about behaviour stays the same.
case $(ldd "$MPSD" 2>/dev/null) in
*libtsan*) SANITIZER=thread SLOW=4 ;;
*libasan*) SANITIZER=address SLOW=2 ;;
*) SANITIZER='' SLOW=1 ;;
esac

T=$(mktemp -d "${TMPDIR:-/tmp}/mpsd-test.XXXXXX")
_tap_n=0
_tap_failed=0
_pids=()

_cleanup() {
	local p
	# Only the script itself cleans up: a subshell (a command
	# substitution, a background group) that exits, or is killed right
	# after its fork, may still hold this trap.
	[ "$BASHPID" = "$$" ] || return 0
	set +e	# a caller's errexit must not cut the cleanup short
	for p in "${_pids[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in "${_pids[@]}"; do
		# Give each a moment, then insist.
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$p" 2>/dev/null
	done
	if [ "${KEEP_TMP:-0}" = 1 ] || [ $_tap_failed -ne 0 ]; then
		echo "# kept $T"
	else
		rm -rf "$T"
	fi
}
trap _cleanup EXIT

# ok DESCRIPTION COMMAND...: one assertion.
ok() {
	local desc=$1
	shift
	_tap_n=$((_tap_n + 1))
	if "$@"; then
		echo "ok $_tap_n - $desc"
	else
		echo "not ok $_tap_n - $desc"
		_tap_failed=$((_tap_failed + 1))
	fi
}

# diag TEXT: a TAP comment.
diag() { echo "# $*"; }

# done_testing: the TAP plan, and the exit status.
done_testing() {
	echo "1..$_tap_n"
	[ $_tap_failed -eq 0 ]
	exit $?
}

# track PID: stop it at exit.
track() { _pids+=("$1"); }

# port_in_use PORT: any TCP socket (listening or connected) holds PORT.
port_in_use() {
	local hex
	hex=$(printf '%04X' "$1")
	awk -v h=":$hex" 'NR > 1 && substr($2, length($2) - 4) == h { found = 1 }
		END { exit !found }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# free_port: a TCP port nothing holds now, below the kernel's ephemeral
# range (so that no outgoing connection can take it meanwhile), random so
# that parallel tests rarely collide; start_mpsd copes with a lost race.
free_port() {
	local low p
	low=$(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null)
	[ -n "$low" ] && [ "$low" -gt 12000 ] || low=32768
	while :; do
		p=$((10000 + RANDOM % (low - 10000)))
		port_in_use "$p" || { echo "$p"; return; }
	done
}

# wait_for TIMEOUT_S COMMAND...: poll until COMMAND succeeds.
wait_for() {
	local limit=$(( $1 * 10 ))
	shift
	local i=0
	while [ $i -lt $limit ]; do
		"$@" && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

# skip DESCRIPTION REASON: an assertion that cannot run here.
skip() {
	_tap_n=$((_tap_n + 1))
	echo "ok $_tap_n - $1 # SKIP $2"
}

# amt_port DIR: the AMTListenPort of DIR/mps.config.
amt_port() { sed -n 's|.*<AMTListenPort>\([0-9]*\)<.*|\1|p' "$1/mps.config"; }

# start_peer NAME SCRIPT ARGS...: tests/peers/SCRIPT (Python), which
# saves what it receives as $T/NAME.N and prints its port first; sets
# PEER_PORT.
start_peer() {
	local name=$1 script=$2
	shift 2
	"${PYTHON:-python3}" "$top_srcdir/tests/peers/$script" "$T/$name" "$@" \
		>"$T/$name.port" 2>"$T/$name.log" &
	track $!
	wait_for 10 test -s "$T/$name.port" || return 1
	PEER_PORT=$(head -n 1 "$T/$name.port")
}

# saved NAME: how many whole $T/NAME.N files a peer has saved.
saved() { find "$T" -maxdepth 1 -regex ".*/$1\.[0-9]+" | wc -l; }

# file_has FILE TEXT: FILE contains the fixed string TEXT.
file_has() { [ -f "$1" ] && grep -qF -- "$2" "$1"; }
# dev_re FQDN: an extended regex for how every log line names a device
# that announced FQDN: "fqdn (uuid)".
dev_re() { printf '%s \\([0-9A-Fa-f-]{36}\\)' "${1//./\\.}"; }
# log_has_dev FILE BEFORE FQDN AFTER: FILE has the fixed texts BEFORE and
# AFTER around the device FQDN named as dev_re says.
log_has_dev() {
	local b a
	b=$(printf '%s' "$2" | sed 's/[][\.*^$(){}+?|]/\\&/g')
	a=$(printf '%s' "$4" | sed 's/[][\.*^$(){}+?|]/\\&/g')
	[ -f "$1" ] && grep -qE -- "$b$(dev_re "$3")$a" "$1"
}
file_lacks() { ! file_has "$1" "$2"; }

# test_certs: a CA, server chain and device certificate made once per
# script by mps-certgen (what the demo uses) in $T/certs, printed.
test_certs() {
	if [ ! -f "$T/certs/server-chain.pem" ]; then
		"$top_srcdir/scripts/mps-certgen" -q -o "$T/certs" --cn localhost \
			--device test-device >/dev/null || return 1
	fi
	echo "$T/certs"
}

# make_config DIR [sed expressions...]: the demo configuration
# (config/demo), with its paths and ports made private to this test:
# log in DIR/log, lock and pid in DIR, plugins from the build tree,
# account files and lists from the source tree, certificates from
# test_certs, fresh ports.
# Extra sed expressions are applied last.
make_config() {
	local dir=$1
	shift
	mkdir -p "$dir/log"
	# In this shell, not a $(...) subshell: the certificates must be
	# made once, and a subshell's exit must not run our cleanup.
	test_certs >/dev/null || return 1
	local amt socks http
	amt=$(free_port); socks=$(free_port); http=$(free_port)
	local sedargs=(
		-e "s|<AMTListenPort>[^<]*<|<AMTListenPort>$amt<|"
		-e "s|<SocksListenPort>[^<]*<|<SocksListenPort>$socks<|"
		-e "s|<HttpListenPort>[^<]*<|<HttpListenPort>$http<|"
		-e "s|<LogFilePath>[^<]*<|<LogFilePath>$dir/log<|"
		-e "s|<PluginDir>[^<]*<|<PluginDir>$top_builddir/plugins<|"
		-e "s|<PidFile>[^<]*<|<PidFile>$dir/mpsd.pid<|"
		-e "s|<LockFile>[^<]*<|<LockFile>$dir/mpsd.lock<|"
		-e "s|<DllParameters>AMTAuthFile.txt<|<DllParameters>$top_srcdir/config/demo/AMTAuthFile.txt<|"
		-e "s|<DllParameters>SocksAuthFile.txt<|<DllParameters>$top_srcdir/config/demo/SocksAuthFile.txt<|"
		-e "s|\.\./\.\./demo/certs|$T/certs|g"
	)
	local e
	for e in "$@"; do
		sedargs+=(-e "$e")
	done
	sed "${sedargs[@]}" "$top_srcdir/config/demo/mps.config" >"$dir/mps.config"
	cp "$top_srcdir/config/demo/mps_dynamic.config" \
	   "$top_srcdir/config/demo/NotificationList.config" \
	   "$top_srcdir/config/demo/AuthorizedServersList.config" "$dir/"
}

# set_trace_levels DIR LEVELS: rewrite DIR/mps_dynamic.config.
set_trace_levels() {
	printf '<MPS_Dynamic><TraceLevels>%s</TraceLevels></MPS_Dynamic>\n' "$2" \
		>"$1/mps_dynamic.config"
}

# start_mpsd DIR [args...]: mpsd -f on DIR/mps.config, output in
# DIR/stdout and DIR/stderr; sets MPSD_PID; waits for the start line.
start_mpsd() {
	local dir=$1 _
	shift
	for _ in 1 2 3; do
		"$MPSD" -f -c "$dir/mps.config" "$@" >"$dir/stdout" 2>"$dir/stderr" &
		MPSD_PID=$!
		track "$MPSD_PID"
		wait_for 10 sh -c "grep -qF 'MPS has started its operation.' '$dir/log/mps.log' 2>/dev/null || ! kill -0 $MPSD_PID 2>/dev/null"
		file_has "$dir/log/mps.log" "MPS has started its operation." && return 0
		# Another test took a port between our probe and the bind:
		# pick new ones and try again.
		file_has "$dir/stderr" "Address already in use" || return 1
		sed -i -e "s|<AMTListenPort>[^<]*<|<AMTListenPort>$(free_port)<|" \
			-e "s|<SocksListenPort>[^<]*<|<SocksListenPort>$(free_port)<|" \
			-e "s|<HttpListenPort>[^<]*<|<HttpListenPort>$(free_port)<|" \
			"$dir/mps.config"
	done
	return 1
}

# stop_pid PID: SIGTERM a child of this shell and return its exit
# status (killed after 10 s if it does not stop). No helper subshell: the
# child is watched through /proc (a zombie counts as gone).
stop_pid() {
	local pid=$1 state _
	kill -TERM "$pid" 2>/dev/null || return 1
	for _ in $(seq 100); do
		state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)
		[ -z "$state" ] || [ "$state" = Z ] && break
		sleep 0.1
	done
	[ -z "$state" ] || [ "$state" = Z ] || kill -KILL "$pid" 2>/dev/null
	wait "$pid"
}

# stop_daemon PID: SIGTERM a process that is not our child and wait for
# it to disappear.
stop_daemon() {
	kill -TERM "$1" 2>/dev/null || return 1
	wait_for 10 sh -c "! kill -0 $1 2>/dev/null"
}

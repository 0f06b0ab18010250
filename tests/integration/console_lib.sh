# shellcheck shell=bash
# SPDX-License-Identifier: Apache-2.0
# console_lib.sh: what the console-side scripts (console_*.sh) share on
# top of lib.sh: the peers (tests/peers: origin_http, bytepump,
# socks_probe.py), simulated devices whose channels lead to them, and
# console tools (curl) pointed at mpsd's SOCKS and HTTP proxy ports.
#
# A script sources this, makes a configuration with make_config, starts
# mpsd with start_mpsd, then calls console_ports DIR to learn its ports.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SIM=$top_builddir/tests/sim/amtsim
ORIGIN=$top_builddir/tests/peers/origin_http
BYTEPUMP=$top_builddir/tests/peers/bytepump
PROBE_PY=$top_srcdir/tests/peers/socks_probe.py
PYTHON=${PYTHON:-python3}	# socks_probe.py needs only the stdlib

# The console account of config/demo/SocksAuthFile.txt (what the demo uses).
CONSOLE_USER=console
CONSOLE_PASS=console-demo


# require_peers: skip the whole script when the programs it drives are
# not built (make check builds them).
require_peers() {
	local p
	for p in "$SIM" "$ORIGIN" "$BYTEPUMP" "$MPSD"; do
		if [ ! -x "$p" ]; then
			echo "1..0 # SKIP $p not built (make check builds it)"
			exit 0
		fi
	done
	if ! "$PYTHON" -c 'import socket' 2>/dev/null; then
		echo "1..0 # SKIP no $PYTHON for socks_probe.py"
		exit 0
	fi
}

# conf_value DIR ELEMENT: the value of <ELEMENT> in DIR/mps.config.
conf_value() { sed -n "s|.*<$2>\([^<]*\)<.*|\1|p" "$1/mps.config" | head -n 1; }

# console_ports DIR: AMT_PORT, SOCKS_PORT and HTTP_PORT of DIR's mpsd.
console_ports() {
	AMT_PORT=$(conf_value "$1" AMTListenPort)
	SOCKS_PORT=$(conf_value "$1" SocksListenPort)
	HTTP_PORT=$(conf_value "$1" HttpListenPort)
}

# socks_auth_off: a make_config expression that turns console
# authentication off (the SOCKS method is then 0x00).
SOCKS_AUTH_OFF='/<Socks_Authenticate>/,/<\/Socks_Authenticate>/s|<NeedAuthentication>true<|<NeedAuthentication>false<|'

# tunnel_settings XML: a make_config expression that adds XML (e.g.
# <Tunnel>...</Tunnel><Limits>...</Limits>) to mps.config.
tunnel_settings() { echo "s|</MPS>|$1</MPS>|"; }

# start_origin [--quiet]: the AMT web server stand-in; ORIGIN_PORT,
# ORIGIN_LOG (one line per request, unless --quiet: for benchmarks).
start_origin() {
	local logargs=(--log "$T/origin.log")
	[ "${1:-}" = --quiet ] && logargs=()
	ORIGIN_LOG=$T/origin.log
	"$ORIGIN" "${logargs[@]}" >"$T/origin.port" 2>"$T/origin.err" &
	ORIGIN_PID=$!
	track "$ORIGIN_PID"
	wait_for 10 test -s "$T/origin.port" || return 1
	ORIGIN_PORT=$(head -n 1 "$T/origin.port")
}

# start_sim NAME ARGS...: amtsim against the mpsd of console_ports, output
# in $T/NAME.out; waits until every device has forwarded its ports.
# SIM_PID is the simulator; returns 1 if a device failed.
start_sim() {
	local name=$1
	shift
	rm -f "$T/$name.ready"
	"$SIM" --port "$AMT_PORT" --ca "$T/certs/ca.pem" \
		--server-name localhost --ready-file "$T/$name.ready" "$@" \
		>"$T/$name.out" 2>&1 &
	SIM_PID=$!
	track "$SIM_PID"
	wait_for 30 test -f "$T/$name.ready" || return 1
	grep -q ' failed=0' "$T/$name.ready"
}

# start_serve NAME ARGS...: bytepump --serve (one connection), output in
# $T/NAME.out; SERVE_PORT, SERVE_PID.
start_serve() {
	local name=$1
	shift
	"$BYTEPUMP" --serve "$@" >"$T/$name.out" 2>"$T/$name.err" &
	SERVE_PID=$!
	track "$SERVE_PID"
	wait_for 10 test -s "$T/$name.out" || return 1
	SERVE_PORT=$(head -n 1 "$T/$name.out")
}

# start_blackhole: a TCP port whose connects never complete (a listener
# with a full backlog, never accepting): a device channel to it can be
# neither confirmed nor refused in time. BLACKHOLE_PORT.
start_blackhole() {
	"$PYTHON" -c '
import socket, time
l = socket.socket()
l.bind(("127.0.0.1", 0))
l.listen(0)
port = l.getsockname()[1]
fill = []
for _ in range(3):
    s = socket.socket()
    s.setblocking(False)
    try:
        s.connect(("127.0.0.1", port))
    except BlockingIOError:
        pass
    fill.append(s)
time.sleep(0.3)
print(port, flush=True)
time.sleep(3600)
' >"$T/blackhole.port" </dev/null &
	track $!
	wait_for 10 test -s "$T/blackhole.port" || return 1
	BLACKHOLE_PORT=$(head -n 1 "$T/blackhole.port")
}

# expected N: the file holding the N bytes origin_http serves at
# /bytes/N and /chunked/N (made once).
expected() {
	local f=$T/expect-$1
	[ -f "$f" ] || "$ORIGIN" --dump-bytes "$1" >"$f"
	echo "$f"
}

# random_file NAME BYTES: BYTES random bytes in $T/NAME, printed.
random_file() {
	head -c "$2" /dev/urandom >"$T/$1"
	echo "$T/$1"
}

# socks_curl ARGS...: curl through mpsd's SOCKS port, the device name
# resolved by mpsd (what consoles do), with the console account.
socks_curl() {
	curl -sS --max-time 30 --socks5-hostname "127.0.0.1:$SOCKS_PORT" \
		--proxy-user "$CONSOLE_USER:$CONSOLE_PASS" "$@"
}

# http_curl ARGS...: curl through mpsd's HTTP proxy port, with the
# console account (add -p for CONNECT).
http_curl() {
	curl -sS --max-time 30 -x "http://127.0.0.1:$HTTP_PORT" \
		--proxy-user "$CONSOLE_USER:$CONSOLE_PASS" "$@"
}

# probe ARGS...: socks_probe.py against mpsd's SOCKS port.
probe() { "$PYTHON" "$PROBE_PY" --proxy "127.0.0.1:$SOCKS_PORT" "$@"; }

# same_file A B: the files are identical (cmp says where they differ).
same_file() { cmp "$1" "$2" >&2; }

# count_lines FILE PATTERN: lines matching the extended regex.
count_lines() { grep -cE -- "$2" "$1" 2>/dev/null || true; }

# channel_opened_re FQDN: the guide's channel line for FQDN and a console
# on 127.0.0.1 (the device named "fqdn (uuid)", as every line names it).
channel_opened_re() {
	local f=${1//./\\.}
	echo "Channel between Intel remote client $f \([0-9A-Fa-f-]{36}\) and management console 127\.0\.0\.1 opened\. Channel ID \[[0-9]+:[0-9]+\]"
}
CONSOLE_SHUTDOWN='[127.0.0.1] management console has shutdown'

# rss_kb PID: resident set size of PID in KiB.
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }

# rss_watch PID FILE: samples PID's VmRSS every 50 ms into FILE (one
# value a line) until PID ends or the sampler is killed; RSS_WATCH_PID.
rss_watch() {
	local pid=$1 out=$2
	(
		while kill -0 "$pid" 2>/dev/null; do
			rss_kb "$pid"
			sleep 0.05
		done
	) >"$out" &
	RSS_WATCH_PID=$!
	track "$RSS_WATCH_PID"
}

# max_of FILE: the largest number in FILE (one a line).
max_of() { sort -n "$1" | tail -n 1; }

# sim_has NAME PATTERN: the simulator output NAME has a line matching
# the extended regex.
sim_has() { grep -qE -- "$2" "$T/$1.out"; }

# still_running PID: PID is alive and not a zombie.
still_running() {
	local state
	state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)
	[ -n "$state" ] && [ "$state" != Z ]
}

# The admin API in a test's configuration:
# admin_settings PORT: the <Admin> element that turns it on at PORT, with
# the token in admin.token (next to mps.config);
# admin_token DIR: writes DIR's token (mode 600) and sets TOKEN;
# metric NAME: NAME's sample in /metrics of the API at ADMIN_PORT, NAME
# with its labels as written (nothing when absent).
admin_settings() {
	echo "<Admin><Enabled>true</Enabled><ListenPort>$1</ListenPort><TokenFile>admin.token</TokenFile></Admin>"
}
admin_token() {
	openssl rand -hex 24 >"$1/admin.token"
	chmod 600 "$1/admin.token"
	TOKEN=$(cat "$1/admin.token")
}
metric() {
	curl -sS --max-time 10 -H "Authorization: Bearer $TOKEN" \
		"http://127.0.0.1:$ADMIN_PORT/metrics" | awk -v k="$1" '$1 == k { print $2 }'
}

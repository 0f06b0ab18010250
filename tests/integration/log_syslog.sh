#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# log_syslog.sh: <Logger><Target>syslog</Target> sends the log to
# syslog(3) (ident mpsd, facility daemon, the level as the priority) and
# opens no log file. glibc's syslog() writes datagrams to /dev/log: in a
# private mount namespace (unshare -m, root only) /dev is replaced by a
# directory holding the usual device nodes and a UNIX datagram socket
# this script listens on, so the real host's syslog never sees the test
# and the test sees exactly what mpsd sent.
. "$(dirname "$0")/lib.sh"

SIM=$top_builddir/tests/sim/amtsim
certs=$(test_certs)
UUID=5ea10c9e-0000-4000-8000-00000000beef
FQDN=syslog-dev.amt.test

if [ "$(id -u)" != 0 ] || ! unshare -m true 2>/dev/null; then
	skip "syslog target" "needs root and unshare -m for a private /dev/log"
	done_testing
	exit 0
fi

A=$T/a
make_config "$A" "s|</Logger>|<Target>syslog</Target></Logger>|"
"$MPSD" -t -c "$A/mps.config" >"$T/t.out" 2>&1
ok "mpsd -t accepts <Target>syslog" grep -q "is OK" "$T/t.out"

# The fake /dev: device nodes bound from the real one, and the socket.
D=$T/dev
mkdir -p "$D"
"${PYTHON:-python3}" - "$D/log" "$T/syslog.out" <<'EOF' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "ab", buffering=0) as out:
    while True:
        out.write(s.recv(65536).replace(b"\n", b" ") + b"\n")
EOF
track $!
ok "a datagram listener stands in for /dev/log" wait_for 5 test -S "$D/log"

# unshare execs mpsd in the end (no fork): $! is mpsd's pid.
unshare -m --propagation private bash -c '
	d=$1; shift
	for n in null zero full random urandom tty; do
		touch "$d/$n" && mount --bind "/dev/$n" "$d/$n" 2>/dev/null || true
	done
	ln -s /proc/self/fd "$d/fd"
	mount --bind "$d" /dev || exit 111
	exec "$@"' _ "$D" "$MPSD" -f -c "$A/mps.config" >"$A/stdout" 2>"$A/stderr" &
MPSD_PID=$!
track "$MPSD_PID"
out=$T/syslog.out
ok "mpsd starts and says so in syslog" \
	wait_for 10 file_has "$out" "MPS has started its operation."
# <30>: facility daemon (3 << 3) and priority info (6).
ok "... as mpsd[pid], facility daemon, priority info" \
	grep -qE "^<30>.* mpsd\[$MPSD_PID\]: MPS has started its operation\." "$out"
ok "... without mpsd's own time stamp and level (syslog has its own)" \
	bash -c "! grep -q 'LM INFO' '$out'"
ok "no log file is opened" test ! -e "$A/log/mps.log"

"$SIM" --port "$(amt_port "$A")" --ca "$certs/ca.pem" --server-name localhost \
	--uuid "$UUID" --fqdn "$FQDN" --duration 1 >"$T/sim.out" 2>&1
ok "a device logs in and leaves (sim exit 0)" test $? -eq 0
ok "its lines reach syslog, the device named fqdn (uuid)" \
	wait_for 5 grep -qE "^<30>.* mpsd\[$MPSD_PID\]: Intel remote client $(dev_re "$FQDN") started port forwarding" "$out"
ok "... and its disconnect" \
	wait_for 5 log_has_dev "$out" "[" "$FQDN" "] Intel remote client has disconnected"

# A wrong password: a WARNING, priority warning (<28>).
"$SIM" --port "$(amt_port "$A")" --ca "$certs/ca.pem" --server-name localhost \
	--uuid "$UUID" --fqdn "$FQDN" --pass wrong --duration 1 \
	>"$T/sim2.out" 2>&1
ok "a WARNING goes out with priority warning" \
	wait_for 5 grep -qE "^<28>.* mpsd\[$MPSD_PID\]: " "$out"

kill -HUP "$MPSD_PID"
sleep 0.5
ok "SIGHUP (no file to reopen) leaves mpsd running" kill -0 "$MPSD_PID"
stop_pid "$MPSD_PID"
ok "SIGTERM stops it with status 0" test $? -eq 0
ok "still no log file" test ! -e "$A/log/mps.log"

done_testing

#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# systemd_unit.sh: the unit file passes "systemd-analyze verify" and scores
# at most 2.5 in "systemd-analyze security"; sysusers.d makes user mpsd
# and tmpfiles.d its directories (in a scratch root); mpsd tells systemd
# READY=1, STATUS= with the device count and STOPPING=1 over
# $NOTIFY_SOCKET (when built with libsystemd).
. "$(dirname "$0")/lib.sh"

unit_in=$top_builddir/config/mpsd.service
if ! command -v systemd-analyze >/dev/null; then
	skip "systemd unit checks" "systemd-analyze is not installed"
else
	# The unit as installed, but running this build's mpsd (verify
	# checks that the commands exist).
	mkdir -p "$T/unit"
	sed -e "s|^\(Exec[A-Za-z]*=\)[^ ]*/mpsd |\1$MPSD |" "$unit_in" >"$T/unit/mpsd.service"
	systemd-analyze verify --man=no "$T/unit/mpsd.service" >"$T/verify.out" 2>&1
	ok "systemd-analyze verify accepts the unit" test $? -eq 0
	ok "without a warning" test ! -s "$T/verify.out"
	systemd-analyze security --offline=yes "$T/unit/mpsd.service" >"$T/security.out" 2>&1
	score=$(sed -n 's/.*Overall exposure level for mpsd.service: \([0-9.]*\).*/\1/p' "$T/security.out")
	diag "systemd-analyze security: ${score:-none}"
	ok "systemd-analyze security scores it at most 2.5" \
		awk -v s="$score" 'BEGIN { exit !(s != "" && s <= 2.5) }'
	for kv in Type=notify User=mpsd "ExecReload=/bin/kill -HUP \$MAINPID" \
		RuntimeDirectory=mpsd LogsDirectory=mpsd "CapabilityBoundingSet=" \
		"SystemCallFilter=@system-service"; do
		ok "the unit has $kv" grep -qxF -- "$kv" "$unit_in"
	done
fi

if command -v systemd-sysusers >/dev/null && command -v systemd-tmpfiles >/dev/null; then
	R=$T/root
	mkdir -p "$R/etc"
	systemd-sysusers --root="$R" "$top_builddir/config/sysusers.d/mpsd.conf" >/dev/null 2>&1
	ok "sysusers.d makes the system user mpsd" grep -q '^mpsd:x:[0-9]*:[0-9]*:.*:/usr/sbin/nologin$' "$R/etc/passwd"
	ok "and its group" grep -q '^mpsd:x:' "$R/etc/group"
	systemd-tmpfiles --create --root="$R" "$top_builddir/config/tmpfiles.d/mpsd.conf" >/dev/null 2>&1
	logdir=$(awk '$1 == "d" && $2 ~ /log/ {print $2}' "$top_builddir/config/tmpfiles.d/mpsd.conf")
	uid=$(awk -F: '$1 == "mpsd" {print $3}' "$R/etc/passwd")
	ok "tmpfiles.d makes the log directory for mpsd" test "$(stat -c %u "$R$logdir" 2>/dev/null)" = "$uid"
else
	skip "sysusers.d and tmpfiles.d" "systemd-sysusers or systemd-tmpfiles missing"
fi

if ! "$MPSD" --version | grep -q "systemd notification: built in"; then
	skip "sd_notify" "mpsd built without libsystemd"
	done_testing
fi
# A stand-in for systemd's notification socket: one datagram a line.
N=$T/notify.sock
"${PYTHON:-python3}" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
out = open(sys.argv[2], "a", buffering=1)
while True:
    out.write(s.recv(4096).decode().replace("\n", " | ") + "\n")
' "$N" "$T/notify.log" &
track $!
wait_for 5 test -S "$N"
A=$T/a
make_config "$A"
NOTIFY_SOCKET=$N start_mpsd "$A"
ok "mpsd sends READY=1 once it serves" wait_for 5 grep -q "READY=1" "$T/notify.log"
ok "with STATUS= and no device" grep -q "STATUS=0 Intel AMT devices connected" "$T/notify.log"
certs=$(test_certs)
"$top_builddir/tests/sim/amtsim" --port "$(amt_port "$A")" --ca "$certs/ca.pem" \
	--server-name localhost --count 2 --duration 8 >"$T/sim.out" 2>&1 &
track $!
ok "STATUS= follows the device count" wait_for 10 grep -q "STATUS=2 Intel AMT devices connected" "$T/notify.log"
stop_pid "$MPSD_PID"
ok "SIGTERM: exit 0" test $? -eq 0
ok "mpsd says STOPPING=1" grep -q "STOPPING=1" "$T/notify.log"

done_testing

#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# log_disk_full.sh: the log's file system fills up (a real one: a tmpfs
# of fixed size mounted over the log directory). mpsd keeps serving, says
# once on its console (stderr in the foreground) that it cannot write the
# log, counts the lines the file refused, and once there is room again
# writes how many were lost before the next line. Needs root (mount);
# skipped otherwise.
. "$(dirname "$0")/console_lib.sh"
require_peers

if [ "$(id -u)" != 0 ]; then
	echo "1..0 # SKIP mounting a tmpfs needs root"
	exit 0
fi
A=$T/a
make_config "$A"
LOGFS=$A/log
if ! mount -t tmpfs -o size=256k,mode=0755 mpsd-test-log "$LOGFS" 2>"$T/mount.err"; then
	echo "1..0 # SKIP cannot mount a tmpfs here: $(head -n 1 "$T/mount.err")"
	exit 0
fi
# Detach it at exit whatever happens (lazily: mpsd may still hold the
# file open while lib.sh's clean-up stops it).
trap 'umount -l "$LOGFS" 2>/dev/null; _cleanup' EXIT

ok "mpsd starts with its log on a 256 KiB file system" start_mpsd "$A"
console_ports "$A"
log=$LOGFS/mps.log
start_origin || { echo "Bail out! origin_http did not start"; exit 1; }
ok "a device logs in" \
	start_sim devs --count 1 --ports 16992 --target "16992=127.0.0.1:$ORIGIN_PORT"

# report: SIGUSR1 writes one line per connected device.
report() { kill -USR1 "$MPSD_PID"; }

# Fill the file system to the last block.
dd if=/dev/zero of="$LOGFS/filler" bs=4k 2>/dev/null
ok "the log's file system is full" \
	sh -c "! dd if=/dev/zero of='$LOGFS/filler2' bs=1k count=1 2>/dev/null"
rm -f "$LOGFS/filler2"
size_full=$(stat -c %s "$log")
# The log's last page may still take a few lines; then the disk refuses.
for _ in $(seq 200); do
	report
	sleep 0.01
done
ok "mpsd says on its console that it cannot write the log" \
	wait_for 10 file_has "$A/stderr" "cannot write log file $log: No space left on device"
ok "... once, not per line" \
	test "$(grep -c 'cannot write log file' "$A/stderr")" -eq 1
ok "mpsd keeps serving: a console reaches the device meanwhile" \
	socks_curl -o /dev/null "http://dev-0.amt.test:16992/small"
ok "mpsd is still running on a full disk" still_running "$MPSD_PID"

# Room again.
rm -f "$LOGFS/filler"
report
ok "once there is room, the log says how many lines were lost" \
	wait_for 10 grep -qE "\[LM ERROR\] log file $log: [0-9]+ lines could not be written \(No space left on device\) and are lost" "$log"
lost=$(sed -n 's/.*: \([0-9]*\) lines could not be written.*/\1/p' "$log" | tail -n 1)
diag "lost $lost lines while the disk was full (the file had $size_full bytes when it filled)"
ok "... a number in line with the lines refused (at least 100 of 200 reports)" \
	test "${lost:-0}" -ge 100
ok "... followed by the next line, whole" \
	wait_for 5 sh -c "sed -n '/lines could not be written/,\$p' '$log' | grep -q 'dev-0.amt.test'"
# Every line is a whole log line, except the one the full disk cut, which
# must come just before the report (that starts a line of its own).
grep -nvE '^(\[([A-Z][a-z]{2} [A-Z][a-z]{2} [0-9]+ [0-9]{4} [0-9:.]+|[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+[+-][0-9]{2}:[0-9]{2})\] \[LM [A-Z]+\] |mpsd demo)' \
	"$log" >"$T/odd.lines"
: >"$T/bad.lines"
cuts=0
while IFS=: read -r n rest; do
	cuts=$((cuts + 1))
	if [ $cuts -gt 1 ] ||
	    ! sed -n "$((n + 1))p" "$log" | grep -q 'lines could not be written'; then
		printf '%s\n' "$rest" >>"$T/bad.lines"
	fi
done <"$T/odd.lines"
[ -s "$T/bad.lines" ] && diag "not a log line: $(head -c 300 "$T/bad.lines")"
ok "every line of the log is whole (the report starts a new line after a cut one)" \
	test ! -s "$T/bad.lines"
ok "mpsd stops cleanly" stop_pid "$MPSD_PID"
done_testing

#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# stray_signals.sh: signals mpsd does not use (SIGUSR2, SIGALRM, real-time
# signals, ...) never end it silently; the foreground pid file names the
# process and is removed at exit; --help and --version work as long
# options.
. "$(dirname "$0")/lib.sh"

"$MPSD" --version >"$T/v.out" 2>&1
ok "--version exits 0" test $? -eq 0
ok "--version prints the version" grep -q "^mpsd [0-9]" "$T/v.out"
"$MPSD" --help >"$T/h.out" 2>&1
ok "--help exits 0" test $? -eq 0
ok "--help lists the long options" grep -q -- "--config FILE" "$T/h.out"
"$MPSD" --frobnicate >"$T/b.out" 2>&1
ok "an unknown long option exits 2" test $? -eq 2
ok "and is named" grep -q "unknown option --frobnicate" "$T/b.out"
A=$T/a
make_config "$A"
"$MPSD" --test --config "$A/mps.config" >"$T/t.out" 2>&1
ok "--test --config work like -t -c" grep -q "is OK" "$T/t.out"

ok "mpsd starts" start_mpsd "$A"
ok "the foreground pid file names it" test "$(cat "$A/mpsd.pid" 2>/dev/null)" = "$MPSD_PID"
for sig in USR2 ALRM VTALRM PROF IO PWR XFSZ TTIN TTOU TSTP RTMIN RTMIN+5 RTMAX; do
	kill -s "$sig" "$MPSD_PID" 2>/dev/null || kill "-$sig" "$MPSD_PID"
done
sleep 0.5
ok "after 13 stray signals mpsd still runs" kill -0 "$MPSD_PID"
ok "it is not stopped either" test "$(awk '{print $3}' "/proc/$MPSD_PID/stat")" != T
kill -USR1 "$MPSD_PID"
ok "and still handles its own signals (SIGUSR1 lists devices)" \
	wait_for 5 file_has "$A/log/mps.log" "Connected Intel remote clients: 0"
stop_pid "$MPSD_PID"
ok "SIGTERM still stops it with status 0" test $? -eq 0
ok "the foreground pid file is removed at exit" test ! -e "$A/mpsd.pid"

done_testing

#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# signals.sh: trace levels change without a restart (on SIGHUP and when
# mps_dynamic.config changes), SIGHUP reopens the log, and a broken
# dynamic file at run time keeps the old levels.
. "$(dirname "$0")/lib.sh"

A=$T/a
make_config "$A"
set_trace_levels "$A" "ERROR"
ok "mpsd starts with TraceLevels ERROR" start_mpsd "$A"
apid=$MPSD_PID
log=$A/log/mps.log
hup_line="Received SIGHUP"

count() { grep -cF -- "$1" "$log"; }

# With ERROR only, the INFO line that SIGHUP writes must not appear.
kill -HUP "$MPSD_PID"
ok "SIGHUP is handled (the reload is announced)" \
	wait_for 5 file_has "$log" "SIGHUP: trace levels unchanged"
ok "with ERROR only, SIGHUP's INFO line is not logged" test "$(count "$hup_line")" -eq 0

# Change the file and let the watcher see it (no signal).
set_trace_levels "$A" "INFO|ERROR|WARNING"
ok "a changed mps_dynamic.config is applied without a signal" \
	wait_for 5 file_has "$log" "trace levels are now INFO|ERROR|WARNING"
kill -HUP "$MPSD_PID"
ok "with INFO on, SIGHUP's INFO line is logged" wait_for 5 file_has "$log" "$hup_line"

# SIGHUP alone rereads the file: a second mpsd whose watcher is off
# (DynamicConfigCheckInterval 0) sees a change only through the signal.
H=$T/h
make_config "$H" "s|<DynamicConfigFile>|<DynamicConfigCheckInterval>0</DynamicConfigCheckInterval><DynamicConfigFile>|"
set_trace_levels "$H" "INFO|ERROR|WARNING"
start_mpsd "$H"
hpid=$MPSD_PID
MPSD_PID=$apid
set_trace_levels "$H" "ERROR|WARNING"
sleep 1.5
ok "with the watcher off, a change waits for SIGHUP" \
	file_lacks "$H/log/mps.log" "trace levels are now ERROR|WARNING"
kill -HUP "$hpid"
ok "SIGHUP applies it" wait_for 5 file_has "$H/log/mps.log" "SIGHUP: trace levels are now ERROR|WARNING"
stop_pid "$hpid"

# Back in the first mpsd: INFO off again, SIGHUP's INFO line disappears.
set_trace_levels "$A" "ERROR|WARNING"
ok "INFO is switched off" wait_for 5 file_has "$log" "trace levels are now ERROR|WARNING"
n=$(count "$hup_line")
# Wait for THIS reload's own line (two older ones are in the log
# already): the edit below must come after it, not during it.
u=$(count "SIGHUP: trace levels unchanged")
kill -HUP "$MPSD_PID"
ok "SIGHUP's reload ends" wait_for 5 sh -c \
	"test \$(grep -cF 'SIGHUP: trace levels unchanged' '$log') -gt $u"
ok "INFO is off again: SIGHUP's INFO line is not logged" test "$(count "$hup_line")" -eq "$n"

# A broken file at run time: reported, old levels kept.
set_trace_levels "$A" "INFO|NOISY"
ok "a broken dynamic file is reported" \
	wait_for 5 file_has "$log" "Error while reading dynamic configuration file."
ok "the bad token is named in the log" wait_for 2 file_has "$log" "NOISY"
ok "the previous levels stay" file_has "$log" "Trace levels stay ERROR|WARNING"
ok "mpsd keeps running" kill -0 "$MPSD_PID"

# SIGHUP reopens the log: move it away, the new file starts with Heading.
n=$(count "trace levels are now INFO|ERROR|WARNING")
set_trace_levels "$A" "INFO|ERROR|WARNING"
ok "INFO is switched back on" wait_for 5 sh -c \
	"test \$(grep -cF 'trace levels are now INFO|ERROR|WARNING' '$log') -gt $n"
mv "$log" "$A/log/mps.log.old"
kill -HUP "$MPSD_PID"
ok "SIGHUP reopens the log file by name" wait_for 5 test -s "$log"
heading=$(sed -n 's|.*<Heading>\(.*\)</Heading>.*|\1|p' "$A/mps.config")
ok "the reopened log starts with the Heading" test "$(head -n 1 "$log")" = "$heading"
ok "the reopened log gets new lines" wait_for 5 file_has "$log" "$hup_line"

stop_pid "$MPSD_PID"
ok "SIGTERM after all that: exit 0" test $? -eq 0

done_testing

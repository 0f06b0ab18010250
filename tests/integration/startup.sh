#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# startup.sh: mpsd starts on the demo configuration, announces itself as
# the guide says (section 10.2), refuses a second instance, stops cleanly
# on SIGTERM, detaches with a pid file, and refuses to start with the
# guide's message when a plugin or a configuration file is bad.
. "$(dirname "$0")/lib.sh"

A=$T/a
make_config "$A"
heading=$(sed -n 's|.*<Heading>\(.*\)</Heading>.*|\1|p' "$A/mps.config")

ok "mpsd starts on the demo configuration" start_mpsd "$A"
apid=$MPSD_PID
first=$(head -n 1 "$A/log/mps.log")
ok "the log's first line is the Heading" test "$first" = "$heading"
# ISO 8601 with the offset by default; the guide's sentence, then the
# version and this process's pid.
version=$("$MPSD" --version | awk '{print $2}')
stamp='^\[[0-9]{4}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9]\.[0-9]{6}[+-][0-9]{2}:[0-9]{2}\] \[LM INFO\] MPS has started its operation\. mpsd '"$version"', pid '"$MPSD_PID"'$'
ok "the start line: ISO 8601 time with offset, version and pid" grep -Eq "$stamp" "$A/log/mps.log"
ok "the start line also goes to stderr" file_has "$A/stderr" "MPS has started its operation."
ok "the loaded AMT plugin is logged" file_has "$A/log/mps.log" "AMT authentication: $top_builddir/plugins/"

# The guide's time format stays available as a setting.
G=$T/g
make_config "$G" "s|<LogFileMaxFiles>|<TimeFormat>guide</TimeFormat><LogFileMaxFiles>|"
ok "mpsd starts with TimeFormat guide" start_mpsd "$G"
gstamp='^\[(Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [1-9][0-9]? [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}\] \[LM INFO\] MPS has started its operation\.'
ok "its start line has the guide's format" grep -Eq "$gstamp" "$G/log/mps.log"
stop_pid "$MPSD_PID" >/dev/null
MPSD_PID=$apid

# A second instance, same lock file, other ports: refused, first unharmed.
B=$T/b
make_config "$B" "s|<LockFile>[^<]*<|<LockFile>$A/mpsd.lock<|"
"$MPSD" -f -c "$B/mps.config" >"$B/stdout" 2>"$B/stderr"
rc=$?
ok "a second instance exits 1" test $rc -eq 1
two="Attempt to run two instances of the MPS process simultaneously - second attempt discarded."
ok "the second instance says why on stderr" file_has "$B/stderr" "$two"
ok "and in its log" file_has "$B/log/mps.log" "$two"
ok "the first instance still runs" kill -0 "$MPSD_PID"

stop_pid "$MPSD_PID"
rc=$?
ok "SIGTERM stops mpsd with status 0" test $rc -eq 0
ok "the stop is logged" file_has "$A/log/mps.log" "MPS has stopped its operation."

# Once the first is gone, the lock is free again (no stale state).
ok "a new instance starts once the first stopped" start_mpsd "$B"
stop_pid "$MPSD_PID" >/dev/null

# Dropping root (<Process><User>): tests/integration/privdrop.sh.

# Daemon mode: the command returns once mpsd runs, with a pid file.
D=$T/d
make_config "$D"
"$MPSD" -c "$D/mps.config" >"$D/stdout" 2>"$D/stderr"
rc=$?
ok "daemon mode: the command exits 0 once mpsd runs" test $rc -eq 0
ok "daemon mode: the pid file exists" test -s "$D/mpsd.pid"
dpid=$(cat "$D/mpsd.pid" 2>/dev/null || echo 0)
track "$dpid"
ok "daemon mode: the pid file names a live mpsd" grep -q mpsd "/proc/$dpid/comm"
ok "daemon mode: the start line is in the log" file_has "$D/log/mps.log" "MPS has started its operation."
ok "daemon mode: detached into its own session" test "$(ps -o sid= -p "$dpid")" != "$(ps -o sid= -p $$)"
ok "daemon mode: SIGTERM stops it" stop_daemon "$dpid"
ok "daemon mode: the pid file is removed" test ! -e "$D/mpsd.pid"

# A daemon that cannot start reports it in the exit status.
E=$T/e
make_config "$E" "s|<DllName>AMTFileAuth<|<DllName>NoSuchPlugin<|"
"$MPSD" -c "$E/mps.config" >"$E/stdout" 2>"$E/stderr"
rc=$?
ok "a plugin that does not load stops the start (exit 1)" test $rc -eq 1
ok "with the guide's AMT message in the log" file_has "$E/log/mps.log" "Failed loading AMT authentication dll."
ok "and the reason names the plugin" file_has "$E/log/mps.log" "NoSuchPlugin"
ok "and on stderr" file_has "$E/stderr" "Failed loading AMT authentication dll."
ok "no pid file is left behind" test ! -e "$E/mpsd.pid"

S=$T/s
make_config "$S" "s|<DllName>SocksFileAuth<|<DllName>$T/missing/SocksAuth.so<|"
"$MPSD" -f -c "$S/mps.config" >"$S/stdout" 2>"$S/stderr"
ok "a Socks plugin that does not load: the guide's Socks message" \
	file_has "$S/stderr" "Failed loading Socks authentication dll."

X=$T/x
make_config "$X" "s|<AMTListenPort>[^<]*<|<AMTListenPort>none<|"
"$MPSD" -f -c "$X/mps.config" >"$X/stdout" 2>"$X/stderr"
rc=$?
ok "a broken mps.config: exit 1" test $rc -eq 1
ok "a broken mps.config: the guide's static message" \
	file_has "$X/stderr" "Error while reading static configuration file."
ok "a broken mps.config: file:line of the error" \
	grep -q "^mpsd: $X/mps.config:[0-9][0-9]*: .*AMTListenPort" "$X/stderr"

Y=$T/y
make_config "$Y"
set_trace_levels "$Y" "INFO|VERBOSE"
"$MPSD" -f -c "$Y/mps.config" >"$Y/stdout" 2>"$Y/stderr"
rc=$?
ok "a broken mps_dynamic.config: exit 1" test $rc -eq 1
ok "a broken mps_dynamic.config: the guide's dynamic message" \
	file_has "$Y/stderr" "Error while reading dynamic configuration file."
ok "a broken mps_dynamic.config: the bad token is named" file_has "$Y/stderr" "VERBOSE"

done_testing

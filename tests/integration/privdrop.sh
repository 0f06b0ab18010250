#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# privdrop.sh: <Process><User> leaves a working server. Started as root
# and dropping to nobody/nogroup: the accounts file (root:nogroup 0640) is
# read on each login after the drop, missing log and pid directories are
# made for nobody, the log rotates and reopens as nobody, the pid file is
# removed at exit; mpsd -t checks the files as nobody and reports every
# problem at once, and the start refuses what -t refuses.
. "$(dirname "$0")/lib.sh"

SIM=$top_builddir/tests/sim/amtsim

if [ "$(id -u)" -ne 0 ] || ! getent passwd nobody >/dev/null ||
	! getent group nogroup >/dev/null; then
	skip "privilege drop" "needs root and the user nobody/nogroup"
	done_testing
fi
certs=$(test_certs)
# nobody must be able to reach the test's files (mktemp made $T 0700).
chmod 0711 "$T"

P=$T/p
make_config "$P" \
	"s|<DllParameters>[^<]*AMTAuthFile.txt<|<DllParameters>$T/p/acct/AMTAuthFile.txt<|" \
	"s|<DllParameters>[^<]*SocksAuthFile.txt<|<DllParameters>$T/p/acct/SocksAuthFile.txt<|" \
	"s|<LogFileMaxSize>[^<]*<|<LogFileMaxSize>2<|" \
	"s|<LogFileMaxFiles>[^<]*<|<LogFileMaxFiles>3<|" \
	"s|<PidFile>[^<]*<|<PidFile>$T/p/run/mpsd.pid<|" \
	"s|<LockFile>[^<]*<|<LockFile>$T/p/run/mpsd.lock<|" \
	"s|</MPS>|<Process><User>nobody</User><Group>nogroup</Group></Process></MPS>|"
chmod 0755 "$P"
# The log directory and the pid file's are left for mpsd to make.
rmdir "$P/log"
mkdir -m 0755 "$P/acct"
cp "$top_srcdir/config/demo/AMTAuthFile.txt" "$top_srcdir/config/demo/SocksAuthFile.txt" "$P/acct/"
chown root:nogroup "$P/acct/"*.txt
chmod 0640 "$P/acct/"*.txt
set_trace_levels "$P" "INFO|ERROR|WARNING"

"$MPSD" -t -c "$P/mps.config" >"$T/t.out" 2>"$T/t.err"
ok "-t passes: every file suits nobody" test $? -eq 0
ok "-t made no directory" test ! -e "$P/log"

ok "mpsd starts as root with User nobody" start_mpsd "$P"
pid=$MPSD_PID
uid=$(awk '/^Uid:/ {print $2 $3 $4 $5}' "/proc/$pid/status")
ok "it runs as nobody (real, effective, saved, fs uid)" test "$uid" = "65534655346553465534"
ok "its groups are only nogroup" test "$(awk '/^Groups:/ {print $2}' "/proc/$pid/status")" = "65534"
ok "the missing log directory was made for nobody" test "$(stat -c %U "$P/log")" = nobody
ok "the log file was handed to nobody" test "$(stat -c %U "$P/log/mps.log")" = nobody
ok "the foreground pid file names this mpsd" test "$(cat "$P/run/mpsd.pid" 2>/dev/null)" = "$pid"
ok "the pid file's directory was made for nobody" test "$(stat -c %U "$P/run")" = nobody

# Logins read the accounts file after the drop.
port=$(amt_port "$P")
"$SIM" --port "$port" --ca "$certs/ca.pem" --server-name localhost \
	--uuid 11111111-2222-3333-4444-555555555555 --fqdn drop.amt.test \
	--duration 1 >"$T/sim1.out" 2>&1
ok "a device logs in after the drop (accounts file read as nobody)" \
	grep -q "^device 0 authenticated" "$T/sim1.out"
# (in whichever log file it is by now: the log rotates at 2 KB)
ok "the log says so" wait_for 5 sh -c "cat '$P'/log/mps.log* | grep -qF 'Intel remote client 11111111-2222-3333-4444-555555555555 is now connected'"
"$SIM" --port "$port" --ca "$certs/ca.pem" --server-name localhost \
	--pass wrong-password --duration 1 >"$T/sim2.out" 2>&1
ok "a wrong password is still refused" test $? -ne 0

# Rotation (LogFileMaxSize 2 KB) renames and creates files as nobody.
for i in 1 2 3 4 5 6; do
	"$SIM" --port "$port" --ca "$certs/ca.pem" --server-name localhost \
		--count 3 --duration 0.2 >/dev/null 2>&1
done
ok "the log rotated as nobody" wait_for 5 test -e "$P/log/mps.log.1"
ok "the rotated file and the new one belong to nobody" \
	test "$(stat -c %U "$P/log/mps.log")" = nobody
ok "no rotation error was logged" file_lacks "$P/log/mps.log" "cannot rotate"
mv "$P/log/mps.log" "$P/log/moved.log"
kill -HUP "$pid"
ok "SIGHUP reopens the log by name as nobody" wait_for 5 test -s "$P/log/mps.log"

stop_pid "$pid"
ok "SIGTERM: exit 0" test $? -eq 0
ok "the pid file is removed at exit, after the drop" test ! -e "$P/run/mpsd.pid"
ok "no error about the pid file" file_lacks "$P/log/mps.log" "cannot remove the pid file"

# -t checks as nobody, and reports every problem in one run.
chmod 0600 "$P/acct/AMTAuthFile.txt"
chown root:root "$P/log"
"$MPSD" -t -c "$P/mps.config" >"$T/bad.out" 2>"$T/bad.err"
ok "-t fails when nobody cannot read the accounts file" test $? -eq 1
ok "-t names the accounts file and the user" \
	grep -q "AMT_Authenticate DllParameters.*$P/acct/AMTAuthFile.txt.*user nobody" "$T/bad.err"
ok "-t names the log directory in the same run" \
	grep -q "LogFilePath.*$P/log: not writable.*user nobody" "$T/bad.err"
ok "-t counts both problems" grep -q "has 2 problems" "$T/bad.err"
"$MPSD" -f -c "$P/mps.config" >"$T/start.out" 2>"$T/start.err"
ok "the start refuses the same configuration (exit 1)" test $? -eq 1
ok "and says why" grep -q "AMTAuthFile.txt.*user nobody" "$T/start.err"
ok "before writing a pid file" test ! -e "$P/run/mpsd.pid"

# A root-only file in a plugin's DllParameters (a SOAP -cafile) too.
chmod 0640 "$P/acct/AMTAuthFile.txt"
chown nobody "$P/log"
install -m 0600 "$certs/ca.pem" "$P/acct/soap-ca.pem"
sed -e "s|<DllName>SocksFileAuth<|<DllName>SOAPAuthentication<|" \
	-e "s|<DllParameters>[^<]*SocksAuthFile.txt<|<DllParameters>-target https://127.0.0.1:1/x -cafile acct/soap-ca.pem<|" \
	"$P/mps.config" >"$P/soap.config"
"$MPSD" -t -c "$P/soap.config" >"$T/soap.out" 2>"$T/soap.err"
ok "-t checks the -cafile of a plugin's DllParameters as nobody" \
	grep -q "Socks_Authenticate DllParameters -cafile $P/acct/soap-ca.pem.*user nobody" "$T/soap.err"

done_testing

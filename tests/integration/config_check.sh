#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# config_check.sh: "mpsd -t -c FILE" checks a configuration and exits 0 or
# 1, printing EVERY problem as file:line: what is wrong.
. "$(dirname "$0")/lib.sh"

# The shipped samples (config/; mps.config as the build made it), with
# PluginDir pointed at the build and the log, pid and lock in $G.
G=$T/good
mkdir -p "$G"
cp "$top_srcdir"/config/*.config "$top_srcdir"/config/*.txt "$G/"
cp "$top_builddir/config/mps.config" "$G/"
sed -i -e "s|<PluginDir>[^<]*<|<PluginDir>$top_builddir/plugins<|" \
	-e "s|<LogFilePath>[^<]*<|<LogFilePath>$G/log<|" \
	-e "s|<PidFile>[^<]*<|<PidFile>$G/run/mpsd.pid<|" \
	-e "s|<LockFile>[^<]*<|<LockFile>$G/run/mpsd.lock<|" "$G/mps.config"
# The sample's TLS files, where it expects them (certs/ beside it).
cp -r "$(test_certs)" "$G/certs"
"$MPSD" -t -c "$G/mps.config" >"$G/out" 2>"$G/err"
rc=$?
ok "the shipped sample configuration passes -t" test $rc -eq 0
ok "-t says the configuration is OK" file_has "$G/out" "is OK"
ok "-t writes no log and takes no lock" test ! -e "$G/run/mpsd.lock"
ok "the installed sample has no live account (AMT)" \
	test -z "$(grep -v '^#' "$G/AMTAuthFile.txt" | grep -v '^[[:space:]]*$')"
ok "the installed sample has no live account (Socks)" \
	test -z "$(grep -v '^#' "$G/SocksAuthFile.txt" | grep -v '^[[:space:]]*$')"
ok "no @...@ placeholder is left in the built sample" \
	test -z "$(grep -o '@[a-z]*@' "$top_builddir/config/mps.config")"

D=$T/demo
make_config "$D"
ok "the demo configuration passes -t" "$MPSD" -t -c "$D/mps.config"

# Five errors on known lines, one of each kind: all must be reported.
B=$T/bad
mkdir -p "$B"
cp "$D"/*.config "$B/"
cat >"$B/mps.config" <<'XML'
<MPS>
  <Network>
    <AMTListenPort>99999</AMTListenPort>
    <AMTListenPrt>4433</AMTListenPrt>
  </Network>
  <Logger>
    <LogFileMaxFiles>many</LogFileMaxFiles>
  </Logger>
  <AMT_Authenticate>
    <NeedAuthentication>maybe</NeedAuthentication>
  </AMT_Authenticate>
  <Frobnicate/>
</MPS>
XML
"$MPSD" -t -c "$B/mps.config" >"$B/out" 2>"$B/err"
rc=$?
ok "a broken configuration fails -t with 1" test $rc -eq 1
for line in 3 4 7 10 12; do
	ok "the error on line $line is reported as file:line" \
		grep -q "^mpsd: $B/mps.config:$line: " "$B/err"
done
ok "exactly five errors are reported" test "$(grep -c "^mpsd: $B/mps.config:[0-9]*: " "$B/err")" -eq 5
ok "the port error names the element and value" grep -q "AMTListenPort.*99999" "$B/err"
ok "the typo is named" grep -q "AMTListenPrt" "$B/err"
ok "the guide's static message follows" file_has "$B/err" "Error while reading static configuration file."

# XML syntax errors carry their line too.
X=$T/xml
mkdir -p "$X"
cp "$D"/*.config "$X/"
printf '<MPS>\n  <Network>\n    <AMTListenPort>4433</Network>\n</MPS>\n' >"$X/mps.config"
"$MPSD" -t -c "$X/mps.config" >"$X/out" 2>"$X/err"
ok "an XML syntax error fails -t" test $? -eq 1
ok "an XML syntax error names file:line" grep -q "^mpsd: $X/mps.config:3: " "$X/err"

# The list files and the dynamic file are checked with line numbers.
L=$T/lists
make_config "$L"
printf '# subscribers\nhttp://127.0.0.1:9971/ok\nftp://example.com/no\n' >"$L/NotificationList.config"
printf '127.0.0.1:162\nexample.com:notaport\n' >"$L/AuthorizedServersList.config"
set_trace_levels "$L" "INFO|LOUD"
"$MPSD" -t -c "$L/mps.config" >"$L/out" 2>"$L/err"
ok "bad list files fail -t" test $? -eq 1
ok "the bad subscriber URL is reported with its line" grep -q "NotificationList.config:3: " "$L/err"
ok "the bad authorized server is reported with its line" grep -q "AuthorizedServersList.config:2: " "$L/err"
ok "the bad trace level is reported" grep -q "mps_dynamic.config:1: .*LOUD" "$L/err"
ok "both guide messages (static and dynamic) are printed" \
	sh -c "grep -qF 'Error while reading static configuration file.' '$L/err' && grep -qF 'Error while reading dynamic configuration file.' '$L/err'"

# More than eight subscribers: a warning per discarded URL, not an error.
W=$T/warn
make_config "$W"
for i in 1 2 3 4 5 6 7 8 9 10; do echo "http://127.0.0.1:99$i/sub$i"; done >"$W/NotificationList.config"
"$MPSD" -t -c "$W/mps.config" >"$W/out" 2>"$W/err"
ok "ten subscribers still pass -t" test $? -eq 0
ok "the ninth subscriber is named in a warning" grep -q "warning: .*NotificationList.config:9: .*sub9" "$W/err"
ok "the tenth subscriber is named in a warning" grep -q "warning: .*NotificationList.config:10: .*sub10" "$W/err"

# A plugin that is not there fails -t with the guide's message.
P=$T/plugin
make_config "$P" "s|<DllName>AMTFileAuth<|<DllName>NoSuchAuth<|"
"$MPSD" -t -c "$P/mps.config" >"$P/out" 2>"$P/err"
ok "-t loads the plugins: a missing one fails" test $? -eq 1
ok "-t prints the guide's plugin message" file_has "$P/err" "Failed loading AMT authentication dll."

"$MPSD" -t -c "$T/does-not-exist.config" >"$T/out" 2>"$T/err"
ok "a missing configuration file fails -t" test $? -eq 1
ok "a missing configuration file is named" file_has "$T/err" "$T/does-not-exist.config"

done_testing

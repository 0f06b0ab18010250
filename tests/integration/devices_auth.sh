#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# devices_auth.sh: simulated AMT devices and SOCKS consoles (curl) log in
# to a real mpsd through the SOAPAuthentication plugin (against the test
# SOAP service) and through the LDAPAuthentication plugin (against a real
# slapd), and are refused when the password is wrong or the backend is
# down (fail closed).
. "$(dirname "$0")/lib.sh"

SERVICE=$top_builddir/tests/peers/soap_auth_service
SLAPD_SH=$top_srcdir/tests/peers/slapd.sh
SIM=$top_builddir/tests/sim/amtsim

# use_plugin DIR DLLNAME PARAMS: the AMT plugin of DIR/mps.config.
use_plugin() {
	sed -i -e "s|<DllName>AMTFileAuth<|<DllName>$2<|" \
		-e "s|<DllParameters>[^<]*AMTAuthFile.txt<|<DllParameters>$3<|" \
		"$1/mps.config"
}

# use_socks_plugin DIR DLLNAME PARAMS: the Socks plugin of DIR/mps.config.
use_socks_plugin() {
	sed -i -e "s|<DllName>SocksFileAuth<|<DllName>$2<|" \
		-e "s|<DllParameters>[^<]*SocksAuthFile.txt<|<DllParameters>$3<|" \
		"$1/mps.config"
}

socks_port() { sed -n 's|.*<SocksListenPort>\([0-9]*\)<.*|\1|p' "$1/mps.config"; }

# console DIR USER PASS OUT: curl through mpsd's SOCKS port to the
# simulated device's web page; curl's status.
console() {
	curl -sS --max-time 10 \
		--socks5-hostname "$2:$3@127.0.0.1:$(socks_port "$1")" \
		-o "$4" http://authdev.example.com:16992/page.html 2>"$4.err"
}

# A web server standing in for the device's port 16992.
mkdir -p "$T/www"
echo "the device's page" >"$T/www/page.html"
wport=$(free_port)
(cd "$T/www" && exec python3 -m http.server "$wport" --bind 127.0.0.1) \
	>/dev/null 2>&1 &
track $!
wait_for 10 port_in_use "$wport"

# device_up DIR USER PASS: a device that stays connected, forwarding 16992
# to the web server; sets DEV_PID.
device_up() {
	sim "$1" --user "$2" --pass "$3" --fqdn authdev.example.com \
		--target "16992=127.0.0.1:$wport" --duration 60 >"$T/dev.out" 2>&1 &
	DEV_PID=$!
	track $DEV_PID
	wait_for 10 grep -q "^device 0 ready" "$T/dev.out"
}

sim() {
	local dir=$1
	shift
	"$SIM" --port "$(sed -n 's|.*<AMTListenPort>\([0-9]*\)<.*|\1|p' "$dir/mps.config")" \
		--ca "$T/certs/ca.pem" --server-name localhost "$@"
}

# --- SOAP ---
printf 'soapdev:soap-pass\nsoapconsole:console-pass\n' >"$T/users.txt"
"$SERVICE" -users "$T/users.txt" >"$T/service.port" 2>"$T/service.log" &
svc=$!
track $svc
ok "the test SOAP service starts" wait_for 10 test -s "$T/service.port"
sport=$(head -n 1 "$T/service.port")

S=$T/soap
make_config "$S"
use_plugin "$S" SOAPAuthentication "-target http://127.0.0.1:$sport/MPSAuthenticationService -timeout 5"
use_socks_plugin "$S" SOAPAuthentication "-target http://127.0.0.1:$sport/MPSAuthenticationService -timeout 5"
ok "mpsd starts with SOAPAuthentication" start_mpsd "$S"
sim "$S" --user soapdev --pass soap-pass --duration 2 >"$T/soap-ok.out" 2>&1
ok "SOAP: a device with the right password logs in" grep -q "^device 0 ready forwards=7" "$T/soap-ok.out"
sim "$S" --user soapdev --pass nope --duration 3 >"$T/soap-bad.out" 2>&1
ok "SOAP: a wrong password is refused" grep -q "^device 0 auth-failed" "$T/soap-bad.out"
ok "SOAP: a device stays up for the consoles" device_up "$S" soapdev soap-pass
ok "SOAP: a SOCKS console with the right password reaches the device" console "$S" soapconsole console-pass "$T/soap-console.html"
ok "SOAP: ... and gets the device's page" cmp "$T/soap-console.html" "$T/www/page.html"
if console "$S" soapconsole wrong "$T/soap-console-bad.html"; then bad=0; else bad=1; fi
ok "SOAP: a SOCKS console with a wrong password gets nothing" test "$bad" = 1
ok "SOAP: the refused console is logged" wait_for 3 grep -q 'SOCKS console .* failed to authenticate as "soapconsole"' "$S/log/mps.log"
kill -TERM $svc
wait $svc 2>/dev/null
sim "$S" --user soapdev --pass soap-pass --duration 3 >"$T/soap-down.out" 2>&1
ok "SOAP: with the service down the login fails closed" grep -q "^device 0 auth-failed" "$T/soap-down.out"
if console "$S" soapconsole console-pass "$T/soap-console-down.html"; then bad=0; else bad=1; fi
ok "SOAP: with the service down a console fails closed too" test "$bad" = 1
kill -TERM "$DEV_PID" 2>/dev/null
wait "$DEV_PID" 2>/dev/null
ok "SOAP: the plugin's reason is logged" wait_for 3 grep -q "failed to authenticate as \"soapdev\": .*127.0.0.1:$sport" "$S/log/mps.log"
ok "SOAP: no password reaches the log" sh -c "! grep -q -e 'soap-pass' -e 'console-pass' '$S/log/mps.log'"
stop_pid "$MPSD_PID" >/dev/null

# --- LDAP ---
if [ ! -x /usr/sbin/slapd ]; then
	echo "# slapd is not installed: LDAP part skipped"
	done_testing
fi
info=$(sh "$SLAPD_SH" start "$T/ldap") || { diag "slapd did not start"; cat "$T/ldap/slapd.log"; }
lport=$(printf '%s\n' "$info" | sed -n 's/.*ldap_port=\([0-9]*\).*/\1/p')
lpid=$(printf '%s\n' "$info" | sed -n 's/.*pid=\([0-9]*\).*/\1/p')
[ -n "$lpid" ] && track "$lpid"
ok "a real slapd starts" test -n "$lport"

L=$T/ldapmpsd
make_config "$L"
use_plugin "$L" LDAPAuthentication "-uri ldap://127.0.0.1:$lport -dn-template \"uid=%s,ou=people,dc=example,dc=com\" -network-timeout 2 -timeout 3"
use_socks_plugin "$L" LDAPAuthentication "-uri ldap://127.0.0.1:$lport -dn-template \"uid=%s,ou=people,dc=example,dc=com\" -network-timeout 2 -timeout 3"
ok "mpsd starts with LDAPAuthentication" start_mpsd "$L"
sim "$L" --user amtuser --pass userpass --duration 2 >"$T/ldap-ok.out" 2>&1
ok "LDAP: a device with the right password logs in" grep -q "^device 0 ready forwards=7" "$T/ldap-ok.out"
sim "$L" --user amtuser --pass wrong --duration 3 >"$T/ldap-bad.out" 2>&1
ok "LDAP: a wrong password is refused" grep -q "^device 0 auth-failed" "$T/ldap-bad.out"
sim "$L" --user 'amtuser,ou=people,dc=example,dc=com' --pass userpass --duration 3 >"$T/ldap-inj.out" 2>&1
ok "LDAP: a DN injection in the user name is refused" grep -q "^device 0 auth-failed" "$T/ldap-inj.out"
ok "LDAP: a device stays up for the consoles" device_up "$L" amtuser userpass
ok "LDAP: a SOCKS console with the right password reaches the device" console "$L" amtuser userpass "$T/ldap-console.html"
ok "LDAP: ... and gets the device's page" cmp "$T/ldap-console.html" "$T/www/page.html"
if console "$L" amtuser wrong "$T/ldap-console-bad.html"; then bad=0; else bad=1; fi
ok "LDAP: a SOCKS console with a wrong password gets nothing" test "$bad" = 1
ok "LDAP: the refused console is logged" wait_for 3 grep -q 'SOCKS console .* failed to authenticate as "amtuser"' "$L/log/mps.log"
kill -TERM "$DEV_PID" 2>/dev/null
wait "$DEV_PID" 2>/dev/null
sh "$SLAPD_SH" stop "$T/ldap" >/dev/null 2>&1
sim "$L" --user amtuser --pass userpass --duration 3 >"$T/ldap-down.out" 2>&1
ok "LDAP: with slapd down the login fails closed" grep -q "^device 0 auth-failed" "$T/ldap-down.out"
ok "LDAP: the reason is logged" wait_for 3 grep -q 'failed to authenticate as "amtuser": .*LDAP' "$L/log/mps.log"
stop_pid "$MPSD_PID" >/dev/null

done_testing

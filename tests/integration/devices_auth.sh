#!/usr/bin/env bash
# devices_auth.sh: simulated AMT devices log in to a real mpsd through the
# SOAPAuthentication plugin (against the test SOAP service) and through the
# LDAPAuthentication plugin (against a real slapd), and are refused when
# the password is wrong or the backend is down (fail closed).
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

sim() {
	local dir=$1
	shift
	"$SIM" --port "$(sed -n 's|.*<AMTListenPort>\([0-9]*\)<.*|\1|p' "$dir/mps.config")" \
		--ca "$T/certs/ca.pem" --server-name localhost "$@"
}

# --- SOAP ---
printf 'soapdev:soap-pass\n' >"$T/users.txt"
"$SERVICE" -users "$T/users.txt" >"$T/service.port" 2>"$T/service.log" &
svc=$!
track $svc
ok "the test SOAP service starts" wait_for 10 test -s "$T/service.port"
sport=$(head -n 1 "$T/service.port")

S=$T/soap
make_config "$S"
use_plugin "$S" SOAPAuthentication "-target http://127.0.0.1:$sport/MPSAuthenticationService -timeout 5"
ok "mpsd starts with SOAPAuthentication" start_mpsd "$S"
sim "$S" --user soapdev --pass soap-pass --duration 2 >"$T/soap-ok.out" 2>&1
ok "SOAP: a device with the right password logs in" grep -q "^device 0 ready forwards=7" "$T/soap-ok.out"
sim "$S" --user soapdev --pass nope --duration 3 >"$T/soap-bad.out" 2>&1
ok "SOAP: a wrong password is refused" grep -q "^device 0 auth-failed" "$T/soap-bad.out"
kill -TERM $svc
wait $svc 2>/dev/null
sim "$S" --user soapdev --pass soap-pass --duration 3 >"$T/soap-down.out" 2>&1
ok "SOAP: with the service down the login fails closed" grep -q "^device 0 auth-failed" "$T/soap-down.out"
ok "SOAP: the plugin's reason is logged" wait_for 3 grep -q "failed to authenticate as \"soapdev\": .*127.0.0.1:$sport" "$S/log/mps.log"
ok "SOAP: the password never reaches the log" sh -c "! grep -q 'soap-pass' '$S/log/mps.log'"
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
ok "mpsd starts with LDAPAuthentication" start_mpsd "$L"
sim "$L" --user amtuser --pass userpass --duration 2 >"$T/ldap-ok.out" 2>&1
ok "LDAP: a device with the right password logs in" grep -q "^device 0 ready forwards=7" "$T/ldap-ok.out"
sim "$L" --user amtuser --pass wrong --duration 3 >"$T/ldap-bad.out" 2>&1
ok "LDAP: a wrong password is refused" grep -q "^device 0 auth-failed" "$T/ldap-bad.out"
sim "$L" --user 'amtuser,ou=people,dc=example,dc=com' --pass userpass --duration 3 >"$T/ldap-inj.out" 2>&1
ok "LDAP: a DN injection in the user name is refused" grep -q "^device 0 auth-failed" "$T/ldap-inj.out"
sh "$SLAPD_SH" stop "$T/ldap" >/dev/null 2>&1
sim "$L" --user amtuser --pass userpass --duration 3 >"$T/ldap-down.out" 2>&1
ok "LDAP: with slapd down the login fails closed" grep -q "^device 0 auth-failed" "$T/ldap-down.out"
ok "LDAP: the reason is logged" wait_for 3 grep -q 'failed to authenticate as "amtuser": .*LDAP' "$L/log/mps.log"
stop_pid "$MPSD_PID" >/dev/null

done_testing

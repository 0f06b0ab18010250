#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# ldap_auth.sh: mpsd loads the LDAPAuthentication plugin for either role
# and refuses to start, with the guide's message and the plugin's reason,
# when its DllParameters are wrong. mps_plugin_init checks everything it
# can without the network, so no directory server is needed here (the
# unit test runs the plugin against a real slapd).
. "$(dirname "$0")/lib.sh"

TEMPLATE='-uri ldap://127.0.0.1:3890 -dn-template "uid=%s,ou=people,dc=example,dc=com"'
SEARCH='-uri ldap://127.0.0.1:3890 -base dc=example,dc=com -filter "(uid=%s)" -bind-dn cn=svc,dc=example,dc=com -bind-pass-file svc.pass'

# ldap_config DIR AMT_PARAMS [SOCKS_PARAMS]: the demo configuration with
# the LDAP plugin in the AMT role (and in the Socks role when given).
ldap_config() {
	local dir=$1 amt=$2 socks=${3:-}
	local e=("s|<DllName>AMTFileAuth<|<DllName>LDAPAuthentication<|"
		"s|<DllParameters>[^<]*AMTAuthFile.txt<|<DllParameters>$amt<|")
	if [ -n "$socks" ]; then
		e+=("s|<DllName>SocksFileAuth<|<DllName>LDAPAuthentication<|"
		    "s|<DllParameters>[^<]*SocksAuthFile.txt<|<DllParameters>$socks<|")
	fi
	make_config "$dir" "${e[@]}"
	printf 'svcpass\n' >"$dir/svc.pass"
}

# check DIR: mpsd -t on DIR; output in DIR/out and DIR/err, status in $rc.
check() {
	"$MPSD" -t -c "$1/mps.config" >"$1/out" 2>"$1/err"
	rc=$?
}

G=$T/good
ldap_config "$G" "$TEMPLATE"
check "$G"
ok "a DN-template configuration passes -t" test $rc -eq 0
ok "-t says it is OK" file_has "$G/out" "is OK"

B=$T/both
ldap_config "$B" "$TEMPLATE" "$SEARCH"
check "$B"
ok "one module in both roles, with different parameters, passes -t" test $rc -eq 0

C=$T/tls
ldap_config "$C" "-uri ldaps://127.0.0.1:6360 -cafile $(test_certs)/ca.pem -dn-template uid=%s,dc=example,dc=com"
check "$C"
ok "ldaps:// with -cafile passes -t" test $rc -eq 0

# The same configuration starts for real (the directory is not needed
# until the first device) and says which plugin it loaded.
ok "mpsd starts with the LDAP plugin in both roles" start_mpsd "$B"
ok "the LDAP plugin is logged for the AMT role" \
	file_has "$B/log/mps.log" "AMT authentication: $top_builddir/plugins/"
ok "mpsd stops cleanly" stop_pid "$MPSD_PID"

# bad_amt NAME PARAMS REASON: -t fails with the guide's AMT message and
# the plugin's reason.
bad_amt() {
	local d=$T/$1
	ldap_config "$d" "$2"
	check "$d"
	ok "$1: -t fails" test $rc -eq 1
	ok "$1: the guide's AMT message" file_has "$d/err" "Failed loading AMT authentication dll."
	ok "$1: the reason: $3" file_has "$d/err" "$3"
}

bad_amt no-uri '-dn-template uid=%s,dc=example,dc=com' "DllParameters: -uri is required"
bad_amt no-mode '-uri ldap://127.0.0.1:3890' "give either -dn-template or -base with -filter"
bad_amt bad-scheme '-uri http://127.0.0.1 -dn-template uid=%s,dc=x' "is not an ldap:// or ldaps:// URL"
bad_amt no-cafile '-uri ldaps://127.0.0.1 -cafile missing-ca.pem -dn-template uid=%s,dc=x' \
	"-cafile missing-ca.pem: No such file or directory"
bad_amt two-placeholders '-uri ldap://h -dn-template uid=%s,cn=%s,dc=x' "exactly one %s"
bad_amt bad-filter '-uri ldap://h -base dc=x -filter uid=%s' "is not one parenthesised LDAP filter"
bad_amt bad-timeout '-uri ldap://h -dn-template uid=%s,dc=x -timeout forever' "-timeout wants whole seconds"

# The Socks role has its own message; a service password is never echoed.
S=$T/socks
ldap_config "$S" "$TEMPLATE" '-uri ldap://h -dn-template uid=%s,dc=x -bind-dn cn=svc -bind-pass TopSecret42'
check "$S"
ok "a bad Socks configuration fails -t" test $rc -eq 1
ok "with the guide's Socks message" file_has "$S/err" "Failed loading Socks authentication dll."
ok "and the reason" file_has "$S/err" "go with -base/-filter only"
ok "the service password is not printed" file_lacks "$S/err" "TopSecret42"

P=$T/passfile
ldap_config "$P" "${SEARCH/svc.pass/nonexistent.pass}"
check "$P"
ok "a missing -bind-pass-file fails -t" test $rc -eq 1
ok "and is named" file_has "$P/err" "-bind-pass-file nonexistent.pass"

done_testing

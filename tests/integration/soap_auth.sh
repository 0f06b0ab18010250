#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# soap_auth.sh: mpsd with the SOAPAuthentication plugin (guide 7.2.2).
# "mpsd -t" loads it with good DllParameters and refuses bad ones with the
# guide's message and the plugin's reason; mpsd runs with it in both roles
# at once (one file, two sets of parameters) and stops cleanly. When
# python3-zeep is installed, a real SOAP toolkit reads the shipped WSDL
# and calls the test service the plugin's unit tests use, which shows
# that WSDL, service and plugin agree on the wire.
. "$(dirname "$0")/lib.sh"

SERVICE=$top_builddir/tests/peers/soap_auth_service
WSDL=$top_srcdir/config/MPSAuthentication.wsdl
NS=http://schemas.intel.com/platform/client/MPSAuthentication/2006/01


# xml_escape TEXT: TEXT fit for an element of mps.config.
# (Quoted replacements: bash 5.2 reads a bare & there as the match.)
xml_escape() {
	local s=$1 amp='&amp;' lt='&lt;' gt='&gt;'
	s=${s//&/"$amp"}
	s=${s//</"$lt"}
	s=${s//>/"$gt"}
	printf '%s' "$s"
}

# set_auth DIR ROLE DLLNAME PARAMS: the plugin and DllParameters of ROLE
# (AMT or Socks) in DIR/mps.config, whose elements are one a line.
set_auth() {
	local dir=$1 role=$2 name=$3 params line inside=0
	params=$(xml_escape "$4")
	while IFS= read -r line; do
		case $line in
		*"<${role}_Authenticate>"*) inside=1 ;;
		*"</${role}_Authenticate>"*) inside=0 ;;
		*"<DllName>"*)
			[ $inside = 1 ] && line="    <DllName>$name</DllName>" ;;
		*"<DllParameters>"*)
			[ $inside = 1 ] && line="    <DllParameters>$params</DllParameters>" ;;
		esac
		printf '%s\n' "$line"
	done <"$dir/mps.config" >"$dir/mps.config.new" &&
		mv "$dir/mps.config.new" "$dir/mps.config"
}

# check DIR: mpsd -t on DIR/mps.config, output in DIR/out and DIR/err;
# returns mpsd's status.
check() {
	"$MPSD" -t -c "$1/mps.config" >"$1/out" 2>"$1/err"
}

if [ ! -x "$SERVICE" ]; then
	echo "1..0 # SKIP $SERVICE not built (make check builds it)"
	exit 0
fi

# The test service, plain HTTP, with one user.
printf 'alice:secret\n' >"$T/users.txt"
"$SERVICE" -users "$T/users.txt" >"$T/service.port" 2>"$T/service.log" &
track $!
ok "the test SOAP service starts" wait_for 10 test -s "$T/service.port"
PORT=$(head -n 1 "$T/service.port")
TARGET=http://127.0.0.1:$PORT/MPSAuthenticationService

# Good parameters: -t loads the plugin and runs its init.
G=$T/good
make_config "$G"
set_auth "$G" AMT SOAPAuthentication "-target $TARGET -user admin -pass Admin!123"
check "$G"
ok "mpsd -t accepts SOAPAuthentication with the guide's example parameters" test $? -eq 0
ok "-t says the configuration is OK" file_has "$G/out" "is OK"

# Quotes, every option, a CA file relative to mps.config's directory.
Q=$T/quoted
make_config "$Q"
cp "$T/certs/ca.pem" "$Q/service-ca.pem"	# made by make_config
set_auth "$Q" AMT SOAPAuthentication "-target \"https://127.0.0.1:$PORT/x\" -tls -cafile service-ca.pem -user \"ad min\" -pass \"p w<&>\" -connect-timeout 2 -timeout 4 -proxy http://127.0.0.1:3128 -proxyUserName pu -proxyPass \"pp w\""
check "$Q"
ok "every option, quoted values and a relative -cafile pass -t" test $? -eq 0

# One plugin file for both roles, with different parameters.
B=$T/both
make_config "$B"
set_auth "$B" AMT SOAPAuthentication "-target $TARGET"
set_auth "$B" Socks SOAPAuthentication "-target $TARGET -user console -pass c0nsole-pw -timeout 3"
check "$B"
ok "SOAPAuthentication for both roles at once passes -t" test $? -eq 0

# Bad parameters: the guide's message, then the plugin's reason, never
# the password.
bad() {
	local desc=$1 role=$2 params=$3 want=$4 msg
	local D=$T/bad$_tap_n
	make_config "$D"
	set_auth "$D" "$role" SOAPAuthentication "$params"
	check "$D"
	ok "$desc: -t fails" test $? -eq 1
	if [ "$role" = AMT ]; then
		msg="Failed loading AMT authentication dll."
	else
		msg="Failed loading Socks authentication dll."
	fi
	ok "$desc: the guide's message" file_has "$D/err" "$msg"
	ok "$desc: the reason" file_has "$D/err" "$want"
	ok "$desc: no password in the output" file_lacks "$D/err" "Pa55-w0rd"
}
bad "no -target" AMT "-user admin -pass Pa55-w0rd" "-target URL is required"
bad "an ftp target" AMT "-target ftp://127.0.0.1/x -user a -pass Pa55-w0rd" "must be an http:// or https:// URL"
bad "-krb" AMT "-target $TARGET -krb" "Kerberos is not supported"
bad "-tls with an http target" AMT "-target $TARGET -tls" "-tls requires an https://"
bad "an unknown option" AMT "-target $TARGET -frobnicate" "unknown option -frobnicate"
bad "a missing -cafile" AMT "-target https://127.0.0.1:$PORT/x -cafile nonexistent.pem" "cannot read -cafile nonexistent.pem"
bad "credentials in the URL" AMT "-target http://admin:Pa55-w0rd@127.0.0.1:$PORT/x" "must not hold credentials"
bad "a misplaced password" AMT "-target $TARGET -user admin Pa55-w0rd" "is not an option"
bad "the Socks role's parameters" Socks "-target $TARGET -pass Pa55-w0rd" "-user and -pass go together"

# Running with the plugin in both roles: init twice, fini twice.
R=$T/run
make_config "$R"
set_auth "$R" AMT SOAPAuthentication "-target $TARGET"
set_auth "$R" Socks SOAPAuthentication "-target $TARGET -timeout 3"
ok "mpsd starts with SOAPAuthentication in both roles" start_mpsd "$R"
ok "the AMT role's plugin is logged" file_has "$R/log/mps.log" "AMT authentication: $top_builddir/plugins/"
ok "the Socks role's plugin is logged" file_has "$R/log/mps.log" "Socks authentication: $top_builddir/plugins/"
ok "both are SOAPAuthentication" test "$(grep -c 'authentication: .*SOAPAuthentication' "$R/log/mps.log")" -eq 2
stop_pid "$MPSD_PID"
ok "mpsd stops with status 0 (both plugins' fini ran)" test $? -eq 0
ok "the stop is logged" file_has "$R/log/mps.log" "MPS has stopped its operation."

# A real SOAP toolkit: python3-zeep reads the WSDL and calls the service.
if /usr/bin/python3 -c 'import zeep' 2>/dev/null; then
	cat >"$T/zeep_call.py" <<'PY'
import sys
import zeep

wsdl, ns, address = sys.argv[1:4]
client = zeep.Client(wsdl)
service = client.create_service("{%s}MPSAuthenticationSoapBinding" % ns,
                                address)
args = sys.argv[4:]
for user, password in zip(args[0::2], args[1::2]):
    try:
        print(service.Authenticate(AuthenticateId=user,
                                   AuthenticatePassword=password))
    except zeep.exceptions.Fault as fault:
        print("Fault:", fault.message)
PY
	/usr/bin/python3 "$T/zeep_call.py" "$WSDL" "$NS" "$TARGET" \
		alice secret alice wrong fault-user x >"$T/zeep.out" 2>"$T/zeep.err"
	ok "zeep reads the shipped WSDL and calls the service" test $? -eq 0
	ok "zeep: the right password gives true, a wrong one false" \
		test "$(head -n 2 "$T/zeep.out" | tr '\n' ' ')" = "True False "
	ok "zeep: the fault user gives a SOAP Fault" \
		file_has "$T/zeep.out" "Fault: magic fault for fault-user"
else
	for d in "zeep reads the shipped WSDL" "zeep: true and false" "zeep: a SOAP Fault"; do
		skip "$d" "python3-zeep is not installed"
	done
fi

done_testing

#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# console_apache.sh: the guide's topology with Apache as the inner
# firewall (guide 6.4, 8.3), with the real apache2 and the shipped sample
# config/apache-mps-proxy.conf: curl -x to Apache, Apache chains to mpsd's
# HTTP port with ProxyRemote, mpsd carries it to a simulated device.
# Absolute-URI GET and POST and CONNECT (curl -p) get the exact bytes;
# Apache's AllowCONNECT refuses non-AMT ports before mpsd sees them;
# mpsd's refusals come back through Apache; with mpsd's console
# authentication on, the sample's RequestHeader line authenticates
# absolute-URI requests.
. "$(dirname "$0")/console_lib.sh"
require_peers

APACHE=${APACHE:-$(command -v apache2 2>/dev/null || command -v httpd 2>/dev/null ||
	{ [ -x /usr/sbin/apache2 ] && echo /usr/sbin/apache2; })}
APACHE_MODULES=${APACHE_MODULES:-/usr/lib/apache2/modules}
SAMPLE=$top_srcdir/config/apache-mps-proxy.conf
if [ -z "$APACHE" ] || [ ! -x "$APACHE" ]; then
	echo "1..0 # SKIP apache2 is not installed (apt-get install apache2)"
	exit 0
fi
for m in mpm_event authz_core authz_host proxy proxy_http proxy_connect headers; do
	if [ ! -f "$APACHE_MODULES/mod_$m.so" ]; then
		echo "1..0 # SKIP $APACHE_MODULES/mod_$m.so is missing"
		exit 0
	fi
done

# start_apache NAME MPSD_HTTP_PORT [SED...]: Apache with the sample,
# instantiated for this test (its Listen, mpsd's port, the consoles'
# addresses), plus SED expressions; APACHE_PORT, APACHE_PID.
start_apache() {
	local name=$1 upstream=$2 dir=$T/$1 m
	shift 2
	mkdir -p "$dir/logs"
	APACHE_PORT=$(free_port)
	local sedargs=(
		-e "s|^Listen 3128\$|Listen 127.0.0.1:$APACHE_PORT|"
		-e "s|<VirtualHost \*:3128>|<VirtualHost 127.0.0.1:$APACHE_PORT>|"
		-e "s|\"http://127.0.0.1:8080\"|\"http://127.0.0.1:$upstream\"|"
		-e "s|Require ip 192.0.2.0/24|Require ip 127.0.0.1|"
	)
	for m in "$@"; do
		sedargs+=(-e "$m")
	done
	sed "${sedargs[@]}" "$SAMPLE" >"$dir/mps-proxy.conf"
	{
		echo "ServerRoot \"$dir\""
		echo "ServerName 127.0.0.1"
		echo "PidFile $dir/logs/httpd.pid"
		echo "DefaultRuntimeDir $dir/logs"
		echo "Mutex file:$dir/logs default"
		echo "ErrorLog $dir/logs/error.log"
		echo "LogLevel warn"
		if [ "$(id -u)" = 0 ]; then
			echo "User nobody"
			echo "Group nogroup"
		fi
		for m in mpm_event authz_core authz_host proxy proxy_http proxy_connect headers; do
			echo "LoadModule ${m}_module $APACHE_MODULES/mod_$m.so"
		done
		echo "Include $dir/mps-proxy.conf"
	} >"$dir/httpd.conf"
	[ "$(id -u)" = 0 ] && chown nobody:nogroup "$dir/logs"
	"$APACHE" -t -f "$dir/httpd.conf" >"$dir/configtest" 2>&1 || return 1
	"$APACHE" -f "$dir/httpd.conf" -DFOREGROUND >"$dir/stdout" 2>&1 &
	APACHE_PID=$!
	track "$APACHE_PID"
	wait_for 10 port_in_use "$APACHE_PORT"
}

# Both lines of the sample we rewrite must be there, or the test would
# pass on a config that does not chain to mpsd.
ok "the sample has the lines the test instantiates" \
	sh -c "grep -q '^Listen 3128\$' '$SAMPLE' && grep -q 'ProxyRemote \"\\*\" \"http://127.0.0.1:8080\"' '$SAMPLE' && grep -q '^    AllowCONNECT 623 664 16992 16993 16994 16995\$' '$SAMPLE'"

A=$T/a
make_config "$A" "$SOCKS_AUTH_OFF"
ok "mpsd starts with console authentication off (Apache is the gate)" start_mpsd "$A"
MPSD_A=$MPSD_PID
console_ports "$A"
log=$A/log/mps.log
start_origin || { echo "Bail out! origin_http did not start"; exit 1; }
ORIGIN_ADDR=127.0.0.1:$ORIGIN_PORT
ok "two devices log in" start_sim devs --count 2 --ports 16992,16993,16994 \
	--target "16992=$ORIGIN_ADDR" --target "16993=$ORIGIN_ADDR"
DEVS=$SIM_PID

ok "apache2 -t accepts the sample" start_apache ap "$HTTP_PORT"
ok "... Syntax OK" file_has "$T/ap/configtest" "Syntax OK"
APROXY=http://127.0.0.1:$APACHE_PORT
# ap_curl ARGS...: curl with Apache as its HTTP proxy.
ap_curl() { curl -sS --max-time 30 -x "$APROXY" "$@"; }

ap_curl -o "$T/get" "http://dev-0.amt.test:16992/bytes/1000000"
ok "curl -> Apache -> mpsd -> device: GET returns the exact bytes" \
	same_file "$(expected 1000000)" "$T/get"
ap_curl -o "$T/chunked" "http://dev-1.amt.test:16992/chunked/654321"
ok "... a chunked GET" same_file "$(expected 654321)" "$T/chunked"
up=$(random_file up 1500000)
ap_curl --data-binary @"$up" -o "$T/echo" "http://dev-1.amt.test:16992/echo"
ok "... a sized POST is echoed exactly" same_file "$up" "$T/echo"
ap_curl -H 'Transfer-Encoding: chunked' --data-binary @"$up" -o "$T/echo-chunked" \
	"http://dev-0.amt.test:16992/echo"
ok "... a chunked POST is echoed exactly" same_file "$up" "$T/echo-chunked"
ap_curl -o "$T/headers" "http://dev-0.amt.test:16992/headers"
ok "the device gets the request in origin form" \
	grep -q $'^GET /headers HTTP/1.1\r$' "$T/headers"
ap_curl -p -o "$T/tunnel" "http://dev-0.amt.test:16992/bytes/1000000"
ok "curl -p -> Apache CONNECT -> mpsd: the exact bytes through the tunnel" \
	same_file "$(expected 1000000)" "$T/tunnel"
ap_curl -p --data-binary @"$up" -o "$T/tunnel-echo" "http://dev-1.amt.test:16993/echo"
ok "... a POST through a CONNECT tunnel to 16993" same_file "$up" "$T/tunnel-echo"
ok "log: the channel opened for the console (Apache, 127.0.0.1)" \
	wait_for 5 grep -qE "$(channel_opened_re dev-1.amt.test)" "$log"
ok "log: the console has shutdown" wait_for 5 file_has "$log" "$CONSOLE_SHUTDOWN"

before=$(count_lines "$log" 'asked for|Channel between')
code=$(curl -s --max-time 30 -p -x "$APROXY" -o /dev/null -w '%{http_connect}' \
	"http://dev-0.amt.test:5900/" 2>/dev/null)
ok "Apache's AllowCONNECT refuses port 5900 itself ($code)" test "$code" = 403 -o "$code" = 405
code=$(curl -s --max-time 30 -p -x "$APROXY" -o /dev/null -w '%{http_connect}' \
	"http://dev-0.amt.test:8443/" 2>/dev/null)
ok "... and port 8443 ($code)" test "$code" = 403 -o "$code" = 405
ok "mpsd never saw those" test "$(count_lines "$log" 'asked for|Channel between')" -eq "$before"

code=$(ap_curl -o /dev/null -w '%{http_code}' "http://nosuch.amt.test:16992/small" 2>/dev/null)
ok "an unknown device: mpsd's 502 comes back through Apache" test "$code" = 502
code=$(curl -s --max-time 30 -p -x "$APROXY" -o /dev/null -w '%{http_connect}' \
	"http://nosuch.amt.test:16992/" 2>/dev/null)
ok "CONNECT to an unknown device: 502 through Apache" test "$code" = 502
code=$(ap_curl -o /dev/null -w '%{http_code}' "http://dev-0.amt.test:16994/small" 2>/dev/null)
ok "the device refuses the channel: 502 through Apache" test "$code" = 502

stop_pid "$APACHE_PID"
ok "Apache stops" test $? -eq 0

# mpsd with console authentication on: the sample's RequestHeader line.
B=$T/b
make_config "$B"
ok "a second mpsd starts with console authentication on" start_mpsd "$B"
MPSD_B=$MPSD_PID
console_ports "$B"
ok "a device logs in to it" start_sim devb --ports 16992 --target "16992=$ORIGIN_ADDR"
DEVB=$SIM_PID
ok "Apache starts with the sample's RequestHeader line enabled" \
	start_apache apb "$HTTP_PORT" "s|^    #RequestHeader set Proxy-Authorization|    RequestHeader set Proxy-Authorization|"
APROXY=http://127.0.0.1:$APACHE_PORT
ap_curl -o "$T/auth-get" "http://dev-0.amt.test:16992/bytes/200000"
ok "Apache authenticates to mpsd: GET returns the exact bytes" \
	same_file "$(expected 200000)" "$T/auth-get"
ap_curl -o "$T/auth-headers" "http://dev-0.amt.test:16992/headers"
ok "... and the credentials stop at mpsd" \
	sh -c "! grep -qi '^Proxy-Authorization:' '$T/auth-headers'"
code=$(curl -s --max-time 30 -p -x "$APROXY" -o /dev/null -w '%{http_connect}' \
	"http://dev-0.amt.test:16992/" 2>/dev/null)
diag "CONNECT through Apache with mpsd's authentication on: $code (mod_proxy_connect sends no credentials)"
stop_pid "$APACHE_PID"
ok "Apache stops" test $? -eq 0

stop_pid "$DEVB"
ok "the device of the second mpsd leaves cleanly" test $? -eq 0
stop_pid "$MPSD_B"
ok "the second mpsd stops cleanly" test $? -eq 0
ok "no device saw a protocol error" sh -c "! grep -q 'protocol-error' '$T/devs.out'"
stop_pid "$DEVS"
ok "the devices leave cleanly (simulator exit 0)" test $? -eq 0
stop_pid "$MPSD_A"
ok "mpsd stops cleanly" test $? -eq 0

done_testing

#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# auth_lanes.sh: a device authentication backend that hangs holds only the
# device login lane (issue 12). Devices log in through the real
# SOAPAuthentication plugin against the test SOAP service, as a user it
# accepts and never answers; 40 of them at once fill DeviceAuthThreads
# (4 here) and AuthQueueLength (8 here). Meanwhile a console with the right
# password logs in promptly through SOCKS (curl) and through the HTTP
# proxy, and a notification still reaches a real subscriber at once. The
# devices beyond the queue get their normal login failure at once, the
# ones queued after AuthQueueTimeout, and the refusals are one WARNING,
# counted in /metrics. Devices and consoles use different plugins here
# (SOAP, file): one backend for both would hang both, lanes or not.
. "$(dirname "$0")/console_lib.sh"
require_peers

SERVICE=$top_builddir/tests/peers/soap_auth_service
SUB=$top_srcdir/tests/peers/notify_subscriber.py
WSDL=$top_srcdir/config/MpsNotification.wsdl
if [ ! -x "$SERVICE" ]; then
	echo "1..0 # SKIP $SERVICE not built (make check builds it)"
	exit 0
fi

# The SOAP service: admin/P@ssw0rd (amtsim's default) answered at once,
# hang-user accepted and never answered.
printf 'admin:P@ssw0rd\n' >"$T/users.txt"
"$SERVICE" -users "$T/users.txt" -watch-stdin >"$T/service.port" \
	2>"$T/service.log" < <(sleep 3600) &
track $!
ok "the test SOAP service starts" wait_for 10 test -s "$T/service.port"
TARGET=http://127.0.0.1:$(head -n 1 "$T/service.port")/MPSAuthenticationService

# A notification subscriber (validates every envelope against the WSDL).
python3 "$SUB" --wsdl "$WSDL" --log "$T/sub.log" >"$T/sub.port" \
	2>"$T/sub.err" &
track $!
ok "a notification subscriber starts" wait_for 10 test -s "$T/sub.port"

AP=$(free_port)
A=$T/a
make_config "$A" \
	"/<AMT_Authenticate>/,/<\/AMT_Authenticate>/s|<DllName>[^<]*<|<DllName>SOAPAuthentication<|" \
	"/<AMT_Authenticate>/,/<\/AMT_Authenticate>/s|<DllParameters>[^<]*<|<DllParameters>-target $TARGET -timeout 12<|" \
	"$(tunnel_settings "<Limits><DeviceAuthThreads>4</DeviceAuthThreads><AuthQueueLength>8</AuthQueueLength><AuthQueueTimeout>3</AuthQueueTimeout><MaxPreAuthPerAddress>1000</MaxPreAuthPerAddress></Limits><Admin><Enabled>true</Enabled><ListenPort>$AP</ListenPort><TokenFile>admin.token</TokenFile></Admin>")"
echo "http://127.0.0.1:$(head -n 1 "$T/sub.port")/notify" >"$A/NotificationList.config"
openssl rand -hex 24 >"$A/admin.token"
chmod 600 "$A/admin.token"
ok "mpsd starts with SOAPAuthentication for devices" start_mpsd "$A"
console_ports "$A"
log=$A/log/mps.log
ok "the AMT role's plugin is SOAPAuthentication" \
	grep -q "AMT authentication: .*SOAPAuthentication" "$log"
start_origin || { echo "Bail out! origin_http did not start"; exit 1; }

# metric NAME_AND_LABELS: its value in /metrics.
metric() {
	curl -sS --max-time 10 -H "Authorization: Bearer $(cat "$A/admin.token")" \
		"http://127.0.0.1:$AP/metrics" | grep -F "$1 " | awk '{print $2}'
}

# busy_is N: N device logins are on the backend now (evaluated each time
# wait_for tries it).
busy_is() { test "$(metric 'mpsd_lane_busy{lane="device_auth"}')" = "$1"; }

# A device logs in before the storm (the backend answers admin at once).
ok "a device logs in through the SOAP backend and forwards 16992" \
	start_sim good --uuid 12345678-9abc-def0-1234-000000000000 \
	--ports 16992 --target "16992=127.0.0.1:$ORIGIN_PORT"
GOOD=$SIM_PID
ok "the subscriber hears it CONNECTED" \
	wait_for 10 grep -q "State=0.*Uuid=12345678-9abc-def0-1234-000000000000\|Uuid=12345678-9abc-def0-1234-000000000000.*State=0" "$T/sub.log" 2>/dev/null

# The storm: 40 devices whose logins the backend never answers.
t_storm=$(date +%s%N)
"$SIM" --port "$AMT_PORT" --ca "$T/certs/ca.pem" --server-name localhost \
	--uuid 12345678-9abc-def0-1234-100000000000 --first-index 100 \
	--count 40 --user hang-user --reply-timeout 30 >"$T/storm.out" 2>&1 &
STORM=$!
track $STORM
# refused N: at least N storm devices got USERAUTH_FAILURE.
refused() { test "$(grep -c 'auth-failed methods=' "$T/storm.out")" -ge "$1"; }
# Well before the plugin's 12 s timeout: nothing waited for the backend
# (40 TLS handshakes at once take a few seconds on a loaded machine).
ok "device logins beyond the lane's threads and queue are refused unheard" \
	wait_for 30 refused 28
refused_ms=$(( ($(date +%s%N) - t_storm) / 1000000 ))
diag "28 of 40 hung-backend logins refused within $refused_ms ms of the storm"
ok "... as the device's normal login failure (USERAUTH_FAILURE)" \
	grep -q '^device 1[0-9][0-9] auth-failed methods=password' "$T/storm.out"
ok "the device lane is full: 4 logins wait on the backend" \
	wait_for 10 busy_is 4

# A console with the right password, through SOCKS, while the device
# lane is stuck.
t0=$(date +%s%N)
socks_curl -o "$T/get" "http://dev-0.amt.test:16992/bytes/4096"
rc=$?
socks_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
diag "SOCKS console login and request took $socks_ms ms while device logins hung"
ok "a SOCKS console with the right password gets through (curl)" \
	test $rc = 0
ok "... the exact bytes" same_file "$(expected 4096)" "$T/get"
ok "... within 3 s" test "$socks_ms" -lt 3000

t0=$(date +%s%N)
http_curl -o "$T/hget" "http://dev-0.amt.test:16992/bytes/4096"
rc=$?
http_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
diag "HTTP proxy console login and request took $http_ms ms"
ok "an HTTP proxy console with the right password gets through" \
	test $rc = 0 -a "$http_ms" -lt 3000
ok "... the exact bytes" same_file "$(expected 4096)" "$T/hget"

# A notification while the device lane is stuck: the good device leaves.
t0=$(date +%s%N)
kill -TERM "$GOOD"
ok "the subscriber hears DISCONNECTED within 3 s" \
	wait_for 3 grep -q "State=1.*Uuid=12345678-9abc-def0-1234-000000000000\|Uuid=12345678-9abc-def0-1234-000000000000.*State=1" "$T/sub.log" 2>/dev/null
diag "DISCONNECTED delivered $(( ($(date +%s%N) - t0) / 1000000 )) ms after the device left"

# The queued logins are refused after AuthQueueTimeout (3 s); the 4 on
# the backend wait for it.
ok "the 8 queued logins are refused after AuthQueueTimeout" \
	wait_for 15 refused 36
ok "mpsd_lane_refusals_total counts the queue_full refusals" \
	test "$(metric 'mpsd_lane_refusals_total{lane="device_auth",reason="queue_full"}')" -ge 28
ok "... and the queue_timeout ones" \
	test "$(metric 'mpsd_lane_refusals_total{lane="device_auth",reason="queue_timeout"}')" -ge 8
ok "... as busy device logins" \
	test "$(metric 'mpsd_device_logins_total{result="refused",reason="busy"}')" -ge 36
ok "no console login was refused" \
	test "$(metric 'mpsd_lane_refusals_total{lane="console_auth",reason="queue_full"}')" = 0
n=$(grep -c "Device logins refused unheard" "$log")
diag "refusal WARNING lines: $n"
ok "the refusals are one rate-limited WARNING, not one per device" \
	test "$n" -ge 1 -a "$n" -le 2
ok "... naming the lane's threads and the backend" \
	grep -q "WARNING.*Device logins refused unheard: .* [0-9]* of 4 DeviceAuthThreads threads busy.*AMT authentication backend" "$log"
ok "no password reached the log" file_lacks "$log" "P@ssw0rd"

# The plugin's own timeout (12 s) ends the hung calls and frees the lane.
ok "the hung calls end at the plugin's -timeout and free the device lane" \
	wait_for 30 busy_is 0
kill -TERM "$STORM" 2>/dev/null
stop_pid "$MPSD_PID"
rc=$?
diag "mpsd exit status $rc"
ok "mpsd stops cleanly" test $rc = 0
done_testing

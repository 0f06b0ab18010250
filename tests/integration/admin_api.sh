#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# admin_api.sh: the admin API (server/admin/) against a real mpsd with a
# simulated device (tests/sim/amtsim) holding a console channel: the
# bearer token, devices by UUID and FQDN, disconnect (the device sees
# DISCONNECT 11; the log names who asked), status, /metrics read by an
# independent parser (python3-prometheus-client), mpsctl (tables and
# --json), and the status page in a real headless Chromium.
. "$(dirname "$0")/lib.sh"

SIM=$top_builddir/tests/sim/amtsim
MPSCTL=$top_builddir/server/admin/mpsctl
PY=/usr/bin/python3
SUB=$top_srcdir/tests/peers/notify_subscriber.py
WSDL=$top_srcdir/config/MpsNotification.wsdl
UUID=48534188-5245-4188-5348-455288415348
FQDN=admin-test.amt.example
certs=$(test_certs)

# A notification subscriber, so that per-subscriber metrics have a row.
python3 "$SUB" --wsdl "$WSDL" --log "$T/sub.log" >"$T/sub.port" 2>"$T/sub.err" &
track $!
ok "a notification subscriber starts" wait_for 10 test -s "$T/sub.port"
SUB_URL="http://127.0.0.1:$(head -n 1 "$T/sub.port")/notify"

# An echo server: the device's port 16992 leads there.
ECHO_PORT=$(free_port)
socat "TCP-LISTEN:$ECHO_PORT,bind=127.0.0.1,reuseaddr,fork" EXEC:cat &
track $!
ok "an echo target listens" wait_for 5 port_in_use "$ECHO_PORT"

A=$T/a
AP=$(free_port)
make_config "$A" "s|</MPS>|<Admin><Enabled>true</Enabled><ListenPort>$AP</ListenPort><TokenFile>admin.token</TokenFile></Admin></MPS>|"
echo "$SUB_URL" >"$A/NotificationList.config"
openssl rand -hex 24 >"$A/admin.token"
chmod 644 "$A/admin.token"
ok "mpsd -t refuses a world-readable token file" \
	sh -c "! '$MPSD' -t -c '$A/mps.config' >'$T/t.out' 2>&1 && grep -q 'chmod 600' '$T/t.out'"
chmod 600 "$A/admin.token"
ok "mpsd -t accepts the configuration with the token file at 0600" \
	"$MPSD" -t -c "$A/mps.config"
ok "mpsd starts with the admin API" start_mpsd "$A"
log=$A/log/mps.log
ok "the log announces the admin listener on loopback" \
	file_has "$log" "Admin API listening on 127.0.0.1:$AP (bearer token required)"
TOKEN=$(cat "$A/admin.token")
BASE=http://127.0.0.1:$AP

# status CODE_FILE URL [curl args]: the HTTP status of a request.
status() { curl -s -o "$T/body" -w '%{http_code}' --max-time 10 "$@"; }
api() { curl -sS --max-time 10 -H "Authorization: Bearer $TOKEN" "$@"; }
# jq-like: json FILE EXPR (Python expression on j)
json() { "$PY" -c "import json,sys; j=json.load(open(sys.argv[1])); print($2)" "$1"; }

# ---- authentication --------------------------------------------------------
for path in / /api/v1/devices /api/v1/status /metrics /api/v1/devices/$UUID /nonexistent; do
	ok "GET $path without a token: 401" test "$(status "$BASE$path")" = 401
done
ok "POST disconnect without a token: 401" \
	test "$(status -X POST "$BASE/api/v1/devices/$UUID/disconnect")" = 401
ok "a wrong token: 401" test "$(status -H "Authorization: Bearer x$TOKEN" "$BASE/api/v1/devices")" = 401
ok "the token as Basic credentials: 401" \
	test "$(status -u "admin:$TOKEN" "$BASE/api/v1/devices")" = 401
ok "the 401 says Bearer (WWW-Authenticate)" \
	sh -c "curl -sI '$BASE/metrics' | grep -qi '^WWW-Authenticate: Bearer'"
ok "refusals are logged with the client's address" \
	wait_for 5 grep -q "Admin API: GET /api/v1/devices from 127.0.0.1:[0-9]* (curl/[^)]*) refused: no valid bearer token" "$log"

# ---- a device with a channel ----------------------------------------------
"$SIM" --port "$(amt_port "$A")" --ca "$certs/ca.pem" --server-name localhost \
	--uuid "$UUID" --fqdn "$FQDN" --ports 16992,16993 \
	--target "16992=127.0.0.1:$ECHO_PORT" --duration 600 >"$T/sim.out" 2>&1 &
SIM_PID=$!
track $SIM_PID
ok "the simulated device is connected" wait_for 10 grep -q "^device 0 ready" "$T/sim.out"
SOCKS=$(sed -n 's|.*<SocksListenPort>\([0-9]*\)<.*|\1|p' "$A/mps.config")
# A console holds a channel open through SOCKS for a few seconds.
# (curl writes what comes back when it ends: checked after the disconnect.)
(echo hello; sleep 300) | curl -s -N --max-time 300 --proxy-user console:console-demo \
	--socks5-hostname "127.0.0.1:$SOCKS" "telnet://$FQDN:16992" >"$T/console.out" 2>&1 &
track $!
ok "the console's channel is open" \
	wait_for 15 sh -c "curl -s -H 'Authorization: Bearer $TOKEN' $BASE/api/v1/devices | grep -q '\"channels\": 1'"

api "$BASE/api/v1/devices" >"$T/devices.json"
ok "GET /api/v1/devices lists one device" test "$(json "$T/devices.json" 'j["count"]')" = 1
ok "... with its UUID" test "$(json "$T/devices.json" 'j["devices"][0]["uuid"]')" = "$UUID"
ok "... its FQDN" test "$(json "$T/devices.json" 'j["devices"][0]["fqdn"]')" = "$FQDN"
ok "... its peer address" \
	test "$(json "$T/devices.json" 'j["devices"][0]["peer"].startswith("127.0.0.1:")')" = True
ok "... its forwarded ports" test "$(json "$T/devices.json" 'sorted(j["devices"][0]["ports"])')" = "[16992, 16993]"
ok "... connected since (ISO 8601)" \
	sh -c "json() { $PY -c 'import json,sys,datetime; d=json.load(open(sys.argv[1]))[\"devices\"][0][\"connected_since\"]; datetime.datetime.strptime(d, \"%Y-%m-%dT%H:%M:%SZ\"); print(d)' \"\$1\"; }; json '$T/devices.json'"
ok "... bytes in and out counted" \
	test "$(json "$T/devices.json" 'j["devices"][0]["bytes_in"] > 0 and j["devices"][0]["bytes_out"] > 0')" = True
ok "... one open channel" test "$(json "$T/devices.json" 'j["devices"][0]["channels"]')" = 1

api "$BASE/api/v1/devices/$UUID" >"$T/by_uuid.json"
ok "GET /api/v1/devices/{uuid} shows it" test "$(json "$T/by_uuid.json" 'j["fqdn"]')" = "$FQDN"
UPPER=$(echo "$UUID" | tr a-f A-F)
api "$BASE/api/v1/devices/$UPPER" >"$T/by_upper.json"
ok "... a UUID in upper case too" test "$(json "$T/by_upper.json" 'j["uuid"]')" = "$UUID"
api "$BASE/api/v1/devices/$FQDN" >"$T/by_fqdn.json"
ok "GET /api/v1/devices/{fqdn} shows it" test "$(json "$T/by_fqdn.json" 'j["uuid"]')" = "$UUID"
ok "an unknown device: 404" \
	test "$(status -H "Authorization: Bearer $TOKEN" "$BASE/api/v1/devices/nosuch.example")" = 404
ok "GET on the disconnect URL: 405" \
	test "$(status -H "Authorization: Bearer $TOKEN" "$BASE/api/v1/devices/$UUID/disconnect")" = 405
ok "POST on the device list: 405" \
	test "$(status -X POST -H "Authorization: Bearer $TOKEN" "$BASE/api/v1/devices")" = 405

# ---- status ----------------------------------------------------------------
api "$BASE/api/v1/status" >"$T/status.json"
ok "status: the version (as mpsd -V says)" \
	test "mpsd $(json "$T/status.json" 'j["version"]')" = "$("$MPSD" -V | head -n 1)"
ok "status: the pid" test "$(json "$T/status.json" 'j["pid"]')" = "$MPSD_PID"
ok "status: uptime" test "$(json "$T/status.json" 'j["uptime_seconds"] >= 0 and len(j["started"]) == 20')" = True
ok "status: one device, one channel" test "$(json "$T/status.json" '(j["devices"], j["channels"])')" = "(1, 1)"
ok "status: the four listeners with their ports" \
	test "$(json "$T/status.json" 'sorted((l["name"], l["port"]) for l in j["listeners"])[0]')" = "('admin', $AP)"
ok "status: the AMT listener is TLS on the configured port" \
	test "$(json "$T/status.json" '[l for l in j["listeners"] if l["name"] == "amt"][0]["port"]')" = "$(amt_port "$A")"
ok "status: the device authentication plugin" \
	sh -c "$PY -c 'import json,sys; assert json.load(open(sys.argv[1]))[\"plugins\"][\"device_auth\"].endswith(\"AMTFileAuth.so\")' '$T/status.json'"
ok "status: the subscriber with its deliveries" \
	wait_for 5 sh -c "curl -s -H 'Authorization: Bearer $TOKEN' $BASE/api/v1/status | $PY -c 'import json,sys; s=json.load(sys.stdin)[\"subscribers\"]; assert s[0][\"url\"] == \"$SUB_URL\" and s[0][\"delivered\"] >= 1'"

# ---- metrics ---------------------------------------------------------------
api "$BASE/metrics" >"$T/metrics.txt"
cat >"$T/parse.py" <<'PYEOF'
import sys
from prometheus_client.parser import text_string_to_metric_families
text = open(sys.argv[1]).read()
fams = {f.name: f for f in text_string_to_metric_families(text)}
def value(name, **labels):
    for f in fams.values():
        for s in f.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    raise SystemExit("no sample %s %s" % (name, labels))
checks = {
    # family (as the parser names it: counters without _total): type
    "mpsd_devices_connected": "gauge",
    "mpsd_device_logins": "counter",
    "mpsd_tls_handshake_failures": "counter",
    "mpsd_console_requests": "counter",
    "mpsd_channels_open": "gauge",
    "mpsd_tunnel_bytes": "counter",
    "mpsd_notifications": "counter",
    "mpsd_auth_plugin_duration_seconds": "histogram",
    "mpsd_keepalive_timeouts": "counter",
}
for name, typ in checks.items():
    assert name in fams, "missing family " + name
    assert fams[name].type == typ, "%s is %s, not %s" % (name, fams[name].type, typ)
assert all(n.startswith("mpsd_") for n in fams), "a family without the mpsd_ prefix"
assert value("mpsd_devices_connected") == 1
assert value("mpsd_device_logins_total", result="accepted", reason="password") >= 1
assert value("mpsd_channels_open") == 1
assert value("mpsd_console_requests_total", front="socks", result="opened") == 1
assert value("mpsd_tunnel_bytes_total", direction="from_device") > 0
assert value("mpsd_tunnel_bytes_total", direction="to_device") > 0
assert value("mpsd_notifications_total", subscriber=sys.argv[2], result="delivered") >= 1
# The device's and the console's logins both went through plugins.
assert value("mpsd_auth_plugin_duration_seconds_count", side="device") >= 1
assert value("mpsd_auth_plugin_duration_seconds_count", side="console") >= 1
print("parsed %d families" % len(fams))
PYEOF
ok "/metrics parses (prometheus_client) with the expected names, types and values" \
	"$PY" "$T/parse.py" "$T/metrics.txt" "$SUB_URL"
ok "/metrics is served as the text format 0.0.4" \
	sh -c "curl -sI -H 'Authorization: Bearer $TOKEN' $BASE/metrics | grep -qi '^Content-Type: text/plain; version=0.0.4'"

# ---- mpsctl ---------------------------------------------------------------
"$MPSCTL" -c "$A/mps.config" list >"$T/ctl_list.txt" 2>&1
ok "mpsctl list: a table with a header" grep -q "^UUID .*FQDN .*PEER .*PORTS" "$T/ctl_list.txt"
ok "mpsctl list: the device's row" grep -q "^$UUID  $FQDN  127.0.0.1:" "$T/ctl_list.txt"
ok "mpsctl list: the count" grep -q "^1 device(s)$" "$T/ctl_list.txt"
"$MPSCTL" -c "$A/mps.config" --json list >"$T/ctl_list.json"
ok "mpsctl --json list: the API's JSON" test "$(json "$T/ctl_list.json" 'j["devices"][0]["uuid"]')" = "$UUID"
"$MPSCTL" -c "$A/mps.config" show "$FQDN" >"$T/ctl_show.txt"
ok "mpsctl show FQDN" grep -q "^UUID: *$UUID$" "$T/ctl_show.txt"
ok "mpsctl show: channels" grep -q "^Channels: *1$" "$T/ctl_show.txt"
"$MPSCTL" -c "$A/mps.config" --json show "$UUID" >"$T/ctl_show.json"
ok "mpsctl --json show UUID" test "$(json "$T/ctl_show.json" 'j["fqdn"]')" = "$FQDN"
"$MPSCTL" -c "$A/mps.config" status >"$T/ctl_status.txt"
ok "mpsctl status: devices and listeners" \
	sh -c "grep -q '^Devices: *1$' '$T/ctl_status.txt' && grep -q '^  admin  127.0.0.1:$AP (http)$' '$T/ctl_status.txt'"
"$MPSCTL" -c "$A/mps.config" show nosuch.example >/dev/null 2>"$T/ctl_404.txt"
ok "mpsctl show of an unknown device fails (exit 1) with the API's message" \
	sh -c "'$MPSCTL' -c '$A/mps.config' show nosuch.example >/dev/null 2>&1; test \$? -eq 1 && grep -q 'no such device' '$T/ctl_404.txt'"
cp "$A/admin.token" "$T/wrong.token"; echo "0000000000000000000000" >"$T/wrong.token"
ok "mpsctl with a wrong token fails with 401" \
	sh -c "! '$MPSCTL' -c '$A/mps.config' --token-file '$T/wrong.token' list 2>'$T/ctl_401.txt' && grep -q 401 '$T/ctl_401.txt'"

# ---- the status page in a real browser -----------------------------------
start_peer proxy bearer_proxy.py "$AP" "$A/admin.token"
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
chrome() {
	timeout 90 "$CHROMIUM" --headless --no-sandbox --disable-gpu \
		--user-data-dir="$T/chrome" --no-first-run --disable-extensions \
		--virtual-time-budget=3000 --dump-dom "$1" 2>>"$T/chrome.err"
}
if [ -z "$CHROMIUM" ] || ! chrome "about:blank" >/dev/null || [ -z "${PEER_PORT:-}" ]; then
	skip "the status page in headless Chromium" "chromium cannot start here"
else
	chrome "http://127.0.0.1:$PEER_PORT/" >"$T/page.html"
	ok "Chromium renders the status page (through a header-adding proxy)" \
		grep -q "<h1>mpsd " "$T/page.html"
	ok "the page's table shows the connected device's UUID and FQDN" \
		sh -c "grep -q '<td>$UUID</td><td>$FQDN</td>' '$T/page.html'"
	ok "the page's counts show one device" grep -q 'id="ndev">1<' "$T/page.html"
	ok "the page's script refreshed the table from the API in the browser" \
		grep -q 'data-refreshed="' "$T/page.html"
	ok "the search box is there" grep -q '<input id="q" type="search"' "$T/page.html"
	ok "the page is served with a Content-Security-Policy" \
		sh -c "curl -sI -H 'Authorization: Bearer $TOKEN' $BASE/ | grep -qi \"^Content-Security-Policy: default-src 'none'\""
	chrome "$BASE/" >"$T/page_direct.html"
	ok "straight to mpsd, without the token, the browser gets the 401" \
		sh -c "grep -q 'a valid bearer token is required' '$T/page_direct.html' && ! grep -q '$UUID' '$T/page_direct.html'"
fi

# ---- disconnect --------------------------------------------------------------
"$MPSCTL" -c "$A/mps.config" disconnect "$FQDN" >"$T/ctl_disc.txt"
ok "mpsctl disconnect FQDN" grep -q "^Disconnecting $UUID ($FQDN) (DISCONNECT reason 11)$" "$T/ctl_disc.txt"
ok "the device receives DISCONNECT reason 11" \
	wait_for 5 grep -q "^device 0 disconnected reason=11 .*by=server" "$T/sim.out"
ok "the log names who asked (address and client)" \
	grep -q "Admin API: 127.0.0.1:[0-9]* (mpsctl (user [^)]*)) asked to disconnect Intel remote client $FQDN ($UUID)" "$log"
ok "the device's close is logged with reason 11 and the requester" \
	grep -q "Intel remote client $FQDN ($UUID) (127.0.0.1:[0-9]*): disconnected through the admin API by 127.0.0.1:[0-9]* (mpsctl (user [^)]*)); disconnecting (reason 11)" "$log"
ok "the device is gone from the list" \
	wait_for 5 sh -c "curl -s -H 'Authorization: Bearer $TOKEN' $BASE/api/v1/devices | grep -q '\"count\": 0'"
ok "the channel gauge is back to 0" \
	wait_for 5 sh -c "curl -s -H 'Authorization: Bearer $TOKEN' $BASE/metrics | grep -q '^mpsd_channels_open 0$'"
ok "the console's bytes went through the channel and back" \
	wait_for 10 grep -q hello "$T/console.out"
ok "a disconnect of a gone device: 404" \
	test "$(status -X POST -H "Authorization: Bearer $TOKEN" "$BASE/api/v1/devices/$UUID/disconnect")" = 404

ok "mpsd stops cleanly with the admin API running" stop_pid "$MPSD_PID"
done_testing

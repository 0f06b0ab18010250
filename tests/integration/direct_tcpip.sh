#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# direct_tcpip.sh: device-initiated connections through a real mpsd, the
# way AMT delivers WS-Eventing. A simulated device opens CHANNEL_OPEN
# direct-tcpip to host:port and posts an HTTP request through it. mpsd
# connects only when the target passes the AuthorizedServers filter
# (guide 6.1 Filtering, 6.2: "If a WS-Event connection is attempted to
# an address not in the list, the connection will be refused"), then
# relays both ways under the channel windows:
#   listed, listening      the subscriber gets the POST byte-identical and
#                          the device gets the subscriber's answer whole;
#   not listed             CHANNEL_OPEN_FAILURE 1 and a WARNING naming the
#                          device and the target, no connection made;
#   listed, not listening  CHANNEL_OPEN_FAILURE 2;
#   filter off             anything passes.
# The subscriber: tests/peers/wsevent_sink.py.
. "$(dirname "$0")/lib.sh"

SIM=$top_builddir/tests/sim/amtsim
PEERS=$top_srcdir/tests/peers
PYTHON=${PYTHON:-python3}
command -v "$PYTHON" >/dev/null 2>&1 || {
	echo "1..0 # SKIP python3 is not installed"
	exit 0
}
certs=$(test_certs)
FQDN=wsevent-device.amt.test


# sink NAME: a WS-Eventing subscriber saving POSTs as $T/NAME.N; sets
# SINK_PORT.
sink() { start_peer "$1" wsevent_sink.py && SINK_PORT=$PEER_PORT; }

# posts NAME: how many POSTs NAME has recorded.
posts() { saved "$1"; }

# directs DIR OUT N ARGS...: one device logs in to DIR's mpsd, opens the
# --direct channels in ARGS once ready, waits (at most 20 s) until N of
# them have ended (done or refused), then leaves; status in SIM_RC.
directs() {
	local dir=$1 out=$2 n=$3 pid
	shift 3
	"$SIM" --port "$(amt_port "$dir")" --ca "$certs/ca.pem" \
		--server-name localhost --fqdn "$FQDN" --window 499 \
		--duration 60 "$@" >"$out" 2>&1 &
	pid=$!
	track "$pid"
	wait_for 20 sh -c "c=\$(grep -cE '^device 0 direct-(done|open-failed) ' '$out' 2>/dev/null); [ \"\${c:-0}\" -ge $n ]"
	stop_pid "$pid"
	SIM_RC=$?
}

# request FILE PORT: a WS-Eventing-style event delivery, an HTTP POST of
# a SOAP envelope (about 40 KB, so that it spans many windows); its body
# alone goes to FILE.body.
request() {
	local file=$1 port=$2 i
	{
		printf '<?xml version="1.0" encoding="UTF-8"?>'
		printf '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"'
		printf ' xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing"'
		printf ' xmlns:wsman="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd">'
		printf '<s:Header><wsa:To>http://127.0.0.1:%s/wsman/events</wsa:To>' "$port"
		printf '<wsa:Action>http://schemas.dmtf.org/wbem/wsman/1/wsman/Event</wsa:Action>'
		printf '<wsa:MessageID>uuid:00000000-8086-8086-8086-%012d</wsa:MessageID>' "$port"
		printf '</s:Header><s:Body><g:CIM_AlertIndication xmlns:g="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_AlertIndication">'
		for i in $(seq 1 400); do
			printf '<g:Message>PET event %04d: chassis intrusion \x27\x22&amp;&lt;&gt;</g:Message>\n' "$i"
		done
		printf '</g:CIM_AlertIndication></s:Body></s:Envelope>\n'
	} >"$file.body"
	{
		printf 'POST /wsman/events HTTP/1.1\r\n'
		printf 'Host: 127.0.0.1:%s\r\n' "$port"
		printf 'Content-Type: application/soap+xml;charset=UTF-8\r\n'
		printf 'Content-Length: %s\r\n' "$(stat -c %s "$file.body")"
		printf 'Connection: close\r\n\r\n'
		cat "$file.body"
	} >"$file"
}

# done_line OUT DEST: the direct-done line for DEST.
done_line() { grep "^device 0 direct-done .* dest=$2\$" "$1" | head -n 1; }
field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"; }

ok "a subscriber for the listed target" sink s1
S1=$SINK_PORT
ok "a subscriber for an unlisted target" sink s2
S2=$SINK_PORT
DEAD=$(free_port)	# listed, nothing listens there
request "$T/req1" "$S1"
request "$T/req2" "$S2"

# ---- FilterUnauthorizedServers true, small windows on both sides ----
A=$T/on
make_config "$A" "s|</MPS>|<Tunnel><ChannelWindowSize>1024</ChannelWindowSize></Tunnel></MPS>|"
printf '127.0.0.1:%s\n127.0.0.1:%s\n' "$S1" "$DEAD" >"$A/AuthorizedServersList.config"
ok "mpsd starts with FilterUnauthorizedServers true" start_mpsd "$A"
log=$A/log/mps.log

directs "$A" "$T/a.out" 1 --direct "127.0.0.1:$S1:$T/req1" \
	--direct-save "$T/a.answer"
line=$(done_line "$T/a.out" "127.0.0.1:$S1")
ok "listed: the channel is confirmed" grep -q "^device 0 direct-opened .* dest=127.0.0.1:$S1\$" "$T/a.out"
ok "listed: the whole request went out (sent=)" \
	test "$(field "$line" sent)" = "$(stat -c %s "$T/req1")"
ok "listed: the subscriber got one POST" wait_for 5 test "$(posts s1)" -eq 1
ok "listed: its body is byte-identical" cmp -s "$T/req1.body" "$T/s1.1"
ok "listed: request line and headers arrived" \
	grep -q "^POST /wsman/events HTTP/1.1" "$T/s1.1.head"
ok "listed: the device got the whole answer (received=)" \
	test "$(field "$line" received)" = "$(stat -c %s "$T/s1.1.answer")"
ok "listed: the answer is byte-identical" cmp -s "$T/s1.1.answer" "$T/a.answer"
ok "listed: the answer is a 200" grep -q "^HTTP/1.1 200 OK" "$T/a.answer"
ok "listed: sha256= matches" \
	test "$(field "$line" sha256)" = "$(sha256sum <"$T/s1.1.answer" | cut -d' ' -f1)"
fqdn_re=${FQDN//./\\.}
chan_re="Channel between Intel remote client $fqdn_re \([0-9A-Fa-f-]{36}\) and direct-tcpip target 127\.0\.0\.1:$S1"
ok "listed: the channel's open line (device as fqdn (uuid), channel id, target)" \
	grep -qE "$chan_re opened\. Channel ID \[[0-9]+:[0-9]+\]; direct-tcpip to 127\.0\.0\.1:$S1 asked by the device$" "$log"
ok "listed: its close line counts the bytes each way and the duration" \
	wait_for 5 grep -qE "$chan_re closed\. Channel ID \[[0-9]+:[0-9]+\]; direct-tcpip to 127\.0\.0\.1:$S1 asked by the device, $(stat -c %s "$T/s1.1.answer") bytes to the device, $(stat -c %s "$T/req1") bytes from the device, [0-9]+\.[0-9]{3} s$" "$log"
ok "listed: the device left cleanly (sim exit 0)" test "$SIM_RC" -eq 0

# Two posts at once on one tunnel, each on its own channel.
request "$T/req3" "$S1"
directs "$A" "$T/two.out" 2 --direct "127.0.0.1:$S1:$T/req1" \
	--direct "127.0.0.1:$S1:$T/req3" --direct-save "$T/two"
ok "two channels at once: both done" \
	test "$(grep -c "^device 0 direct-done " "$T/two.out")" -eq 2
ok "two channels at once: two more POSTs" wait_for 5 test "$(posts s1)" -eq 3
n=0
for f in "$T/s1.2" "$T/s1.3"; do
	cmp -s "$T/req1.body" "$f" || cmp -s "$T/req3.body" "$f" || continue
	n=$((n + 1))
done
ok "two channels at once: both bodies byte-identical" test $n -eq 2
ok "two channels at once: both answers whole" \
	sh -c "cmp -s '$T/s1.2.answer' '$T/two.0.0' && cmp -s '$T/s1.2.answer' '$T/two.0.1'"

# Not listed: refused before any connection.
directs "$A" "$T/no.out" 1 --direct "127.0.0.1:$S2:$T/req2"
ok "not listed: CHANNEL_OPEN_FAILURE 1 (administratively prohibited)" \
	grep -q "^device 0 direct-open-failed reason=1 dest=127.0.0.1:$S2\$" "$T/no.out"
ok "not listed: a WARNING names the device and the target" \
	grep -q "WARNING.*$FQDN.*127\.0\.0\.1:$S2" "$log"
sleep 1
ok "not listed: the subscriber got nothing" test "$(posts s2)" -eq 0
ok "not listed: a refusal does not fail the device" test "$SIM_RC" -eq 0

# Listed, but nothing listens: the connect fails.
directs "$A" "$T/dead.out" 1 --direct "127.0.0.1:$DEAD:$T/req1"
ok "nothing listening: CHANNEL_OPEN_FAILURE 2 (connect failed)" \
	grep -q "^device 0 direct-open-failed reason=2 dest=127.0.0.1:$DEAD\$" "$T/dead.out"
ok "nothing listening: the failure is logged naming the device" \
	grep -q "WARNING.*$FQDN.*127\.0\.0\.1:$DEAD" "$log"
ok "mpsd is still running" kill -0 "$MPSD_PID"
stop_pid "$MPSD_PID"
ok "mpsd stops cleanly" test $? -eq 0

# ---- FilterUnauthorizedServers false: the unlisted target passes ----
B=$T/off
make_config "$B" "s|<FilterUnauthorizedServers>true<|<FilterUnauthorizedServers>false<|"
printf '127.0.0.1:%s\n' "$S1" >"$B/AuthorizedServersList.config"
ok "mpsd starts with FilterUnauthorizedServers false" start_mpsd "$B"
directs "$B" "$T/off.out" 1 --direct "127.0.0.1:$S2:$T/req2" \
	--direct-save "$T/off.answer"
line=$(done_line "$T/off.out" "127.0.0.1:$S2")
ok "filter off: the unlisted subscriber is reached" wait_for 5 test "$(posts s2)" -eq 1
ok "filter off: its body is byte-identical" cmp -s "$T/req2.body" "$T/s2.1"
ok "filter off: the whole request went out" \
	test "$(field "$line" sent)" = "$(stat -c %s "$T/req2")"
ok "filter off: the answer is byte-identical" cmp -s "$T/s2.1.answer" "$T/off.answer"
ok "filter off: the device left cleanly" test "$SIM_RC" -eq 0
stop_pid "$MPSD_PID"
ok "mpsd stops cleanly" test $? -eq 0

done_testing

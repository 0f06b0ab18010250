#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# console_http.sh: consoles reach simulated AMT devices through mpsd's
# HTTP proxy port (guide 2, 4.4, 6): curl -x with absolute-form GET and
# POST (sized and chunked) and curl -p -x (CONNECT) get the exact bytes
# from the web server behind a device's port 16992; keep-alive to one
# device and across devices; the request reaches the device in origin
# form, without the console's proxy credentials; every error status
# (400, 403, 407, 502, 504) with a short body; the guide's log lines.
. "$(dirname "$0")/console_lib.sh"
require_peers

A=$T/a
make_config "$A" "$(tunnel_settings '<Tunnel><ChannelOpenTimeout>2</ChannelOpenTimeout></Tunnel>')"
ok "mpsd starts with console authentication on (the demo's)" start_mpsd "$A"
MPSD_A=$MPSD_PID
console_ports "$A"
log=$A/log/mps.log
start_origin || { echo "Bail out! origin_http did not start"; exit 1; }
start_blackhole || { echo "Bail out! no blackhole port"; exit 1; }
ORIGIN_ADDR=127.0.0.1:$ORIGIN_PORT

ok "two devices log in and forward 16992, 16993, 16994" \
	start_sim devs --count 2 --ports 16992,16993,16994 \
	--target "16992=$ORIGIN_ADDR" --target "16993=$ORIGIN_ADDR"
DEVS=$SIM_PID
ok "a device whose port leads to a connect that never completes connects" \
	start_sim slow --fqdn slow.amt.test --uuid 77777777-0000-0000-0000-000000000001 \
	--ports 16992 --target "16992=127.0.0.1:$BLACKHOLE_PORT"
SLOW=$SIM_PID

D0=http://dev-0.amt.test:16992
D1=http://dev-1.amt.test:16992
PROXY=http://127.0.0.1:$HTTP_PORT
AUTH=$(printf '%s:%s' "$CONSOLE_USER" "$CONSOLE_PASS" | base64)

# status ARGS...: the HTTP status curl got through the proxy, with the
# given extra arguments (no credentials unless given).
status() { curl -sS --max-time 30 -x "$PROXY" -o "$T/body" -w '%{http_code}' "$@" 2>/dev/null; }
# connect_status ARGS...: the proxy's answer to curl's CONNECT.
connect_status() { curl -s --max-time 30 -p -x "$PROXY" -o /dev/null -w '%{http_connect}' "$@" 2>/dev/null; }
# raw FILE: sends FILE's bytes to the HTTP port, prints the answer.
raw() {
	"$PYTHON" - "$HTTP_PORT" "$1" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(open(sys.argv[2], "rb").read())
data = b""
try:
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
except socket.timeout:
    pass
sys.stdout.write(data.decode("latin-1"))
PY
}

# ---- absolute-form requests: the exact bytes --------------------------
http_curl -o "$T/get" "$D0/bytes/1000000"
ok "curl -x: GET /bytes/1000000 returns the exact bytes" \
	same_file "$(expected 1000000)" "$T/get"
http_curl -o "$T/chunked" "$D0/chunked/777777"
ok "curl -x: a chunked GET returns the exact bytes" \
	same_file "$(expected 777777)" "$T/chunked"
up=$(random_file up 2000000)
http_curl --data-binary @"$up" -o "$T/echo" "$D1/echo"
ok "curl -x: a 2 MB sized POST is echoed exactly" same_file "$up" "$T/echo"
http_curl -H 'Transfer-Encoding: chunked' --data-binary @"$up" -o "$T/echo-chunked" "$D1/echo"
ok "curl -x: a 2 MB chunked POST is echoed exactly" same_file "$up" "$T/echo-chunked"
small=$(random_file small-up 700)
http_curl -H 'Expect:' --data-binary @"$small" -o "$T/echo-small" "$D1/echo"
ok "curl -x: a small POST without Expect is echoed exactly" same_file "$small" "$T/echo-small"
http_curl -D "$T/nope.h" -o "$T/nope" "$D0/nope"
ok "the device's own 404 comes back as it is" grep -q '^HTTP/1.1 404' "$T/nope.h"
ok "... with the device's headers" grep -q '^Server: Intel(R) Active Management Technology' "$T/nope.h"

# ---- what reaches the device -------------------------------------------
http_curl -o "$T/headers" "$D0/headers"
ok "the device gets the request in origin form" \
	grep -q $'^GET /headers HTTP/1.1\r$' "$T/headers"
ok "with the Host of the URL" grep -qi $'^Host: dev-0.amt.test:16992\r$' "$T/headers"
ok "without the console's Proxy-Authorization (mpsd's credentials stay inside)" \
	sh -c "! grep -qi '^Proxy-Authorization:' '$T/headers'"
ok "without hop-by-hop Proxy-Connection" \
	sh -c "! grep -qi '^Proxy-Connection:' '$T/headers'"

# ---- keep-alive ---------------------------------------------------------
http_curl --max-time 15 -v -o "$T/k1" "$D0/bytes/100000" -o "$T/k2" "$D0/chunked/50000" \
	-o "$T/k3" "$D0/bytes/1" 2>"$T/keep.err"
ok "keep-alive, one device: the first answer is exact" same_file "$(expected 100000)" "$T/k1"
ok "keep-alive, one device: the chunked second is exact" same_file "$(expected 50000)" "$T/k2"
ok "keep-alive, one device: the third is exact" same_file "$(expected 1)" "$T/k3"
ok "keep-alive, one device: curl kept its connection to mpsd" \
	test "$(grep -c 'Re-using existing connection' "$T/keep.err")" -ge 2
diag "device-side connections (channels) for those three: $(grep -E 'target=/(bytes/100000|chunked/50000|bytes/1) ' "$ORIGIN_LOG" | sed 's/^req conn=\([0-9]*\).*/\1/' | sort -u | wc -l)"
http_curl --max-time 15 -v -o "$T/x0" "$D0/bytes/20000" -o "$T/x1" "$D1/bytes/30000" \
	-o "$T/x2" "$D0/bytes/40000" 2>"$T/cross.err"
ok "keep-alive across devices: every answer is exact" \
	sh -c "cmp -s '$(expected 20000)' '$T/x0' && cmp -s '$(expected 30000)' '$T/x1' && cmp -s '$(expected 40000)' '$T/x2'"
ok "keep-alive across devices: one connection to mpsd" \
	test "$(grep -c 'Re-using existing connection' "$T/cross.err")" -ge 2
# Each channel of the moving connection gets its own close line counting
# its own bytes: dev-1's carried the 30000-byte answer and its headers
# only (a running total would hold the 20000 before it as well).
ok "keep-alive across devices: the channel left behind has its own close line" \
	wait_for 5 sh -c "grep -E 'Intel remote client dev-1\.amt\.test \([0-9A-Fa-f-]{36}\) and management console 127\.0\.0\.1 closed\. Channel ID \[[0-9]+:[0-9]+\]; HTTP, device port 16992, ' '$log' | sed -nE 's/.*, ([0-9]+) bytes from the device, .*/\1/p' | awk '\$1 >= 30000 && \$1 < 31000 { f = 1 } END { exit !f }'"
http_curl --max-time 15 -v --data-binary @"$small" -o "$T/pg1" "$D0/echo" --next \
	--max-time 15 -x "$PROXY" --proxy-user "$CONSOLE_USER:$CONSOLE_PASS" \
	-o "$T/pg2" "$D0/bytes/5000" 2>"$T/pg.err"
ok "keep-alive: a POST body does not bleed into the next request" \
	sh -c "cmp -s '$small' '$T/pg1' && cmp -s '$(expected 5000)' '$T/pg2'"
http_curl --max-time 15 -v -I -o "$T/head.h" "$D0/bytes/5" --next \
	--max-time 15 -x "$PROXY" --proxy-user "$CONSOLE_USER:$CONSOLE_PASS" \
	-o "$T/after-head" "$D0/bytes/6000" 2>"$T/head.err"
ok "HEAD: the headers come, no body" grep -q $'^Content-Length: 5\r$' "$T/head.h"
ok "keep-alive after HEAD: the next answer is exact" same_file "$(expected 6000)" "$T/after-head"

# ---- CONNECT --------------------------------------------------------------
http_curl -v -p -o "$T/tunnel" "$D0/bytes/1000000" 2>"$T/connect.err"
ok "curl -p -x (CONNECT): the exact bytes through the tunnel" \
	same_file "$(expected 1000000)" "$T/tunnel"
ok "CONNECT is answered 'HTTP/1.1 200 Connection established'" \
	grep -q 'HTTP/1.1 200 Connection established' "$T/connect.err"
http_curl -p --data-binary @"$up" -o "$T/tunnel-echo" "$D1/echo"
ok "CONNECT: a 2 MB POST is echoed exactly through the tunnel" same_file "$up" "$T/tunnel-echo"
http_curl -p -o "$T/tunnel-16993" "http://dev-1.amt.test:16993/bytes/3333"
ok "CONNECT to another forwarded port (16993)" same_file "$(expected 3333)" "$T/tunnel-16993"
ok "log: Channel between Intel remote client <fqdn> and management console <ip> opened. Channel ID [x:y]" \
	wait_for 5 grep -qE "$(channel_opened_re dev-1.amt.test)" "$log"
ok "log: [<ip>] management console has shutdown" \
	wait_for 5 file_has "$log" "$CONSOLE_SHUTDOWN"

# ---- 407: proxy authentication -----------------------------------------
code=$(curl -sS --max-time 30 -x "$PROXY" -D "$T/407.h" -o "$T/407.body" \
	-w '%{http_code}' "$D0/small" 2>/dev/null)
ok "no credentials: 407" test "$code" = 407
ok "407 asks for Basic (Proxy-Authenticate: Basic)" grep -qi '^Proxy-Authenticate: Basic' "$T/407.h"
ok "407 has a short body" test -s "$T/407.body"
ok "wrong password: 407" test "$(status --proxy-user "$CONSOLE_USER:wrong" "$D0/small")" = 407
ok "unknown user: 407" test "$(status --proxy-user "nobody:$CONSOLE_PASS" "$D0/small")" = 407
ok "CONNECT without credentials: 407" test "$(connect_status "$D0/small")" = 407
ok "CONNECT with a wrong password: 407" \
	test "$(connect_status --proxy-user "$CONSOLE_USER:wrong" "$D0/small")" = 407

# ---- 403, 502, 504 ---------------------------------------------------------
A_CRED=(--proxy-user "$CONSOLE_USER:$CONSOLE_PASS")
ok "a port outside the AMT ports: 403" \
	test "$(status "${A_CRED[@]}" "http://dev-0.amt.test:8080/small")" = 403
ok "403 has a short body" test -s "$T/body"
ok "CONNECT to port 22: 403" test "$(connect_status "${A_CRED[@]}" "http://dev-0.amt.test:22/")" = 403
ok "an unknown device: 502" test "$(status "${A_CRED[@]}" "http://nosuch.amt.test:16992/small")" = 502
ok "502 has a short body" test -s "$T/body"
ok "CONNECT to an unknown device: 502" \
	test "$(connect_status "${A_CRED[@]}" "http://nosuch.amt.test:16992/")" = 502
origin_conns=$(count_lines "$ORIGIN_LOG" '^conn [0-9]+ open')
ok "127.0.0.1:16992 is no device: 502" \
	test "$(status "${A_CRED[@]}" "http://127.0.0.1:16992/small")" = 502
code=$(status "${A_CRED[@]}" "http://127.0.0.1:$ORIGIN_PORT/small")
ok "127.0.0.1 and a live server's port: refused ($code)" test "$code" -ge 400
ok "mpsd connected to nothing for them (not an open proxy)" \
	test "$(count_lines "$ORIGIN_LOG" '^conn [0-9]+ open')" -eq "$origin_conns"
ok "the device refuses the channel: 502" \
	test "$(status "${A_CRED[@]}" "http://dev-0.amt.test:16994/small")" = 502
ok "... the device did refuse it" sim_has devs "channel-open-failed .*port=16994"
ok "CONNECT, the device refuses the channel: 502" \
	test "$(connect_status "${A_CRED[@]}" "http://dev-0.amt.test:16994/")" = 502
code=$(status "${A_CRED[@]}" "http://dev-0.amt.test:623/small")
diag "an AMT port the device did not forward (623): $code"
ok "an AMT port the device did not forward: refused (403 or 502)" \
	test "$code" = 403 -o "$code" = 502
t0=$(date +%s%N)
code=$(status "${A_CRED[@]}" "http://slow.amt.test:16992/small")
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
diag "channel open timeout answered $code after $ms ms"
ok "no answer from the device within ChannelOpenTimeout: 504" test "$code" = 504
ok "... after about ChannelOpenTimeout (2 s)" test "$ms" -ge 1500 -a "$ms" -le 6000
ok "CONNECT, no answer from the device: 504" \
	test "$(connect_status "${A_CRED[@]}" "http://slow.amt.test:16992/")" = 504

# ---- 400: malformed requests -----------------------------------------------
printf 'GARBAGE\r\n\r\n' >"$T/bad1"
printf 'GET /small HTTP/1.1\r\nHost: dev-0.amt.test:16992\r\nProxy-Authorization: Basic %s\r\n\r\n' "$AUTH" >"$T/bad2"
printf 'GET http://dev-0.amt.test:16992/small HTTP/1.1\r\nHost: dev-0.amt.test:16992\r\nProxy-Authorization: Basic %s\r\nNo colon here\r\n\r\n' "$AUTH" >"$T/bad3"
printf 'GET http://dev-0.amt.test:16992/small HTTP/1.1\r\nHost: dev-0.amt.test:16992\r\nProxy-Authorization: Basic %s\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\n12345' "$AUTH" >"$T/bad4"
for i in 1 2 3 4; do
	raw "$T/bad$i" >"$T/bad$i.out"
done
ok "a request line that is not HTTP: 400" grep -qE '^HTTP/1\.[01] 400' "$T/bad1.out"
ok "origin form sent to the proxy: 400" grep -qE '^HTTP/1\.[01] 400' "$T/bad2.out"
ok "a header line without a colon: 400" grep -qE '^HTTP/1\.[01] 400' "$T/bad3.out"
ok "two different Content-Lengths: 400" grep -qE '^HTTP/1\.[01] 400' "$T/bad4.out"
ok "400 has a short body" grep -qiE '^Content-Length: [1-9]' "$T/bad1.out"
printf 'GET %s/small HTTP/1.1\r\nHost: dev-0.amt.test:16992\r\nProxy-Authorization: Basic %s\r\nConnection: close\r\n\r\n' "$D0" "$AUTH" >"$T/good"
raw "$T/good" >"$T/good.out"
ok "a hand-written request with Basic credentials: 200 from the device" \
	grep -q '^HTTP/1.1 200' "$T/good.out"
ok "... and mpsd closes after it (Connection: close)" \
	grep -q 'one hundred bytes' "$T/good.out"

# ---- everyone survived ----------------------------------------------------
ok "mpsd is still running" still_running "$MPSD_A"
ok "the late OPEN_FAILUREs of the timed-out channels come in" \
	wait_for 15 sim_has slow "channel-open-failed"
for name in devs slow; do
	ok "no device of '$name' saw a protocol error" \
		sh -c "! grep -q 'protocol-error' '$T/$name.out'"
done
stop_pid "$DEVS"
ok "the devices leave cleanly (simulator exit 0)" test $? -eq 0
stop_pid "$SLOW"
ok "the slow device leaves cleanly, still connected to the end" test $? -eq 0
stop_pid "$MPSD_A"
ok "mpsd stops cleanly" test $? -eq 0

done_testing

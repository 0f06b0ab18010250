#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# floods.sh: a hostile peer degrades only itself, and cannot flood the log.
#
#  - Password guessing with real curl through the SOCKS port and the HTTP
#    proxy: the plugin is asked at most ConsoleLoginFailures times per
#    address, further guesses (even the right password) are refused
#    unasked, the right password from another address still works at
#    once, a user name guessed from many addresses runs out of its own
#    budget, and the log holds one line per address, the next one (or,
#    once the guessing stopped, a line of its own) with the count of the
#    suppressed ones.
#  - A logged-in simulated device sending thousands of refused
#    direct-tcpip opens and PET alerts: the log grows by a few lines, and
#    its tunnel's close writes the suppressed count.
#  - A device forwarding more ports than MaxForwardsPerDevice gets
#    REQUEST_FAILURE for the extra one.
# The counters behind all this are read from GET /metrics.
. "$(dirname "$0")/console_lib.sh"
require_peers

A=$T/a
AP=$(free_port)
make_config "$A" "$(tunnel_settings "<Limits><MaxForwardsPerDevice>4</MaxForwardsPerDevice></Limits><Admin><Enabled>true</Enabled><ListenPort>$AP</ListenPort><TokenFile>admin.token</TokenFile></Admin>")"
openssl rand -hex 24 >"$A/admin.token"
chmod 600 "$A/admin.token"
ok "mpsd starts (ConsoleLoginFailures 10 and ConsoleLoginFailuresPerUser 30 by default)" \
	start_mpsd "$A"
console_ports "$A"
log=$A/log/mps.log
TOKEN=$(cat "$A/admin.token")
start_origin || { echo "Bail out! origin_http did not start"; exit 1; }
ok "a device logs in and forwards 16992" \
	start_sim devs --count 1 --ports 16992 --target "16992=127.0.0.1:$ORIGIN_PORT"

# metric NAME{LABELS}: the sample's value (0 when absent).
metric() {
	curl -s --max-time 10 -H "Authorization: Bearer $TOKEN" \
		"http://127.0.0.1:$AP/metrics" |
		awk -v k="$1" '$1 == k { v = $2 } END { print v + 0 }'
}
M_SOCKS_FAILED='mpsd_console_requests_total{front="socks",result="auth_failed"}'
M_SOCKS_THROTTLED='mpsd_console_requests_total{front="socks",result="login_throttled"}'
M_HTTP_FAILED='mpsd_console_requests_total{front="http",result="auth_failed"}'
M_HTTP_THROTTLED='mpsd_console_requests_total{front="http",result="login_throttled"}'

# socks_login FROM USER PASS: a real request through the SOCKS port, from
# the local address FROM; succeeds only if the page came back.
socks_login() {
	curl -s -o /dev/null --max-time 10 --interface "$1" \
		--socks5-hostname "127.0.0.1:$SOCKS_PORT" \
		--proxy-user "$2:$3" "http://dev-0.amt.test:16992/small"
}
# http_login FROM USER PASS: the same through the HTTP proxy; prints the
# status.
http_login() {
	curl -s -o /dev/null -w '%{http_code}' --max-time 10 --interface "$1" \
		-x "http://127.0.0.1:$HTTP_PORT" --proxy-user "$2:$3" \
		"http://dev-0.amt.test:16992/small"
}
# guess FRONT FROM USER SECONDS OUT: guesses as fast as curl goes, four
# at a time, for SECONDS; the number of guesses in OUT.
guess() {
	local front=$1 from=$2 user=$3 secs=$4 out=$5 k pids=()
	for k in 1 2 3 4; do
		(
			n=0 end=$((SECONDS + secs))
			while [ $SECONDS -lt $end ]; do
				if [ "$front" = socks ]; then
					socks_login "$from" "$user" "guess$k-$n"
				else
					http_login "$from" "$user" "guess$k-$n" >/dev/null
				fi
				n=$((n + 1))
			done
			echo $n
		) >"$out.$k" &
		pids+=($!)
	done
	wait "${pids[@]}"
	cat "$out".? | awk '{ s += $1 } END { print s }' >"$out"
}
# ms COMMAND...: runs it; prints how long it took in milliseconds, and
# fails if it did.
ms() {
	local t0 rc
	t0=$(date +%s%N)
	"$@" >/dev/null
	rc=$?
	echo $(( ($(date +%s%N) - t0) / 1000000 ))
	return $rc
}
# lines_for ADDR: log lines about console logins from ADDR.
lines_for() {
	grep -E "console $1:[0-9]+(:| failed)" "$log" |
		grep -cE 'failed to authenticate|refused without checking' || true
}

ok "the right password works through SOCKS before any guessing" \
	socks_login 127.0.0.1 "$CONSOLE_USER" "$CONSOLE_PASS"
START=$SECONDS

# The right password is tried 4 s into an 8 s attack: by then the
# address has spent its 10 failures, and its first refill is 6 s after
# the first one, so only the budget decides.

# ---- SOCKS guessing from 127.0.0.1 ---------------------------------------
guess socks 127.0.0.1 "$CONSOLE_USER" 8 "$T/socks.n" &
GUESSERS=$!
sleep 4
asked=$(metric "$M_SOCKS_FAILED")
socks_login 127.0.0.1 "$CONSOLE_USER" "$CONSOLE_PASS"
right_same=$?
t=$(ms socks_login 127.0.0.2 "$CONSOLE_USER" "$CONSOLE_PASS")
right_other=$?
wait $GUESSERS
n=$(cat "$T/socks.n")
failed=$(metric "$M_SOCKS_FAILED")
throttled=$(metric "$M_SOCKS_THROTTLED")
diag "SOCKS: $n guesses in 8 s ($((n / 8))/s) from 127.0.0.1; the plugin was asked $failed times ($asked after 4 s), $throttled logins were refused unasked"
ok "SOCKS: curl made at least 30 guesses (3 times the budget)" test "$n" -ge 30
ok "SOCKS: the plugin checked at most ConsoleLoginFailures (10, +1 refill) of them" \
	test "$failed" -ge 10 -a "$failed" -le 11
ok "SOCKS: every other guess, and the right password, were refused unasked (login_throttled)" \
	test $((failed + throttled)) -eq $((n + 1))
ok "SOCKS: during the attack, even the right password is refused from that address" \
	test "$right_same" -ne 0
ok "SOCKS: during the attack, the right password from another address works at once (${t} ms)" \
	test "$right_other" -eq 0 -a "$t" -lt 2000
l1=$(lines_for 127.0.0.1)
ok "SOCKS: $n failures from 127.0.0.1 made $l1 log line (one per address and minute)" \
	test "$l1" -eq 1

# ---- HTTP proxy guessing from 127.0.0.3 -----------------------------------
guess http 127.0.0.3 "$CONSOLE_USER" 8 "$T/http.n" &
GUESSERS=$!
sleep 4
code_same=$(http_login 127.0.0.3 "$CONSOLE_USER" "$CONSOLE_PASS")
t0=$(date +%s%N)
code=$(http_login 127.0.0.4 "$CONSOLE_USER" "$CONSOLE_PASS")
t=$(( ($(date +%s%N) - t0) / 1000000 ))
wait $GUESSERS
n3=$(cat "$T/http.n")
failed=$(metric "$M_HTTP_FAILED")
throttled=$(metric "$M_HTTP_THROTTLED")
diag "HTTP: $n3 guesses in 8 s ($((n3 / 8))/s) from 127.0.0.3; the plugin was asked $failed times, $throttled logins were refused unasked"
ok "HTTP: curl made at least 30 guesses (3 times the budget)" test "$n3" -ge 30
ok "HTTP: the plugin checked at most ConsoleLoginFailures (10, +1 refill) of them" \
	test "$failed" -ge 10 -a "$failed" -le 11
ok "HTTP: every other guess, and the right password, were refused unasked (login_throttled)" \
	test $((failed + throttled)) -eq $((n3 + 1))
ok "HTTP: during the attack, the right password gets 407 from that address" \
	test "$code_same" = 407
ok "HTTP: during the attack, the right password from another address works at once ($code, ${t} ms)" \
	test "$code" = 200 -a "$t" -lt 2000
ok "HTTP: $n3 failures from 127.0.0.3 made one log line" \
	test "$(lines_for 127.0.0.3)" -eq 1

# ---- one user name guessed from many addresses ----------------------------
# 8 addresses guess at "operator" through the HTTP proxy for 12 s: far
# more than its 30 a minute, and they keep taking each refill (one every
# 2 s) as it comes. 8 s in, a SOCKS guess from a fresh address (counted
# apart: front socks) must find the user name's budget spent.
pids=()
for i in 10 11 12 13 14 15 16 17; do
	(
		k=0 end=$((SECONDS + 12))
		while [ $SECONDS -lt $end ]; do
			http_login "127.0.0.$i" operator "spread$k" >/dev/null
			k=$((k + 1))
		done
	) &
	pids+=($!)
done
sleep 8
before=$(metric "$M_SOCKS_FAILED")
socks_login 127.0.0.20 operator anything
after=$(metric "$M_SOCKS_FAILED")
wait "${pids[@]}"
ok "per user name: a guess at \"operator\" from a fresh address is refused unasked" \
	test "$after" -eq "$before"
ok "per user name: the log says which budget ran out" \
	file_has "$log" "too many failed logins for this user name (ConsoleLoginFailuresPerUser 30 per minute)"
ok "per user name: the real account still logs in from a fresh address" \
	socks_login 127.0.0.21 "$CONSOLE_USER" "$CONSOLE_PASS"

# ---- a logged-in device floods refused requests ---------------------------
printf 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n' >"$T/req.http"
printf 'pet' >"$T/pet.bin"
size0=$(stat -c %s "$log")
"$SIM" --port "$AMT_PORT" --ca "$T/certs/ca.pem" --server-name localhost \
	--first-index 5 --ports 16992 \
	--direct "192.0.2.1:80:$T/req.http" --direct-count 2000 \
	--pet "192.0.2.1:162:$T/pet.bin" --pet-count 5000 \
	>"$T/flood.out" 2>&1 &
FLOOD=$!
track $FLOOD
ok "the flooding device gets its 2000 opens refused" \
	wait_for 60 sh -c "test \$(grep -c 'direct-open-failed' '$T/flood.out') -ge 2000"
ok "... and its 5000 PET alerts refused" \
	wait_for 60 sh -c "test \$(grep -c 'pet-reply failed' '$T/flood.out') -ge 5000"
size1=$(stat -c %s "$log")
diag "7000 refused requests added $((size1 - size0)) bytes to the log"
ok "7000 refused requests add under 8 KB to the log (10 lines a minute)" \
	test $((size1 - size0)) -lt 8192
ok "... and the device is still served (its tunnel is up)" still_running "$FLOOD"
stop_pid "$FLOOD" >/dev/null 2>&1
ok "the tunnel's close writes the suppressed count (6990)" \
	wait_for 10 grep -qE "Intel remote client dev-5\.amt\.test \([0-9A-Fa-f-]{36}\) \(127\.0\.0\.1:[0-9]+\): 6990 similar messages suppressed" "$log"

# ---- MaxForwardsPerDevice --------------------------------------------------
"$SIM" --port "$AMT_PORT" --ca "$T/certs/ca.pem" --server-name localhost \
	--first-index 7 --ports 16992,16993,16994,16995,623 --duration 10 \
	>"$T/cap.out" 2>&1 &
track $!
ok "a fifth forward past MaxForwardsPerDevice 4 gets REQUEST_FAILURE" \
	wait_for 20 grep -q '^device 7 forward-failed 623' "$T/cap.out"
ok "... the first four were accepted" \
	test "$(grep -c '^device 7 forwarded ' "$T/cap.out")" -eq 4
ok "... counted in mpsd_device_forwards_refused_total" \
	test "$(metric mpsd_device_forwards_refused_total)" -ge 1
ok "... and logged with the limit's name" \
	file_has "$log" "(MaxForwardsPerDevice)"

# ---- the count of the suppressed console lines -----------------------------
# The next line for 127.0.0.1 comes once its minute is over.
while [ $((SECONDS - START)) -lt 62 ]; do sleep 1; done
socks_login 127.0.0.1 "$CONSOLE_USER" wrong-again
sup=$(grep -E "console 127\.0\.0\.1:[0-9]+" "$log" |
	sed -n 's/.*(\([0-9]*\) similar messages suppressed)$/\1/p' | tail -n 1)
diag "the line after the minute: ${sup:-no} similar messages suppressed"
ok "a minute later, the next line from 127.0.0.1 carries the count of the suppressed ones" \
	test "${sup:-0}" -ge $((n - 1))
ok "the count of a guesser that stopped (127.0.0.3) is written once its minute is over" \
	wait_for 20 grep -qE "console logins from 127\.0\.0\.3: [0-9]+ similar messages suppressed in the last 60 s" "$log"
ok "the log holds no password" file_lacks "$log" "$CONSOLE_PASS"
ok "mpsd is still running" still_running "$MPSD_PID"
done_testing

#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# reload.sh: live reload (SIGHUP and mpsctl reload) with 200 simulated
# devices connected through it. One reload changes the certificate and
# key (a new handshake gets the new certificate, by fingerprint), the
# AuthorizedServersList (a PET alert refused before passes after), the
# NotificationList (a second subscriber hears the next device), the
# TraceLevels, the device plugin's DllParameters (an account only in the
# new file logs in after, not before) and a parameter that needs a
# restart (named in the log). A second reload with a broken list file is
# refused with file:line and leaves every setting in force. Through all
# of it the 200 tunnels stay up: the admin API counts them, and the
# simulator reports no disconnect when it ends.
. "$(dirname "$0")/lib.sh"

SIM=$top_builddir/tests/sim/amtsim
MPSCTL=$top_builddir/server/admin/mpsctl
PY=/usr/bin/python3
SUB=$top_srcdir/tests/peers/notify_subscriber.py
WSDL=$top_srcdir/config/MpsNotification.wsdl
certs=$(test_certs)
N=200

# A second server certificate from the same CA (mps-certgen keeps the
# CA it finds and issues what is missing), so that devices trusting the
# CA accept both and only the fingerprint tells them apart.
mkdir -p "$T/certs2"
cp "$certs/ca.pem" "$certs/ca-key.pem" "$T/certs2/"
ok "a second server certificate from the same CA" \
	"$top_srcdir/scripts/mps-certgen" -q -o "$T/certs2" --cn localhost
fp() { openssl x509 -noout -fingerprint -sha256 -in "$1" | cut -d= -f2; }
FP1=$(fp "$certs/server.pem")
FP2=$(fp "$T/certs2/server.pem")
ok "the two certificates differ" test -n "$FP1" -a "$FP1" != "$FP2"
# served PORT: the fingerprint of the certificate a new handshake gets.
served() {
	timeout 10 openssl s_client -connect "127.0.0.1:$1" -servername localhost \
		</dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256 |
		cut -d= -f2
}

# Two notification subscribers; the list names the first only.
for s in 1 2; do
	python3 "$SUB" --wsdl "$WSDL" --log "$T/sub$s.log" >"$T/sub$s.port" \
		2>"$T/sub$s.err" &
	track $!
	ok "notification subscriber $s starts" wait_for 10 test -s "$T/sub$s.port"
done
SUB1="http://127.0.0.1:$(head -n 1 "$T/sub1.port")/notify"
SUB2="http://127.0.0.1:$(head -n 1 "$T/sub2.port")/notify"

# A UDP receiver for PET alerts, not listed at first.
ok "a UDP listener for PET alerts" start_peer pet udp_catch.py
PET_PORT=$PEER_PORT
printf 'a trap\n' >"$T/trap.bin"

A=$T/a
AP=$(free_port)
make_config "$A" \
	"s|</MPS>|<Limits><MaxPreAuthConnections>1000</MaxPreAuthConnections><MaxPreAuthPerAddress>1000</MaxPreAuthPerAddress><PreAuthDropStart>1000</PreAuthDropStart></Limits><Admin><Enabled>true</Enabled><ListenPort>$AP</ListenPort><TokenFile>admin.token</TokenFile></Admin></MPS>|" \
	"s|<DllParameters>[^<]*AMTAuthFile.txt<|<DllParameters>$T/accounts1.txt<|" \
	"s|<DynamicConfigFile>|<DynamicConfigCheckInterval>0</DynamicConfigCheckInterval><DynamicConfigFile>|"
openssl rand -hex 24 >"$A/admin.token"
chmod 600 "$A/admin.token"
cp "$top_srcdir/config/demo/AMTAuthFile.txt" "$T/accounts1.txt"
{ cat "$T/accounts1.txt"; echo 'newdevice:N3w-Passw0rd'; } >"$T/accounts2.txt"
echo "$SUB1" >"$A/NotificationList.config"
set_trace_levels "$A" "ERROR|WARNING"
ok "mpsd starts" start_mpsd "$A"
log=$A/log/mps.log
PORT=$(amt_port "$A")
TOKEN=$(cat "$A/admin.token")
# devices_are N: the admin API's device count is N (a script, so that
# wait_for can run it).
cat >"$T/devices_are" <<EOF
#!/bin/sh
n=\$(curl -sS --noproxy '*' --max-time 10 -H "Authorization: Bearer $TOKEN" \
	"http://127.0.0.1:$AP/api/v1/status" |
	$PY -c 'import json,sys; print(json.load(sys.stdin)["devices"])')
echo "# admin API: \$n devices" >&2
test "\$n" = "\$1"
EOF
chmod +x "$T/devices_are"

ok "before the reload a new handshake gets the first certificate" \
	test "$(served "$PORT")" = "$FP1"

# The 200 devices, in two processes; they hold their tunnels (and their
# keepalives) for the whole test.
for p in 0 1; do
	"$SIM" --port "$PORT" --ca "$certs/ca.pem" --server-name localhost \
		--count $((N / 2)) --first-index $((p * N / 2)) \
		--uuid 77777777-0000-0000-0000-000000000000 \
		--fqdn "held-%d.reload.test" --quiet --duration 300 \
		--ready-file "$T/ready$p" >"$T/held$p.out" 2>&1 &
	eval "HELD$p=\$!"
	track $!
done
ok "$N devices connect and forward" wait_for 90 sh -c \
	"grep -q 'forwarded=$((N / 2)) failed=0' '$T/ready0' 2>/dev/null &&
	 grep -q 'forwarded=$((N / 2)) failed=0' '$T/ready1' 2>/dev/null"
ok "the admin API counts $N devices" wait_for 10 "$T/devices_are" $N

# one_device OUT ARGS: a short-lived device with its own identity.
one_device() {
	local out=$1
	shift
	"$SIM" --port "$PORT" --ca "$certs/ca.pem" --server-name localhost \
		--uuid 88888888-0000-0000-0000-000000000000 --fqdn one.reload.test \
		--duration 3 "$@" >"$out" 2>&1
}

# Before: the new account is refused, the PET target is not listed.
one_device "$T/before.out" --user newdevice --pass N3w-Passw0rd
ok "before the reload the new account is refused" \
	grep -q "summary .*authenticated=0" "$T/before.out"
one_device "$T/pet-before.out" --pet "127.0.0.1:$PET_PORT:$T/trap.bin"
ok "before the reload a PET alert to the unlisted target is refused" \
	grep -q "pet-reply failed" "$T/pet-before.out"
ok "and nothing arrives" test "$(saved pet)" -eq 0

# ---- the reload -------------------------------------------------------------
sed -i -e "s|$certs/server-chain.pem|$T/certs2/server-chain.pem|" \
	-e "s|$certs/server-key.pem|$T/certs2/server-key.pem|" \
	-e "s|$T/accounts1.txt|$T/accounts2.txt|" \
	-e "s|</MPS>|<Tunnel><IdleTimeout>120</IdleTimeout></Tunnel></MPS>|" \
	"$A/mps.config"
echo "127.0.0.1:$PET_PORT" >>"$A/AuthorizedServersList.config"
printf '%s\n%s\n' "$SUB1" "$SUB2" >"$A/NotificationList.config"
# The file watcher is off (DynamicConfigCheckInterval 0): only a reload
# applies the levels, so a refused reload can be seen not to.
set_trace_levels "$A" "INFO|ERROR|WARNING"
kill -HUP "$MPSD_PID"
ok "SIGHUP reloads: generation 2" \
	wait_for 30 file_has "$log" "SIGHUP: reloaded: generation 2"
ok "the restart-only change is named in the log" \
	file_has "$log" "<Tunnel><IdleTimeout> changed; it needs a restart"
ok "the reloadable changes are not called restart-only" \
	sh -c "! grep -q '<TLS><CertificateChainFile> changed\|<AMT_Authenticate><DllParameters> changed' '$log'"
ok "the trace level change takes effect" \
	wait_for 5 file_has "$log" "trace levels are now INFO|ERROR|WARNING"
ok "the log names the new certificate" \
	file_has "$log" "SIGHUP: server certificate for new handshakes:"
ok "a new handshake gets the new certificate" test "$(served "$PORT")" = "$FP2"

one_device "$T/after.out" --user newdevice --pass N3w-Passw0rd
ok "the plugin's new DllParameters take effect: the new account logs in" \
	grep -q "summary .*authenticated=1" "$T/after.out"
ok "and its login is logged, now that INFO is on" \
	wait_for 5 file_has "$log" "88888888-0000-0000-0000-000000000000"
ok "the second subscriber hears of that device" \
	wait_for 15 grep -q "Uuid=88888888-0000-0000-0000-000000000000" "$T/sub2.log"
one_device "$T/pet-after.out" --pet "127.0.0.1:$PET_PORT:$T/trap.bin"
ok "the AuthorizedServersList change takes effect: the PET alert passes" \
	grep -q "pet-reply ok" "$T/pet-after.out"
ok "and arrives" wait_for 5 test "$(saved pet)" -eq 1

# ---- a broken file: refused, everything stays ------------------------------
cp "$A/AuthorizedServersList.config" "$T/asl.good"
echo "this is not host:port" >>"$A/AuthorizedServersList.config"
bad_line=$(wc -l <"$A/AuthorizedServersList.config")
set_trace_levels "$A" "INFO|ERROR|WARNING|DEBUG"
"$MPSCTL" -c "$A/mps.config" reload >"$T/bad.out" 2>&1
ok "mpsctl reload reports the refusal (exit 1)" test $? -eq 1
ok "mpsctl names the file and line" \
	grep -q "AuthorizedServersList.config:$bad_line:" "$T/bad.out"
ok "the log names the file and line" \
	file_has "$log" "AuthorizedServersList.config:$bad_line:"
ok "the log says the settings in force stay" \
	file_has "$log" "reload refused, the settings in force stay (generation 2)"
ok "the trace levels of the refused reload are not applied" \
	file_lacks "$log" "trace levels are now INFO|ERROR|WARNING|DEBUG"
ok "the certificate stays" test "$(served "$PORT")" = "$FP2"
one_device "$T/pet-bad.out" --pet "127.0.0.1:$PET_PORT:$T/trap.bin"
ok "the list in force stays: the PET alert still passes" \
	grep -q "pet-reply ok" "$T/pet-bad.out"

# Fixed: mpsctl reload applies it (the DEBUG level), generation 3.
cp "$T/asl.good" "$A/AuthorizedServersList.config"
"$MPSCTL" -c "$A/mps.config" reload >"$T/good.out" 2>&1
ok "mpsctl reload succeeds once the file is fixed" test $? -eq 0
ok "mpsctl prints the summary" grep -q "reloaded: generation 3" "$T/good.out"
ok "mpsctl lists the change waiting for a restart" \
	grep -q "needs a restart: <Tunnel><IdleTimeout>" "$T/good.out"
ok "the log names who asked" file_has "$log" "asked for a reload"
ok "the DEBUG level is now on" \
	file_has "$log" "trace levels are now INFO|ERROR|WARNING|DEBUG"

# ---- the 200 tunnels survived ------------------------------------------------
ok "the admin API still counts $N devices" "$T/devices_are" $N
kill -USR1 "$MPSD_PID"
ok "the SIGUSR1 list counts $N devices" \
	wait_for 5 file_has "$log" "Connected Intel remote clients: $N"
kill -TERM "$HELD0" "$HELD1"
wait "$HELD0" "$HELD1"
for p in 0 1; do
	ok "process $p: every device stayed connected until the end" \
		grep -q "summary connected=$((N / 2)) .*failed=0 .*dropped=0" "$T/held$p.out"
	ok "process $p: no device saw a DISCONNECT" \
		sh -c "! grep -q 'disconnect' '$T/held$p.out'"
done

stop_pid "$MPSD_PID"
ok "mpsd stops cleanly" test $? -eq 0
done_testing

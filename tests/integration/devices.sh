#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# devices.sh: simulated AMT devices (tests/sim/amtsim) against a real mpsd
# over in-process TLS: login through the file plugin, forwards, keepalive
# options, the guide's log lines, refusals, every misbehaviour, newest
# wins, MaxConnections, the idle timeout, mutual TLS and 500 devices at
# once.
. "$(dirname "$0")/lib.sh"

SIM=$top_builddir/tests/sim/amtsim
certs=$(test_certs)


# sim DIR ARGS...: the simulator against DIR's mpsd, verifying the chain.
sim() {
	local dir=$1
	shift
	"$SIM" --port "$(amt_port "$dir")" --ca "$certs/ca.pem" \
		--server-name localhost "$@"
}

# sim_bg DIR OUT ARGS...: the same in the background (SIM_PID is the
# simulator itself, so that signals reach it), output in OUT.
sim_bg() {
	local dir=$1 out=$2
	shift 2
	"$SIM" --port "$(amt_port "$dir")" --ca "$certs/ca.pem" \
		--server-name localhost "$@" >"$out" 2>&1 &
	SIM_PID=$!
	track "$SIM_PID"
}

A=$T/a
make_config "$A" "s|</Tunnel>||" "s|</MPS>|<Tunnel><IdleTimeout>90</IdleTimeout></Tunnel><Limits><MaxConnections>1000</MaxConnections><MaxPreAuthConnections>1000</MaxPreAuthConnections><MaxPreAuthPerAddress>1000</MaxPreAuthPerAddress><PreAuthDropStart>1000</PreAuthDropStart><AuthQueueLength>1000</AuthQueueLength></Limits></MPS>|"
# (500 devices log in at once below, all from 127.0.0.1: to the pre-auth
# budget and the device login queue (AuthQueueLength 256) that is a
# flood, so their limits are raised here.)
start_mpsd "$A"
log=$A/log/mps.log

# One well-behaved device, for three seconds.
sim "$A" --uuid 48534188-5245-4188-5348-455288415348 --fqdn cant.rclient.test \
	--duration 3 >"$T/one.out" 2>&1
rc=$?
ok "a device logs in, forwards and leaves cleanly (sim exit 0)" test $rc -eq 0
ok "it was authenticated by the file plugin" grep -q "^device 0 authenticated" "$T/one.out"
ok "all seven firmware ports were forwarded" grep -q "^device 0 ready forwards=7" "$T/one.out"
ok "mpsd sent the keepalive options (30 s) once the forwards settled" \
	grep -q "^device 0 keepalive-options interval=30 timeout=0" "$T/one.out"
ok "log: Intel remote client <uuid> is now connected." \
	file_has "$log" "Intel remote client 48534188-5245-4188-5348-455288415348 is now connected."
ok "log: started port forwarding to address <fqdn>:16992" \
	log_has_dev "$log" "Intel remote client " cant.rclient.test " started port forwarding to address cant.rclient.test:16992"
ok "log: started port forwarding to address <fqdn>:5900" \
	file_has "$log" "started port forwarding to address cant.rclient.test:5900"
ok "log: [<fqdn>] Intel remote client has disconnected" \
	wait_for 5 log_has_dev "$log" "[" cant.rclient.test "] Intel remote client has disconnected"

# cancel-tcpip-forward withdraws one port from the registry.
sim_bg "$A" "$T/cancel.out" --uuid 33333333-0000-0000-0000-000000000001 \
	--fqdn cancel.test --cancel-port 16994 --duration 8
cpid=$SIM_PID
ok "a device withdraws a forward (cancel-tcpip-forward)" \
	wait_for 10 grep -q "^device 0 cancelled 16994" "$T/cancel.out"
ok "mpsd answers the cancel (REQUEST_SUCCESS)" \
	wait_for 5 grep -q "^device 0 cancel-ok 16994" "$T/cancel.out"
ok "mpsd logs the cancelled forward" \
	wait_for 5 log_has_dev "$log" "Intel remote client " cancel.test " cancelled port forwarding to address cancel.test:16994"
kill -USR1 "$MPSD_PID"
ok "the registry keeps the other ports and drops 16994" \
	wait_for 5 grep -q "33333333-0000-0000-0000-000000000001 fqdn=cancel.test .*ports=16993,16992,664,623,16995,5900 " "$log"
ok "the device stays connected after the cancel" kill -0 "$cpid"
kill -TERM "$cpid"
wait "$cpid"

# A wrong password is refused.
sim "$A" --pass wrong --duration 5 >"$T/wrong.out" 2>&1
ok "a wrong password gets USERAUTH_FAILURE" grep -q "^device 0 auth-failed" "$T/wrong.out"
ok "the refusal is logged with the user name" file_has "$log" 'failed to authenticate as "admin"'
ok "the refused device's session ends there" grep -q "disconnected .*outcome=failed" "$T/wrong.out"

# Repeated failures from one address are answered ever more slowly.
session_ms() { sed -n 's/^device 0 disconnected .* ms=\([0-9]*\).*/\1/p' "$1"; }
sim "$A" --pass wrong2 --duration 8 >"$T/wrong2.out" 2>&1
sim "$A" --pass wrong3 --duration 8 >"$T/wrong3.out" 2>&1
first=$(session_ms "$T/wrong.out")
third=$(session_ms "$T/wrong3.out")
diag "refused logins took $first ms (1st), $(session_ms "$T/wrong2.out") ms (2nd), $third ms (3rd)"
ok "a first failure is answered at once (then a short delay, close)" test "${first:-9999}" -lt 1500
ok "the third failure in a row from one address is slowed down" test "${third:-0}" -ge 1900
sim "$A" --duration 1 >"$T/ok-after.out" 2>&1
ok "a good login from that address still works" grep -q "ready forwards=7" "$T/ok-after.out"

# Keepalive options without 5900 (the default: once forwards settle).
sim "$A" --ports 16993,16992 --duration 3 >"$T/no5900.out" 2>&1
ok "a device without 5900 still gets the keepalive options" \
	grep -q "keepalive-options interval=30" "$T/no5900.out"

# Every misbehaviour ends that session with the right reason; mpsd lives.
check_misbehave() {
	local mode=$1 want=$2
	sim "$A" --misbehave "$mode" --duration 8 >"$T/mb-$mode.out" 2>&1
	ok "misbehaviour $mode: disconnected with reason $want" \
		grep -q "disconnected reason=$want .*outcome=rejected" "$T/mb-$mode.out"
}
check_misbehave reorder 2
check_misbehave reorder-forward 2
check_misbehave oversize 2
check_misbehave unknown-type 2
check_misbehave badversion 8
check_misbehave garbage 2
ok "each violation is logged naming the device and the reason" \
	file_has "$log" "not allowed in state"
ok "the bad version is logged" file_has "$log" "APF version 2.0 is not supported"
ok "mpsd survived every misbehaviour" kill -0 "$MPSD_PID"
sim "$A" --duration 2 >"$T/after.out" 2>&1
ok "a good device still logs in afterwards" grep -q "ready forwards=7" "$T/after.out"

# Newest wins: the same UUID from a second connection replaces the first.
sim_bg "$A" "$T/old.out" --uuid 11111111-2222-3333-4444-555555555555 \
	--fqdn twin.test --duration 20
old=$SIM_PID
wait_for 10 grep -q "ready forwards=7" "$T/old.out"
sim_bg "$A" "$T/new.out" --uuid 11111111-2222-3333-4444-555555555555 \
	--fqdn twin.test --duration 20
new=$SIM_PID
wait_for 10 grep -q "ready forwards=7" "$T/new.out"
ok "newest wins: the old tunnel is closed by mpsd" \
	wait_for 10 grep -q "disconnected .*by=server" "$T/old.out"
ok "newest wins: the replacement is logged" file_has "$log" "reconnected from"
kill -USR1 "$MPSD_PID"
ok "newest wins: the registry still holds the device after the old close" \
	wait_for 5 grep -q "11111111-2222-3333-4444-555555555555 fqdn=twin.test" "$log"
ok "newest wins: the new tunnel is untouched" kill -0 $new
ok "newest wins: the new tunnel saw no disconnect" \
	sh -c "! grep -q disconnected '$T/new.out'"
kill -TERM $new $old 2>/dev/null
wait $new $old 2>/dev/null
ok "the device leaves the registry when its tunnel closes" \
	wait_for 5 log_has_dev "$log" "[" twin.test "] Intel remote client has disconnected"

# 500 devices at once. Under ThreadSanitizer 100: 500 TLS handshakes at
# its pace outlast the 10 s handshake deadline, and 100 are as many
# concurrent logins for the race detector.
many_n=500
[ "$SANITIZER" = thread ] && many_n=100
sim_bg "$A" "$T/many.out" --count $many_n --quiet --ready-file "$T/ready-many" \
	--duration 60
many=$SIM_PID
ok "$many_n devices connect at once and all forward" \
	wait_for 60 grep -q "forwarded=$many_n failed=0" "$T/ready-many"
kill -USR1 "$MPSD_PID"
ok "mpsd counts $many_n connected devices" \
	wait_for $((5 * SLOW)) file_has "$log" "Connected Intel remote clients: $many_n"
kill -TERM $many
wait $many
ok "$many_n devices leave cleanly" grep -q "summary .*failed=0 .*dropped=0" "$T/many.out"
stop_pid "$MPSD_PID"
ok "mpsd stops cleanly after all that" test $? -eq 0

# MaxConnections: the fourth device gets DISCONNECT 12.
M=$T/max
make_config "$M" "s|</MPS>|<Limits><MaxConnections>3</MaxConnections></Limits></MPS>|"
start_mpsd "$M"
sim_bg "$M" "$T/three.out" --count 3 --duration 20 --ready-file "$T/ready3"
three=$SIM_PID
wait_for 15 test -f "$T/ready3"
sim "$M" --first-index 3 --duration 5 >"$T/fourth.out" 2>&1
ok "MaxConnections: the next device gets DISCONNECT 12" \
	grep -q "disconnected reason=12" "$T/fourth.out"
ok "MaxConnections: the refusal is logged" file_has "$M/log/mps.log" "MaxConnections (3) reached"
ok "MaxConnections: the three devices stay" kill -0 $three
kill -TERM $three
wait $three
stop_pid "$MPSD_PID" >/dev/null

# Idle timeout: a device that never sends keepalives is dropped.
I=$T/idle
make_config "$I" "s|</MPS>|<Tunnel><KeepAliveTiming>never</KeepAliveTiming><IdleTimeout>2</IdleTimeout></Tunnel></MPS>|"
start_mpsd "$I"
sim "$I" --duration 10 >"$T/silent.out" 2>&1
ok "a silent tunnel is dropped after IdleTimeout" \
	grep -q "disconnected reason=16 .*by=server" "$T/silent.out"
ok "the idle drop is logged" file_has "$I/log/mps.log" "(IdleTimeout): tunnel dropped"
sim "$I" --keepalive 1 --duration 5 >"$T/alive.out" 2>&1
ok "a device that sends keepalives outlives IdleTimeout" test $? -eq 0
ok "its keepalives were answered with their cookies" grep -q "keepalive-ok" "$T/alive.out"
stop_pid "$MPSD_PID" >/dev/null

# KeepAliveTiming after5900: like the public MPSs, only after the 5900 forward.
K=$T/k5900
make_config "$K" "s|</MPS>|<Tunnel><KeepAliveTiming>after5900</KeepAliveTiming></Tunnel></MPS>|"
start_mpsd "$K"
sim "$K" --ports 16993,16992 --duration 3 >"$T/k1.out" 2>&1
ok "after5900: no keepalive options without a 5900 forward" \
	sh -c "! grep -q keepalive-options '$T/k1.out'"
sim "$K" --duration 2 >"$T/k2.out" 2>&1
ok "after5900: keepalive options right after the 5900 forward" \
	grep -q "keepalive-options interval=30" "$T/k2.out"
stop_pid "$MPSD_PID" >/dev/null

# Pre-login stalls end after HandshakeTimeout.
S=$T/stall
make_config "$S" "s|</TLS>|<HandshakeTimeout>2</HandshakeTimeout></TLS>|"
start_mpsd "$S"
for mode in stall truncate slowloris; do
	sim "$S" --misbehave $mode --duration 8 >"$T/st-$mode.out" 2>&1
	ok "misbehaviour $mode: closed after HandshakeTimeout (reason 16)" \
		grep -q "disconnected reason=16 .*outcome=rejected" "$T/st-$mode.out"
done
stop_pid "$MPSD_PID" >/dev/null

# A plugin that takes 10 s delays only its own device: it runs on the
# blocking lane while other devices log in.
G=$T/slowplugin
make_config "$G" "s|<DllName>AMTFileAuth<|<DllName>$top_builddir/tests/unit/plugins/good_plugin.la<|"
start_mpsd "$G"
sim_bg "$G" "$T/slow.out" --user slow --pass secret --uuid 22222222-0000-0000-0000-000000000001 --duration 20
slow=$SIM_PID
sleep 0.5
t0=$(date +%s%N)
sim "$G" --user alice --pass secret --first-index 5 --duration 1 >"$T/fast.out" 2>&1
t1=$(date +%s%N)
ok "while a login waits 10 s in the plugin, another device logs in" \
	grep -q "^device 5 ready forwards=7" "$T/fast.out"
ok "and it took under 5 s, not 10" test $(( (t1 - t0) / 1000000 )) -lt 5000
ok "the slow login is still pending then" sh -c "! grep -q '^device 0 authenticated' '$T/slow.out'"
ok "the slow login completes in the end" wait_for 15 grep -q "^device 0 ready forwards=7" "$T/slow.out"
kill -TERM $slow
wait $slow
stop_pid "$MPSD_PID" >/dev/null

# Mutual TLS: a verified device certificate identifies the device.
C=$T/mtls
make_config "$C" "s|<VerifyClient>none<|<VerifyClient>require<|"
start_mpsd "$C"
sim "$C" --cert "$certs/device-test-device.pem" --key "$certs/device-test-device-key.pem" \
	--auth none --duration 2 >"$T/mtls.out" 2>&1
ok "mutual TLS: a device with a certificate from the CA logs in" \
	grep -q "ready forwards=7" "$T/mtls.out"
sim "$C" --duration 2 >"$T/nocert.out" 2>&1
ok "mutual TLS: a device without a certificate is refused" \
	sh -c "! grep -q '^device 0 authenticated' '$T/nocert.out'"
stop_pid "$MPSD_PID" >/dev/null

done_testing

#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# reload_plugin.sh: what a reload does to an authentication plugin, seen
# from inside one (tests/peers/probe_auth.c records init, fini and every
# call). ABI 1.2: the new instance is initialised while a login is still
# inside the old one, that login finishes on the old instance with the
# old DllParameters, the old instance is finalised only after it, and
# the next login uses the new parameters. ABI 1.1: never re-initialised,
# the change is named as needing a restart. A failing init refuses the
# reload and the running instance stays.
. "$(dirname "$0")/lib.sh"

SIM=$top_builddir/tests/sim/amtsim
certs=$(test_certs)
for m in 1 2; do
	ok "the probe plugin builds for ABI 1.$m" \
		cc -shared -fPIC -fvisibility=hidden -DPROBE_ABI_MINOR=$m \
		-I"$top_srcdir/plugin-sdk" -o "$T/probe1$m.so" \
		"$top_srcdir/tests/peers/probe_auth.c" -lpthread
done

# device DIR OUT USER PASS [args]: one simulated device.
device() {
	local dir=$1 out=$2 user=$3 pass=$4
	shift 4
	"$SIM" --port "$(amt_port "$dir")" --ca "$certs/ca.pem" \
		--server-name localhost --user "$user" --pass "$pass" "$@" >"$out" 2>&1
}
# line FILE TEXT: the number of the first line holding TEXT (0: none).
line() { grep -nF -- "$2" "$1" | head -n 1 | cut -d: -f1 | grep . || echo 0; }

# ---- ABI 1.2 -------------------------------------------------------------
A=$T/a
EV=$T/ev12
make_config "$A" "s|<DllName>AMTFileAuth<|<DllName>$T/probe12.so<|" \
	"s|<DllParameters>[^<]*AMTAuthFile.txt<|<DllParameters>one $EV<|"
ok "mpsd starts with the ABI 1.2 probe" start_mpsd "$A"
log=$A/log/mps.log
ok "the probe was initialised once" test "$(grep -c '^init' "$EV")" -eq 1

device "$A" "$T/slow.out" slow one --duration 8 &
slow=$!
track $slow
ok "a login is inside the plugin" wait_for 10 file_has "$EV" "auth-start one slow"
sed -i "s|<DllParameters>one $EV<|<DllParameters>two $EV<|" "$A/mps.config"
kill -HUP "$MPSD_PID"
ok "the reload does not wait for it" \
	wait_for 2 file_has "$log" "SIGHUP: reloaded: generation 2"
ok "the log says the device plugin was re-initialised" \
	file_has "$log" "plugins re-initialised: device, console"
ok "the new instance was initialised during the call" \
	sh -c "grep -q '^init two' '$EV' && ! grep -q 'auth-end one slow' '$EV'"
ok "the old instance finishes the call" wait_for 5 file_has "$EV" "auth-end one slow"
ok "with the old parameters: the device logs in" \
	wait_for 5 grep -q "^device 0 ready" "$T/slow.out"
ok "the old instance is finalised" wait_for 5 file_has "$EV" "fini one"
ok "only after its last call" \
	test "$(line "$EV" "fini one")" -gt "$(line "$EV" "auth-end one slow")"
ok "the new instance is not" file_lacks "$EV" "fini two"
device "$A" "$T/new.out" fast two --duration 2
ok "the next login uses the new parameters" grep -q "^device 0 ready" "$T/new.out"
ok "it reached the new instance" file_has "$EV" "auth-start two fast"
device "$A" "$T/old.out" fast one --duration 3
ok "the old password is refused now" grep -q "^device 0 auth-failed" "$T/old.out"

# A failing init refuses the reload; the instance in force stays.
sed -i "s|<DllParameters>two $EV<|<DllParameters>fail $EV<|" "$A/mps.config"
kill -HUP "$MPSD_PID"
ok "a failing mps_plugin_init refuses the reload" \
	wait_for 10 file_has "$log" "reload refused, the settings in force stay (generation 2)"
ok "with the plugin's reason" file_has "$log" "probe: told to fail"
device "$A" "$T/after-fail.out" fast two --duration 2
ok "the instance in force still serves" grep -q "^device 0 ready" "$T/after-fail.out"
wait $slow
stop_pid "$MPSD_PID"
ok "mpsd stops cleanly" test $? -eq 0
ok "every init got its fini at the end" \
	test "$(grep -c '^init' "$EV")" -eq "$(grep -c '^fini' "$EV")"

# ---- ABI 1.1 -------------------------------------------------------------
B=$T/b
EV=$T/ev11
make_config "$B" "s|<DllName>AMTFileAuth<|<DllName>$T/probe11.so<|" \
	"s|<DllParameters>[^<]*AMTAuthFile.txt<|<DllParameters>one $EV<|"
ok "mpsd starts with the ABI 1.1 probe" start_mpsd "$B"
log=$B/log/mps.log
sed -i "s|<DllParameters>one $EV<|<DllParameters>two $EV<|" "$B/mps.config"
kill -HUP "$MPSD_PID"
ok "the reload goes through" wait_for 10 file_has "$log" "SIGHUP: reloaded: generation 2"
ok "the DllParameters change is named as needing a restart" \
	file_has "$log" "<AMT_Authenticate><DllParameters (plugin $T/probe11.so has ABI 1.1: re-initialising it needs 1.2)> changed; it needs a restart"
ok "the 1.1 plugin was not initialised again" test "$(grep -c '^init' "$EV")" -eq 1
device "$B" "$T/b.out" fast one --duration 2
ok "its running instance still serves, with the old parameters" \
	grep -q "^device 0 ready" "$T/b.out"
stop_pid "$MPSD_PID"
ok "mpsd stops cleanly" test $? -eq 0

# ---- the start-up's safety check applies to a reload too ------------------
# Devices on a reachable address with a private account file; a reload
# that points DllParameters at the public demo accounts is refused.
C=$T/c
printf 'private:Pr1vate-Passw0rd\n' >"$T/private.txt"
make_config "$C" "s|<AMTListenIP>[^<]*<|<AMTListenIP>0.0.0.0<|" \
	"s|<DllParameters>[^<]*AMTAuthFile.txt<|<DllParameters>$T/private.txt<|"
ok "mpsd starts on 0.0.0.0 with private accounts" start_mpsd "$C"
log=$C/log/mps.log
sed -i "s|<DllParameters>$T/private.txt<|<DllParameters>$top_srcdir/config/demo/AMTAuthFile.txt<|" \
	"$C/mps.config"
kill -HUP "$MPSD_PID"
ok "a reload to the demo accounts on 0.0.0.0 is refused" \
	wait_for 10 file_has "$log" "reload refused, the settings in force stay (generation 1)"
ok "the log names the demo password's file and line" \
	file_has "$log" "config/demo/AMTAuthFile.txt:5:"
stop_pid "$MPSD_PID"
ok "mpsd stops cleanly" test $? -eq 0
done_testing

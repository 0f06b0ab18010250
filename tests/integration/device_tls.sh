#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# device_tls.sh: the AMT listener's TLS profiles, with the real openssl
# client standing in for old and new firmware. Modern (the default) takes
# TLS 1.2+ only; legacy also takes TLS 1.0 with the RSA AES-CBC suites of
# AMT 11 and older. The full chain is served.
. "$(dirname "$0")/lib.sh"


# tls_client PORT ARGS...: a TLS handshake, exit status of s_client.
tls_client() {
	local port=$1
	shift
	echo | timeout 10 openssl s_client -connect "127.0.0.1:$port" \
		-no_ign_eof "$@" >"$T/client.out" 2>&1
}

M=$T/modern
make_config "$M"
ok "mpsd starts with the modern profile" start_mpsd "$M"
mport=$(sed -n 's|.*<AMTListenPort>\([0-9]*\)<.*|\1|p' "$M/mps.config")
ok "the profile is logged at start" file_has "$M/log/mps.log" "TLS profile modern"
ok "modern: a TLS 1.2 client connects" tls_client "$mport" -tls1_2
ok "modern: the full chain is served (server + CA)" \
	grep -q "^ 1 s:.*mpsd root CA" "$T/client.out"
ok "modern: a TLS 1.3 client connects" tls_client "$mport" -tls1_3
tls_client "$mport" -tls1 -cipher 'AES128-SHA:@SECLEVEL=0'
ok "modern: a TLS 1.0 client (AMT 11 and older) is refused" test $? -ne 0
tls_client "$mport" -tls1_1 -cipher 'AES256-SHA:@SECLEVEL=0'
ok "modern: a TLS 1.1 client is refused" test $? -ne 0
"$top_builddir/tests/sim/amtsim" --port "$mport" --tls legacy --insecure \
	--duration 2 >"$T/sim-legacy-modern.out" 2>&1
ok "modern: a simulated AMT 11 device (TLS 1.0) is refused" \
	grep -q "^device 0 tls-failed" "$T/sim-legacy-modern.out"
ok "modern: the refused handshake is logged" \
	wait_for 5 file_has "$M/log/mps.log" "TLS handshake with 127.0.0.1:"
ok "mpsd is still running" kill -0 "$MPSD_PID"
stop_pid "$MPSD_PID" >/dev/null

L=$T/legacy
make_config "$L" "s|<Profile>modern<|<Profile>legacy<|"
ok "mpsd starts with the legacy profile" start_mpsd "$L"
lport=$(sed -n 's|.*<AMTListenPort>\([0-9]*\)<.*|\1|p' "$L/mps.config")
ok "the legacy profile is logged at start" file_has "$L/log/mps.log" "TLS profile legacy"
ok "legacy: a TLS 1.0 AES128-SHA client connects" \
	tls_client "$lport" -tls1 -cipher 'AES128-SHA:@SECLEVEL=0'
ok "legacy: the negotiated protocol is TLSv1" grep -q "Protocol *: TLSv1$" "$T/client.out"
ok "legacy: a TLS 1.0 AES256-SHA client connects" \
	tls_client "$lport" -tls1 -cipher 'AES256-SHA:@SECLEVEL=0'
ok "legacy: TLS 1.2 still works" tls_client "$lport" -tls1_2
"$top_builddir/tests/sim/amtsim" --port "$lport" --tls legacy --insecure \
	--duration 2 >"$T/sim-legacy.out" 2>&1
ok "legacy: a simulated AMT 11 device logs in over TLS 1.0" \
	grep -q "^device 0 ready forwards=7" "$T/sim-legacy.out"
ok "legacy: it negotiated TLS 1.0" grep -q "^device 0 .*connected .*tls=TLSv1 " "$T/sim-legacy.out"
stop_pid "$MPSD_PID" >/dev/null

# A client that connects and sends nothing is closed after HandshakeTimeout.
H=$T/idle
make_config "$H" "s|</TLS>|<HandshakeTimeout>1</HandshakeTimeout></TLS>|"
start_mpsd "$H"
hport=$(sed -n 's|.*<AMTListenPort>\([0-9]*\)<.*|\1|p' "$H/mps.config")
exec 3<>"/dev/tcp/127.0.0.1/$hport"
ok "a silent client is closed after HandshakeTimeout" \
	wait_for 5 file_has "$H/log/mps.log" "no TLS handshake from 127.0.0.1:"
ok "its socket sees EOF" timeout 5 sh -c 'cat <&3 >/dev/null'
exec 3<&-
stop_pid "$MPSD_PID" >/dev/null

# A bad certificate path fails the start, naming the file.
B=$T/badcert
make_config "$B" "s|<CertificateChainFile>[^<]*<|<CertificateChainFile>$T/nope.pem<|"
"$MPSD" -f -c "$B/mps.config" >"$B/stdout" 2>"$B/stderr"
ok "a missing certificate fails the start" test $? -eq 1
ok "and the error names the file" file_has "$B/stderr" "$T/nope.pem"
"$MPSD" -t -c "$B/mps.config" >"$B/tout" 2>"$B/terr"
ok "mpsd -t checks the TLS files too" test $? -eq 1

done_testing

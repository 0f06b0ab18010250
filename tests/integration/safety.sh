#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# safety.sh: the demo passwords never go live on a reachable address, and
# an unauthenticated listener on one is pointed out.
# Only mpsd -t and refused starts here: nothing binds a non-loopback
# address.
. "$(dirname "$0")/lib.sh"

# The demo itself (loopback only) passes.
D=$T/demo
make_config "$D"
"$MPSD" -t -c "$D/mps.config" >"$T/d.out" 2>"$T/d.err"
ok "the demo configuration (loopback, demo accounts) passes -t" test $? -eq 0
ok "without a warning" test ! -s "$T/d.err"

# The demo accounts with devices reachable from the network.
N=$T/net
make_config "$N" "s|<AMTListenIP>[^<]*<|<AMTListenIP>0.0.0.0<|"
"$MPSD" -t -c "$N/mps.config" >"$T/n.out" 2>"$T/n.err"
ok "-t refuses the demo device password on 0.0.0.0" test $? -eq 1
ok "naming the accounts file, its line and the user" \
	grep -q "config/demo/AMTAuthFile.txt:[0-9]*: user \"admin\" has a demo password.*0.0.0.0" "$T/n.err"
ok "the console accounts stay allowed (their ports are loopback)" \
	file_lacks "$T/n.err" "SocksAuthFile.txt"
"$MPSD" -f -c "$N/mps.config" >"$T/ns.out" 2>"$T/ns.err"
ok "the start refuses it too (exit 1)" test $? -eq 1
ok "and says why" grep -q "demo password" "$T/ns.err"
ok "before opening the log" test ! -e "$N/log/mps.log"

# The same password copied into an account of the admin's own file.
C=$T/copy
printf 'amt7:P@ssw0rd\n' >"$T/own-accounts.txt"
make_config "$C" "s|<SocksListenIP>[^<]*<|<SocksListenIP>::<|" \
	"s|<DllParameters>[^<]*SocksAuthFile.txt<|<DllParameters>file $T/own-accounts.txt<|"
"$MPSD" -t -c "$C/mps.config" >"$T/c.out" 2>"$T/c.err"
ok "a demo password under another name is refused as well" \
	grep -q "own-accounts.txt:1: user \"amt7\" has a demo password.*Socks.*::" "$T/c.err"

# Real accounts on 0.0.0.0: fine.
R=$T/real
printf 'device1:Tr0ub4dor&3-long\n' >"$T/real-accounts.txt"
make_config "$R" "s|<AMTListenIP>[^<]*<|<AMTListenIP>0.0.0.0<|" \
	"s|<DllParameters>[^<]*AMTAuthFile.txt<|<DllParameters>$T/real-accounts.txt<|"
"$MPSD" -t -c "$R/mps.config" >"$T/r.out" 2>"$T/r.err"
ok "own passwords on 0.0.0.0 pass -t" test $? -eq 0

# No authentication on a reachable address: a warning, not an error.
U=$T/unauth
make_config "$U" "s|<AMTListenIP>[^<]*<|<AMTListenIP>0.0.0.0<|" \
	"s|<SocksListenIP>[^<]*<|<SocksListenIP>0.0.0.0<|" \
	"s|<NeedAuthentication>true<|<NeedAuthentication>false<|g"
"$MPSD" -t -c "$U/mps.config" >"$T/u.out" 2>"$T/u.err"
ok "unauthenticated listeners on 0.0.0.0 still pass -t" test $? -eq 0
ok "with a warning for devices" grep -q "warning: .*devices are accepted without authentication on 0.0.0.0" "$T/u.err"
ok "and one for consoles" grep -q "warning: .*consoles are accepted without authentication on 0.0.0.0" "$T/u.err"
L=$T/unauth-lo
make_config "$L" "s|<NeedAuthentication>true<|<NeedAuthentication>false<|g"
"$MPSD" -t -c "$L/mps.config" >"$T/l.out" 2>"$T/l.err"
ok "on loopback, no authentication is no warning" file_lacks "$T/l.err" "without authentication"

done_testing

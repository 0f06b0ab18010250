#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# plugin_sdk.sh: the plugin SDK works outside this tree. Install the SDK
# (mps/plugin.h, mps-plugin.pc) into a DESTDIR, build the example plugin
# against that install with its own Makefile, load it in mpsd and log a
# simulated device in through it.
. "$(dirname "$0")/lib.sh"

DEST=$T/dest
ok "the SDK installs into a DESTDIR" \
	make -s -C "$top_builddir" install-mpsincludeHEADERS install-pkgconfigDATA DESTDIR="$DEST"
pc=$(find "$DEST" -name mps-plugin.pc | head -n 1)
hdr=$(find "$DEST" -path '*/mps/plugin.h' | head -n 1)
ok "mps-plugin.pc is installed" test -n "$pc"
ok "mps/plugin.h is installed" test -n "$hdr"

# The example, copied out of the tree as a plugin author would start.
cp -r "$top_srcdir/plugin-sdk/example" "$T/example"
ok "the example builds against the installed SDK only" \
	make -s -C "$T/example" PKG_CONFIG_PATH="$(dirname "$pc")" PKG_CONFIG_SYSROOT_DIR="$DEST"
ok "the plugin exports only the documented symbols" \
	sh -c "test -f '$T/example/ExampleAuth.so' && nm -D --defined-only '$T/example/ExampleAuth.so' | awk '{print \$3}' | grep -v -E '^(Authenticate|mps_plugin_abi_version|mps_plugin_init|mps_plugin_fini)$' | (! grep -q .)"

E=$T/mpsd
make_config "$E" "s|<DllName>AMTFileAuth<|<DllName>$T/example/ExampleAuth.so<|" \
	"s|<DllParameters>[^<]*AMTAuthFile.txt<|<DllParameters>sdkdevice:sdk-s3cret<|"
ok "mpsd -t loads the example plugin" "$MPSD" -t -c "$E/mps.config"
ok "mpsd starts with it" start_mpsd "$E"
ok "the log names the example plugin" file_has "$E/log/mps.log" "AMT authentication: $T/example/ExampleAuth.so"
port=$(sed -n 's|.*<AMTListenPort>\([0-9]*\)<.*|\1|p' "$E/mps.config")
sim() {
	"$top_builddir/tests/sim/amtsim" --port "$port" --ca "$T/certs/ca.pem" \
		--server-name localhost "$@"
}
sim --user sdkdevice --pass sdk-s3cret --duration 2 >"$T/good.out" 2>&1
ok "a device authenticates through the out-of-tree plugin" grep -q "^device 0 ready forwards=7" "$T/good.out"
sim --user sdkdevice --pass wrong --duration 3 >"$T/bad.out" 2>&1
ok "a wrong password is refused by it" grep -q "^device 0 auth-failed" "$T/bad.out"
stop_pid "$MPSD_PID" >/dev/null

B=$T/badparams
make_config "$B" "s|<DllName>AMTFileAuth<|<DllName>$T/example/ExampleAuth.so<|" \
	"s|<DllParameters>[^<]*AMTAuthFile.txt<|<DllParameters>nocolon<|"
"$MPSD" -t -c "$B/mps.config" >"$B/out" 2>"$B/err"
ok "its mps_plugin_init refuses bad DllParameters" file_has "$B/err" "Failed loading AMT authentication dll."
ok "with the plugin's own reason" file_has "$B/err" "DllParameters must be USER:PASSWORD"

done_testing

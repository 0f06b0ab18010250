#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# manpages.sh: mpsd(8) and mps.config(5) agree with the binary: the default
# configuration path, the long options, the five plugins, the lock per
# LockFile; and they render without a groff warning.
. "$(dirname "$0")/lib.sh"

m8=$top_builddir/server/mpsd.8
m5=$top_builddir/config/mps.config.5
"$MPSD" --help >"$T/help" 2>&1
default=$(sed -n 's/.*(default \(.*mps.config\)).*/\1/p' "$T/help")
# --help wraps the default onto its own line.
[ -n "$default" ] || default=$(grep -o '/[^ ()]*/mps.config' "$T/help" | head -1)
ok "--help names a default configuration" test -n "$default"
ok "mpsd(8) gives the same default for -c ($default)" grep -qF "$default" "$m8"
ok "mps.config(5) gives the same path" grep -qF "$default" "$m5"
for o in --config --foreground --test --version --help; do
	ok "mpsd(8) documents $o" grep -qF -- "\\-\\-${o#--}" "$m8"
done
for p in AMTFileAuth SocksFileAuth SOAPAuthentication LDAPAuthentication SOAPNotifier; do
	ok "mpsd(8) names the plugin $p" grep -q "$p" "$m8"
	ok "mps.config(5) names the plugin $p" grep -q "$p" "$m5"
done
ok "mpsd(8): one mpsd per LockFile" grep -q "runs per LockFile" "$m8"
ok "no @...@ placeholder is left" test -z "$(grep -o '@[a-z]*@' "$m8" "$m5")"
ok "mpsd(8) documents the stray signals" grep -q "SIGUSR2" "$m8"
if command -v groff >/dev/null; then
	for m in "$m8" "$m5"; do
		groff -man -ww -z "$m" >"$T/groff.out" 2>&1
		ok "$(basename "$m") renders without a groff warning" test ! -s "$T/groff.out"
		head -5 "$T/groff.out" | sed 's/^/# /'
	done
else
	skip "groff rendering" "groff not installed"
fi
done_testing

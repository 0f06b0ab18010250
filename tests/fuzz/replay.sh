#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# replay.sh: every fuzz target replays its corpus (tests/fuzz/corpus/NAME)
# on each make check, so that a crash once found and added there can
# never come back unnoticed. Real fuzzing: see tests/fuzz/README.md.
set -u
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
n=0
failed=0
for corpus in "$top_srcdir"/tests/fuzz/corpus/*/; do
	name=$(basename "$corpus")
	prog=$top_builddir/tests/fuzz/replay_$name
	n=$((n + 1))
	if [ ! -x "$prog" ]; then
		echo "not ok $n - $name: $prog not built"
		failed=$((failed + 1))
		continue
	fi
	if out=$("$prog" "$corpus"* 2>&1); then
		echo "ok $n - $name: $(printf '%s\n' "$out" | grep -c '^ok') inputs replayed cleanly"
	else
		echo "not ok $n - $name"
		printf '%s\n' "$out" | sed 's/^/# /' | tail -20
		failed=$((failed + 1))
	fi
done
echo "1..$n"
[ $failed -eq 0 ]

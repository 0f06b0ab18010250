#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# soak.sh [DURATION]: issue 12's soak, a long run, not a test.
#
# DURATION seconds (default 3600) of device and console churn against one
# mpsd, with its resident memory, open descriptors and thread count
# sampled every 10 s into $T/samples.csv (the scratch folder is kept):
#
# - STABLE (8) simulated devices (tests/sim/amtsim, one process) stay
#   logged in the whole run: the consoles' requests to them must all
#   succeed.
# - CHURN_GROUPS (4) groups of GROUP_SIZE (10) devices, one amtsim
#   process each, log in, forward port 16992, stay 10-60 s, leave
#   (DISCONNECT, close_notify, FIN) and come back 1-5 s later; one run
#   in four is ended abruptly instead (SIGKILL part-way: the sockets are
#   reset, no DISCONNECT).
# - Consoles, every channel ending at tests/peers/origin_http behind the
#   devices' port 16992: a curl loop through the SOCKS port and one
#   through the HTTP proxy (GET of /small and of /bytes/N, N up to 3 x
#   the channel window, each body compared with what the origin serves),
#   one request in 20 with a wrong password (must be refused: SOCKS
#   failure, HTTP 407) and one in 20 to a churning device (may fail: the
#   device may be gone; counted apart); every 60 s a burst of
#   tests/bench/socks_load (8 keep-alive connections for 5 s).
# - A SIGHUP reload every RELOAD_EVERY seconds (default DURATION / 6).
#
# The first WARMUP seconds (default DURATION / 10, at most 300) are not
# judged. At the end the churn stops, every device leaves, and mpsd is
# sampled for 80 s more (it trims its heap every 10 s; the blocking
# lanes' extra threads retire after 60 s idle); the last is "final". Printed: idle
# (before any device), baseline (the median of the first 6 samples after
# the warm-up), max, the median of the last 6 samples under churn, final
# (idle again), the churn totals, and a verdict:
# - descriptors: final idle <= idle start + 2, and the late median under
#   churn <= baseline + 10 (no leak per session or request);
# - threads: final <= baseline (the lanes' extra threads retired, none
#   left behind);
# - RSS: the late median under churn <= 1.25 x baseline + 2 MiB and final
#   <= baseline + 2 MiB; under ASan only reported (its quarantine holds up
#   to 256 MiB of freed memory, so RSS measures ASan, see lib.sh);
# - every SIGHUP reloaded (none refused);
# - no request that had to succeed failed, no wrong password got through,
#   no stable device was dropped, no churning run that ended normally had
#   a failed device;
# - mpsd stops cleanly (exit 0) and its stderr has no sanitizer report.
# Exit status 0 when the verdict is "pass".
#
# Works on any build: BUILD=dir names the build directory (default
# build/; e.g. BUILD=build-san for the ASan + UBSan build of
# scripts/run-tests --sanitizers). The load is kept moderate (about one
# device login a second, a few console requests a second) so that it can
# run for an hour on a shared 2-core machine; mpsd's pre-auth and console
# login limits are lifted so that they never refuse the soak's own
# clients (they are tested by floods.sh and preauth_flood.sh).
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD:-$top/build}
duration=${1:-3600}
STABLE=${STABLE:-8}
CHURN_GROUPS=${CHURN_GROUPS:-4}
GROUP_SIZE=${GROUP_SIZE:-10}
WARMUP=${WARMUP:-$(( duration / 10 > 300 ? 300 : duration / 10 ))}
RELOAD_EVERY=${RELOAD_EVERY:-$(( duration / 6 > 30 ? duration / 6 : 30 ))}
SAMPLE_EVERY=10
for p in server/mpsd tests/sim/amtsim tests/peers/origin_http tests/bench/socks_load; do
	if [ ! -x "$build/$p" ]; then
		echo "build first: $build/$p (make -C $build all check TESTS=)" >&2
		exit 2
	fi
done
LOAD=$build/tests/bench/socks_load
export KEEP_TMP=${KEEP_TMP:-1}	# the CSV and the logs are the result

export top_srcdir=$top top_builddir=$build
# shellcheck source=../integration/console_lib.sh
. "$top/tests/integration/console_lib.sh"

# Leak reports at exit are part of the verdict; the soak's own clients
# (amtsim, socks_load, origin_http) are built with the same sanitizers,
# and a SIGKILLed amtsim must not count: only mpsd's stderr is read.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

big=5000	# far above what the soak holds (about 60 connections)
D=$T/mpsd
make_config "$D" "$(tunnel_settings "<Limits><MaxConnections>$big</MaxConnections><MaxPreAuthConnections>$big</MaxPreAuthConnections><MaxPreAuthPerAddress>$big</MaxPreAuthPerAddress><PreAuthDropStart>$big</PreAuthDropStart><ConsoleLoginFailures>1000000</ConsoleLoginFailures><ConsoleLoginFailuresPerUser>1000000</ConsoleLoginFailuresPerUser></Limits>")"
set_trace_levels "$D" "ERROR|WARNING|INFO"
start_mpsd "$D" || { echo "mpsd did not start" >&2; cat "$D/stderr" >&2; exit 1; }
console_ports "$D"
# The clients' own leaks (a killed amtsim, curl is not ours) are not
# what the soak judges: from here on, only mpsd (started above) checks.
export ASAN_OPTIONS=${ASAN_OPTIONS/detect_leaks=1/detect_leaks=0}
start_origin --quiet || { echo "origin_http did not start" >&2; exit 1; }

CSV=$T/samples.csv
EV=$T/events	# one line per console request or device run, see totals
mkdir -p "$T/churn"
: >"$EV"
sample() {	# elapsed phase rss fds threads load
	local rss fds thr
	rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$MPSD_PID/status" 2>/dev/null)
	thr=$(awk '/^Threads:/ {print $2}' "/proc/$MPSD_PID/status" 2>/dev/null)
	fds=$(find "/proc/$MPSD_PID/fd" -mindepth 1 2>/dev/null | wc -l)
	echo "$(date -u +%FT%TZ),$(( $(date +%s) - t0 )),$1,${rss:-0},$fds,${thr:-0},$(cut -d' ' -f1 /proc/loadavg)" >>"$CSV"
}
echo "time,elapsed_s,phase,rss_kb,fds,threads,load1" >"$CSV"
t0=$(date +%s)
sleep 2
sample idle

simbase=(--port "$AMT_PORT" --ca "$T/certs/ca.pem" --server-name localhost
	--ports 16992 --target "16992=127.0.0.1:$ORIGIN_PORT" --quiet)
"$SIM" "${simbase[@]}" --count "$STABLE" --first-index 0 --fqdn 'dev-%d.amt.test' \
	--ready-file "$T/stable.ready" --duration $((duration + 3600)) \
	>"$T/stable.out" 2>&1 &
STABLE_PID=$!
track "$STABLE_PID"
wait_for $((60 * SLOW)) test -f "$T/stable.ready" && grep -q ' failed=0' "$T/stable.ready" ||
	{ echo "the stable devices did not log in" >&2; cat "$T/stable.out" >&2; exit 1; }

stopping() { [ -f "$T/stop" ]; }
still_running_not() { ! still_running "$1"; }

# churn_group G: group G's devices log in, stay, leave, come back.
churn_group() {
	local g=$1 first=$((STABLE + $1 * GROUP_SIZE)) run=0 stay pid rc killed out
	while ! stopping; do
		run=$((run + 1))
		stay=$((10 + RANDOM % 51))
		out=$T/churn/g$g.$run.out
		"$SIM" "${simbase[@]}" --count "$GROUP_SIZE" --first-index "$first" \
			--duration "$stay" --connect-timeout 30 --reply-timeout 30 >"$out" 2>&1 &
		pid=$!
		echo "$pid" >"$T/churn/g$g.pid"
		killed=0
		if [ $((RANDOM % 4)) = 0 ]; then
			sleep $((2 + RANDOM % (stay - 2)))
			kill -KILL "$pid" 2>/dev/null && killed=1
		fi
		wait "$pid" 2>/dev/null	# (no "Killed" notice from bash)
		rc=$?
		rm -f "$T/churn/g$g.pid"
		if [ $killed = 1 ]; then
			echo "device-run killed group=$g run=$run" >>"$EV"
			rm -f "$out"	# no summary: nothing to judge
		else
			# exit 1 = a device failed; the summary line says which
			echo "device-run rc=$rc group=$g run=$run $(grep '^summary' "$out")" >>"$EV"
			[ "$rc" = 0 ] && rm -f "$out"
		fi
		stopping || sleep $((1 + RANDOM % 5))
	done
}

SIZES=(100 4000 70000 200000)	# 200000: three windows of 64 KiB
for n in "${SIZES[@]}"; do expected "$n" >/dev/null; done

# one_request KIND: one console request, its outcome on one line of $EV.
#   KIND socks|http; class ok (to a stable device), wrongpw, churn.
one_request() {
	local kind=$1 r class dev n url body=$T/body.$1 pass=$CONSOLE_PASS code rc
	r=$((RANDOM % 20))
	class=ok
	dev=$((RANDOM % STABLE))
	if [ $r = 0 ]; then
		class=wrongpw
		pass=wrong-$RANDOM
	elif [ $r = 1 ]; then
		class=churn
		dev=$((STABLE + RANDOM % (CHURN_GROUPS * GROUP_SIZE)))
	fi
	n=${SIZES[$((RANDOM % ${#SIZES[@]}))]}
	url=http://dev-$dev.amt.test:16992/bytes/$n
	[ $((RANDOM % 4)) = 0 ] && url=http://dev-$dev.amt.test:16992/small && n=small
	rm -f "$body"
	if [ "$kind" = socks ]; then
		code=$(curl -sS --max-time 30 --socks5-hostname "127.0.0.1:$SOCKS_PORT" \
			--proxy-user "$CONSOLE_USER:$pass" -o "$body" -w '%{http_code}' "$url" 2>"$body.err")
	else
		code=$(curl -sS --max-time 30 -x "http://127.0.0.1:$HTTP_PORT" \
			--proxy-user "$CONSOLE_USER:$pass" -o "$body" -w '%{http_code}' "$url" 2>"$body.err")
	fi
	rc=$?
	local good=0
	if [ "$rc" = 0 ] && [ "$code" = 200 ]; then
		if [ "$n" = small ]; then
			[ "$(wc -c <"$body")" = 100 ] && good=1
		else
			cmp -s "$body" "$T/expect-$n" && good=1
		fi
	fi
	local res
	case $class in
	ok|churn) [ $good = 1 ] && res=pass || res=fail ;;
	wrongpw)
		# Refused: SOCKS auth failure (curl exits non-zero) or 407.
		if [ $good = 1 ]; then res=fail
		elif [ "$kind" = http ] && [ "$code" != 407 ]; then res=fail
		elif [ "$kind" = socks ] && [ "$rc" = 0 ]; then res=fail
		else res=pass
		fi ;;
	esac
	echo "request $kind $class $res rc=$rc code=$code dev=$dev n=$n $(tr '\n' ' ' <"$body.err" | cut -c1-160)" >>"$EV"
}

console_loop() {
	while ! stopping; do
		one_request "$1"
		sleep 0.$((2 + RANDOM % 6))
	done
}

burst_loop() {
	local k=0 rc
	while ! stopping; do
		sleep 55
		stopping && break
		k=$((k + 1))
		"$LOAD" --socks "127.0.0.1:$SOCKS_PORT" --user "$CONSOLE_USER" --pass "$CONSOLE_PASS" \
			--target 'dev-%d.amt.test:16992' --devices "$STABLE" --connections 8 \
			--duration 5 --timeout 30 >"$T/burst.out" 2>&1
		rc=$?
		echo "burst rc=$rc $(grep -E '^(setup|result)' "$T/burst.out" | tr '\n' ' ')" >>"$EV"
		[ $rc = 0 ] || cp "$T/burst.out" "$T/burst.$k.failed"
	done
}

reload_loop() {
	while ! stopping; do
		sleep "$RELOAD_EVERY"
		stopping && break
		kill -HUP "$MPSD_PID" && echo "reload sent" >>"$EV"
	done
}

loops=()	# finish their current run or request at the end
for ((g = 0; g < CHURN_GROUPS; g++)); do
	churn_group "$g" &
	loops+=($!)
done
console_loop socks &
loops+=($!)
console_loop http &
loops+=($!)
burst_loop &
burst_pid=$!
reload_loop &
reload_pid=$!
for p in "${loops[@]}" "$burst_pid" "$reload_pid"; do track "$p"; done

echo "soak: $duration s against mpsd $MPSD_PID ($build, sanitizer: ${SANITIZER:-none}); scratch $T"
echo "  $STABLE stable devices, $CHURN_GROUPS x $GROUP_SIZE churning, warm-up $WARMUP s, SIGHUP every $RELOAD_EVERY s"
end=$((t0 + duration))
while [ "$(date +%s)" -lt "$end" ]; do
	sleep $(( SAMPLE_EVERY - ($(date +%s) - t0) % SAMPLE_EVERY ))
	if ! still_running "$MPSD_PID"; then
		echo "mpsd died" >&2
		break
	fi
	if [ $(( $(date +%s) - t0 )) -lt "$WARMUP" ]; then sample warmup; else sample churn; fi
done

# The end: no new work, the churning devices leave (SIGTERM: DISCONNECT
# and close), the loops finish their last request.
touch "$T/stop"
for f in "$T"/churn/g*.pid; do kill -TERM "$(cat "$f" 2>/dev/null)" 2>/dev/null; done
# The reload loop only sleeps: end it. The burst loop may be in a burst
# (5 s): let that finish. The others end after their current request or
# device run (the devices were told to leave).
kill -TERM "$reload_pid" 2>/dev/null
wait_for $((60 * SLOW)) sh -c "! pgrep -P $burst_pid -f socks_load >/dev/null"
kill -TERM "$burst_pid" 2>/dev/null
for p in "${loops[@]}"; do
	wait_for $((120 * SLOW)) still_running_not "$p" || kill -TERM "$p" 2>/dev/null
done
stable_alive=0
still_running "$STABLE_PID" && stable_alive=1
kill -TERM "$STABLE_PID" 2>/dev/null
wait "$STABLE_PID"
stable_rc=$?
# Idle again: mpsd trims its heap every 10 s, and the blocking lanes'
# extra threads retire after 60 s idle (2 a lane stay): sample the drain,
# the last one is "final".
for _ in 1 2 3 4 5 6 7; do
	sleep "$SAMPLE_EVERY"
	sample drain
done
sleep "$SAMPLE_EVERY"
sample final
mpsd_up=0
still_running "$MPSD_PID" && mpsd_up=1
stop_pid "$MPSD_PID"
mpsd_rc=$?
la=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- figures --------------------------------------------------------
# col PHASE-FILTER N: column N (4 rss, 5 fds, 6 threads) of the samples.
median() { sort -n | awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)]; else print 0 }'; }
churnrows() { awk -F, '$3 == "churn"' "$CSV"; }
base_of() { churnrows | head -n 6 | cut -d, -f"$1" | median; }
late_of() { churnrows | tail -n 6 | cut -d, -f"$1" | median; }
max_of_col() { awk -F, -v c="$1" 'NR > 1 && $c > m { m = $c } END { print m + 0 }' "$CSV"; }
row_of() { awk -F, -v p="$1" -v c="$2" '$3 == p { v = $c } END { print v + 0 }' "$CSV"; }

echo
printf '%-9s %12s %8s %8s\n' "" "RSS KiB" fds threads
for what in idle baseline max late final; do
	case $what in
	idle) r=$(row_of idle 4); f=$(row_of idle 5); t=$(row_of idle 6) ;;
	baseline) r=$(base_of 4); f=$(base_of 5); t=$(base_of 6) ;;
	max) r=$(max_of_col 4); f=$(max_of_col 5); t=$(max_of_col 6) ;;
	late) r=$(late_of 4); f=$(late_of 5); t=$(late_of 6) ;;
	final) r=$(row_of final 4); f=$(row_of final 5); t=$(row_of final 6) ;;
	esac
	printf '%-9s %12s %8s %8s\n' "$what" "$r" "$f" "$t"
	eval "${what}_rss=$r ${what}_fds=$f ${what}_thr=$t"
done
echo "(idle: before any device; baseline: median of the first 6 samples after the warm-up; late: median of the last 6 under churn; final: 80 s after every device left)"

cnt() { grep -cE -- "$1" "$EV" || true; }
runs_ok=$(cnt '^device-run rc=0 ')
runs_failed=$(cnt '^device-run rc=[1-9]')
runs_killed=$(cnt '^device-run killed')
sessions=$(awk '/^device-run rc=/ { for (i = 1; i <= NF; i++) if ($i ~ /^connected=/) { split($i, a, "="); s += a[2] } } END { print s + 0 }' "$EV")
req_ok=$(cnt '^request [a-z]+ ok pass')
req_bad=$(cnt '^request [a-z]+ ok fail')
wp_ok=$(cnt '^request [a-z]+ wrongpw pass')
wp_bad=$(cnt '^request [a-z]+ wrongpw fail')
ch_ok=$(cnt '^request [a-z]+ churn pass')
ch_bad=$(cnt '^request [a-z]+ churn fail')
bursts=$(cnt '^burst ')
burst_bad=$(cnt '^burst rc=[1-9]')
burst_req=$(awk '/^burst / { for (i = 1; i <= NF; i++) if ($i ~ /^requests=/) { split($i, a, "="); s += a[2] } } END { print s + 0 }' "$EV")
burst_err=$(awk '/^burst / { for (i = 1; i <= NF; i++) if ($i ~ /^errors=/) { split($i, a, "="); s += a[2] } } END { print s + 0 }' "$EV")
reloads=$(cnt '^reload sent')
# Reloads done: the configuration generation (1 at start) of the last
# reload line, which survives the log's rotation (an hour rotates the
# first reloads' lines away).
gen=$(cat "$D"/log/mps.log* 2>/dev/null | sed -n 's/.*SIGHUP: reloaded: generation \([0-9]*\).*/\1/p' | sort -n | tail -n 1)
reloads_logged=$(( ${gen:-1} - 1 ))
reload_refused=$(cat "$D"/log/mps.log* 2>/dev/null | grep -c 'reload refused' || true)
stable_dropped=$(grep -c 'outcome=dropped\|outcome=failed' "$T/stable.out" || true)
log_err=$(cat "$D"/log/mps.log* 2>/dev/null | grep -c '\[LM ERROR\]' || true)
log_warn=$(cat "$D"/log/mps.log* 2>/dev/null | grep -c '\[LM WARNING\]' || true)
san=$(grep -cE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|WARNING: ThreadSanitizer' "$D/stderr" || true)

echo
echo "device runs: $runs_ok ended normally, $runs_failed with a failed device, $runs_killed killed (SIGKILL); device sessions (connected, normal runs): $sessions, plus $STABLE stable"
echo "console requests to stable devices: $req_ok good, $req_bad failed"
echo "wrong passwords: $wp_ok refused, $wp_bad NOT refused as they should be"
echo "requests to churning devices: $ch_ok good, $ch_bad failed (allowed: the device may be away)"
echo "socks_load bursts: $bursts, $burst_req requests, $burst_err errors, $burst_bad runs with a failure"
echo "SIGHUP reloads: $reloads sent, $reloads_logged done (configuration generation $((reloads_logged + 1))), $reload_refused refused"
echo "mpsd log: $log_err ERROR lines, $log_warn WARNING lines (the wrong passwords' are aggregated per minute)"
echo "stable devices: alive to the end $stable_alive, exit $stable_rc, dropped or failed $stable_dropped"
echo "mpsd: running at the end $mpsd_up, exit status $mpsd_rc, sanitizer reports $san; load average $la on $(nproc) cores"

verdict=pass
why=()
fail() { verdict=FAIL; why+=("$1"); }
[ "$final_fds" -le $((idle_fds + 2)) ] || fail "descriptors: final $final_fds > idle $idle_fds + 2"
[ "$late_fds" -le $((baseline_fds + 10)) ] || fail "descriptors: late $late_fds > baseline $baseline_fds + 10"
[ "$final_thr" -le "$baseline_thr" ] || fail "threads: final $final_thr > baseline $baseline_thr"
rss_late_ok=$(awk -v l="$late_rss" -v b="$baseline_rss" 'BEGIN { print (l <= 1.25 * b + 2048) }')
rss_final_ok=$(awk -v f="$final_rss" -v b="$baseline_rss" 'BEGIN { print (f <= b + 2048) }')
if [ "$SANITIZER" = "" ]; then
	[ "$rss_late_ok" = 1 ] || fail "RSS: late $late_rss > 1.25 x baseline $baseline_rss + 2 MiB"
	[ "$rss_final_ok" = 1 ] || fail "RSS: final $final_rss > baseline $baseline_rss + 2 MiB"
else
	echo "RSS not judged under $SANITIZER (late ok: $rss_late_ok, final ok: $rss_final_ok)"
fi
[ "$req_bad" = 0 ] || fail "$req_bad requests to stable devices failed"
[ "$wp_bad" = 0 ] || fail "$wp_bad wrong passwords not refused"
[ "$burst_bad" = 0 ] && [ "$burst_err" = 0 ] || fail "socks_load bursts failed ($burst_bad runs, $burst_err errors)"
[ "$runs_failed" = 0 ] || fail "$runs_failed device runs had a failed device"
[ "$stable_alive" = 1 ] && [ "$stable_rc" = 0 ] && [ "$stable_dropped" = 0 ] || fail "a stable device was dropped"
[ "$reload_refused" = 0 ] || fail "a reload was refused"
[ "$reloads_logged" = "$reloads" ] || fail "$reloads SIGHUPs sent, $reloads_logged reloads done"
[ "$mpsd_up" = 1 ] && [ "$mpsd_rc" = 0 ] || fail "mpsd did not stop cleanly (running $mpsd_up, exit $mpsd_rc)"
[ "$san" = 0 ] || fail "$san sanitizer reports in $D/stderr"
echo "verdict: $verdict"
for w in "${why[@]}"; do echo "  $w"; done
echo "samples: $CSV; events: $EV; mpsd log: $D/log"
[ $verdict = pass ]

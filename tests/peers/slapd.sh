#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# slapd.sh: a throwaway OpenLDAP slapd on loopback for the LDAP plugin's
# tests (recipe: docs/TESTING.md).
#
#   slapd.sh start DIR [LDAP_PORT LDAPS_PORT]
#       Creates DIR (which must be empty or absent), certificates in
#       DIR/certs (scripts/mps-certgen: ca.pem, server-chain.pem, ...),
#       DIR/slapd.conf and a database loaded from slapd-data.ldif, then
#       starts slapd with ldap:// (plain and StartTLS) and ldaps://
#       listeners on 127.0.0.1 and waits until it answers. Without ports,
#       free ones are picked (and picked again if slapd loses a race for
#       them). Prints, on success, one line:
#           pid=PID ldap_port=PORT ldaps_port=PORT
#       slapd's own output goes to DIR/slapd.log.
#   slapd.sh stop DIR
#       Stops the slapd started on DIR (SIGTERM, then SIGKILL after 5 s).
#
# The directory (dc=example,dc=com) holds the users of slapd-data.ldif;
# the service account cn=svc,dc=example,dc=com (password svcpass) may
# search it, anonymous clients may only bind.
# Environment: top_srcdir (for scripts/mps-certgen; default: two levels up
# from this script), SLAPD, SLAPADD, SLAPPASSWD, LDAPWHOAMI.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=${top_srcdir:-$(cd "$here/../.." && pwd)}
SLAPD=${SLAPD:-/usr/sbin/slapd}
SLAPADD=${SLAPADD:-/usr/sbin/slapadd}
SLAPPASSWD=${SLAPPASSWD:-/usr/sbin/slappasswd}
LDAPWHOAMI=${LDAPWHOAMI:-ldapwhoami}

die() {
	echo "slapd.sh: $*" >&2
	exit 1
}

# port_in_use PORT: something listens on TCP PORT (as tests/integration/lib.sh).
port_in_use() {
	hex=$(printf '%04X' "$1")
	grep -q ":$hex [0-9A-F]*:[0-9A-F]* 0A " /proc/net/tcp /proc/net/tcp6 \
		2>/dev/null
}

free_port() {
	while :; do
		# $RANDOM is not POSIX: read the kernel's randomness instead.
		p=$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')
		p=$((20000 + p % 40000))
		port_in_use "$p" || { echo "$p"; return; }
	done
}

# hash PASSWORD: an {SSHA} userPassword value, as a real directory holds.
hash() {
	"$SLAPPASSWD" -h '{SSHA}' -s "$1"
}

write_conf() {
	dir=$1
	cat >"$dir/slapd.conf" <<EOF
include   /etc/ldap/schema/core.schema
include   /etc/ldap/schema/cosine.schema
include   /etc/ldap/schema/nis.schema
include   /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile   $dir/slapd.pid
argsfile  $dir/slapd.args
# StartTLS on ldap:// and ldaps:// both use these; no "security" line, so
# that plain binds work too (the non-TLS tests need them).
TLSCACertificateFile  $dir/certs/ca.pem
TLSCertificateFile    $dir/certs/server-chain.pem
TLSCertificateKeyFile $dir/certs/server-key.pem
database  mdb
maxsize   10485760
suffix    "dc=example,dc=com"
rootdn    "cn=admin,dc=example,dc=com"
rootpw    adminpass
directory $dir/db
index     uid eq
# Anonymous clients may bind and nothing else, so that search-then-bind
# without the service account finds nobody.
access to attrs=userPassword by self write by anonymous auth by * none
access to * by users read by anonymous auth by * none
EOF
}

write_ldif() {
	dir=$1
	sed -e "s|@userpass@|$(hash userpass)|" \
	    -e "s|@starpass@|$(hash starpass)|" \
	    -e "s|@dnpass@|$(hash dnpass)|" \
	    -e "s|@hashpass@|$(hash hashpass)|" \
	    -e "s|@duppass@|$(hash duppass)|" \
	    -e "s|@svcpass@|$(hash svcpass)|" \
	    "$here/slapd-data.ldif" >"$dir/init.ldif"
}

# alive PID: the process runs (an exited child not yet reaped is a zombie,
# which kill -0 still finds).
alive() {
	kill -0 "$1" 2>/dev/null || return 1
	state=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
	[ "$state" != Z ]
}

# try_start DIR LDAP_PORT LDAPS_PORT: 0 once slapd answers on both ports.
try_start() {
	dir=$1
	url="ldap://127.0.0.1:$2/"
	urls="ldaps://127.0.0.1:$3/"
	rm -f "$dir/slapd.pid"
	"$SLAPD" -f "$dir/slapd.conf" -h "$url $urls" -d 0 \
		>"$dir/slapd.log" 2>&1 </dev/null &
	pid=$!
	echo "$pid" >"$dir/slapd.started"
	i=0
	while [ $i -lt 100 ]; do
		if ! alive "$pid"; then
			wait "$pid" 2>/dev/null || :
			return 1	# exited: most likely a port was taken
		fi
		if "$LDAPWHOAMI" -x -H "$url" >/dev/null 2>&1 &&
		   LDAPTLS_CACERT="$dir/certs/ca.pem" LDAPTLS_REQCERT=demand \
		   "$LDAPWHOAMI" -x -H "$urls" >/dev/null 2>&1; then
			echo "pid=$pid ldap_port=$2 ldaps_port=$3"
			return 0
		fi
		sleep 0.1
		i=$((i + 1))
	done
	kill -KILL "$pid" 2>/dev/null || :
	return 1
}

start() {
	dir=$1
	shift
	[ ! -e "$dir" ] || [ -z "$(ls -A "$dir")" ] ||
		die "$dir is not empty"
	mkdir -p "$dir/db"
	"$top_srcdir/scripts/mps-certgen" -q -o "$dir/certs" --cn localhost \
		>/dev/null || die "mps-certgen failed"
	write_conf "$dir"
	write_ldif "$dir"
	"$SLAPADD" -q -f "$dir/slapd.conf" -l "$dir/init.ldif" \
		>"$dir/slapadd.log" 2>&1 ||
		die "slapadd failed: $(cat "$dir/slapadd.log")"
	if [ $# -eq 2 ]; then
		try_start "$dir" "$1" "$2" || die "slapd did not start" \
			"(see $dir/slapd.log)"
		return
	fi
	for _ in 1 2 3 4 5; do
		try_start "$dir" "$(free_port)" "$(free_port)" && return
	done
	die "slapd did not start (see $dir/slapd.log)"
}

stop() {
	dir=$1
	[ -f "$dir/slapd.started" ] || die "no slapd was started on $dir"
	pid=$(cat "$dir/slapd.started")
	kill -TERM "$pid" 2>/dev/null || return 0
	i=0
	# slapd removes its pid file when it has shut down; an orphan that
	# init has not reaped yet still answers kill -0.
	while [ $i -lt 50 ] && [ -f "$dir/slapd.pid" ] &&
	    kill -0 "$pid" 2>/dev/null; do
		sleep 0.1
		i=$((i + 1))
	done
	if [ $i -ge 50 ]; then
		kill -KILL "$pid" 2>/dev/null || :
	fi
	return 0
}

case ${1:-} in
start)
	[ $# -eq 2 ] || [ $# -eq 4 ] ||
		die "usage: slapd.sh start DIR [LDAP_PORT LDAPS_PORT]"
	shift
	start "$@"
	;;
stop)
	[ $# -eq 2 ] || die "usage: slapd.sh stop DIR"
	stop "$2"
	;;
*)
	die "usage: slapd.sh start|stop DIR"
	;;
esac

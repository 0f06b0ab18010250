# SPDX-License-Identifier: Apache-2.0
# wave_lib.sh: sourced by the benchmarks that log a wave of simulated
# devices in to one mpsd (idle_tunnels.sh, vs_meshcentral.sh), after
# tests/integration/lib.sh.

# wave_config DIR DEVICES [sed expressions...]: make_config for a wave of
# DEVICES devices, all from 127.0.0.1 and all at once. To the pre-auth
# budget that is a flood, so in this configuration only the connection,
# pre-auth and auth-queue limits are lifted above DEVICES, and the
# handshake and pre-auth timeouts are 120 s (on a loaded machine many
# thousand handshakes at once can outlast the 60 s defaults together;
# firmware spreads its reconnects anyway). Logs only errors and warnings.
# The extra sed expressions are applied too (e.g. the <Mode>).
wave_config() {
	local dir=$1 n=$(( $2 + 100 ))
	shift 2
	make_config "$dir" \
		"s|</MPS>|<Limits><MaxConnections>$n</MaxConnections><MaxPreAuthConnections>$n</MaxPreAuthConnections><MaxPreAuthPerAddress>$n</MaxPreAuthPerAddress><PreAuthDropStart>$n</PreAuthDropStart><PreAuthTimeout>120</PreAuthTimeout><AuthQueueLength>$n</AuthQueueLength><AuthQueueTimeout>120</AuthQueueTimeout></Limits><TLS><HandshakeTimeout>120</HandshakeTimeout></TLS></MPS>|" \
		"$@" || return 1
	# Two <TLS> groups would be an error: fold the added one into the first.
	sed -i -e ':a;N;$!ba' -e 's|</TLS>\(.*\)<TLS><HandshakeTimeout>120</HandshakeTimeout></TLS>|<HandshakeTimeout>120</HandshakeTimeout></TLS>\1|' "$dir/mps.config"
	set_trace_levels "$dir" "ERROR|WARNING"
}

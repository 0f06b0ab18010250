# SPDX-License-Identifier: Apache-2.0
## Unit tests (Check) and integration scripts. Every program and script
## prints TAP; build-aux/tap-driver.sh counts each assertion.
if HAVE_CHECK
UNIT_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
UNIT_COMMON = tests/unit/unit_main.c tests/unit/unit.h
# For the tests that drive a real TLS session.
UNIT_TLS = tests/unit/unit_tls.c tests/unit/unit_tls.h
UNIT_WORKERS = tests/unit/unit_workers.c tests/unit/unit_workers.h

check_PROGRAMS += tests/unit/test_log
tests_unit_test_log_SOURCES = $(UNIT_COMMON) tests/unit/test_log.c
tests_unit_test_log_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_log_LDADD = server/libmpslog.la server/libmpsbase.la $(APR_LIBS) $(CHECK_LIBS)

check_PROGRAMS += tests/unit/test_throttle
tests_unit_test_throttle_SOURCES = $(UNIT_COMMON) tests/unit/test_throttle.c
tests_unit_test_throttle_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_throttle_LDADD = server/libmpsnet.la server/libmpsbase.la $(APR_LIBS) $(CHECK_LIBS)

check_PROGRAMS += tests/unit/test_config
tests_unit_test_config_SOURCES = $(UNIT_COMMON) tests/unit/test_config.c
tests_unit_test_config_CPPFLAGS = $(AM_CPPFLAGS) $(HIREDIS_CPPFLAGS)
tests_unit_test_config_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_config_LDADD = server/libmpsconfig.la server/libmpsbase.la $(EXPAT_LIBS) $(APR_LIBS) $(CHECK_LIBS)

check_PROGRAMS += tests/unit/test_core
tests_unit_test_core_SOURCES = $(UNIT_COMMON) tests/unit/test_core.c
tests_unit_test_core_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_core_LDADD = server/libmpscore.la server/libmpsbase.la $(APU_LIBS) $(APR_LIBS) $(CHECK_LIBS)

check_PROGRAMS += tests/unit/test_plugin
tests_unit_test_plugin_SOURCES = $(UNIT_COMMON) tests/unit/test_plugin.c
tests_unit_test_plugin_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_plugin_LDADD = server/libmpsplugin.la server/libmpsbase.la $(LTDL_LIBS) $(APR_LIBS) $(CHECK_LIBS)

# Plugins the loader test loads: a good one, one without Authenticate, one
# with another ABI major. -rpath makes libtool build real shared modules.
TEST_PLUGIN_LDFLAGS = -module -avoid-version -shared -rpath /nowhere
check_LTLIBRARIES += tests/unit/plugins/good_plugin.la \
	tests/unit/plugins/nosym_plugin.la tests/unit/plugins/badabi_plugin.la
tests_unit_plugins_good_plugin_la_SOURCES = tests/unit/plugins/good_plugin.c
tests_unit_plugins_good_plugin_la_LDFLAGS = $(TEST_PLUGIN_LDFLAGS)
tests_unit_plugins_nosym_plugin_la_SOURCES = tests/unit/plugins/nosym_plugin.c
tests_unit_plugins_nosym_plugin_la_LDFLAGS = $(TEST_PLUGIN_LDFLAGS)
tests_unit_plugins_badabi_plugin_la_SOURCES = tests/unit/plugins/badabi_plugin.c
tests_unit_plugins_badabi_plugin_la_LDFLAGS = $(TEST_PLUGIN_LDFLAGS)

check_PROGRAMS += tests/unit/test_file_auth
tests_unit_test_file_auth_SOURCES = $(UNIT_COMMON) tests/unit/test_file_auth.c
tests_unit_test_file_auth_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_file_auth_LDADD = server/libmpsplugin.la server/libmpsbase.la $(LTDL_LIBS) $(APR_LIBS) $(CHECK_LIBS)

check_PROGRAMS += tests/unit/test_buf
tests_unit_test_buf_SOURCES = $(UNIT_COMMON) tests/unit/test_buf.c
tests_unit_test_buf_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_buf_LDADD = server/libmpsapf.la server/libmpsbase.la $(APR_LIBS) $(CHECK_LIBS)

check_PROGRAMS += tests/unit/test_apf_codec
tests_unit_test_apf_codec_SOURCES = $(UNIT_COMMON) tests/unit/test_apf_codec.c
tests_unit_test_apf_codec_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_apf_codec_LDADD = server/libmpsapf.la server/libmpsbase.la $(APR_LIBS) $(CHECK_LIBS)

check_PROGRAMS += tests/unit/test_socks5
tests_unit_test_socks5_SOURCES = $(UNIT_COMMON) tests/unit/test_socks5.c
tests_unit_test_socks5_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_socks5_LDADD = server/libmpsapf.la server/libmpsbase.la $(APR_LIBS) $(CHECK_LIBS)

check_PROGRAMS += tests/unit/test_channel
tests_unit_test_channel_SOURCES = $(UNIT_COMMON) tests/unit/test_channel.c
tests_unit_test_channel_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_channel_LDADD = server/libmpsapf.la server/libmpsbase.la $(APR_LIBS) $(CHECK_LIBS)

check_PROGRAMS += tests/unit/test_http_head
tests_unit_test_http_head_SOURCES = $(UNIT_COMMON) tests/unit/test_http_head.c
tests_unit_test_http_head_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_http_head_LDADD = server/libmpshttp.la server/libmpsapf.la server/libmpsbase.la $(APU_LIBS) $(APR_LIBS) $(CHECK_LIBS)

check_PROGRAMS += tests/unit/test_http_response
tests_unit_test_http_response_SOURCES = $(UNIT_COMMON) tests/unit/test_http_response.c
tests_unit_test_http_response_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_http_response_LDADD = server/libmpshttp.la server/libmpsapf.la server/libmpsbase.la $(APU_LIBS) $(APR_LIBS) $(CHECK_LIBS)

check_PROGRAMS += tests/unit/test_tls
tests_unit_test_tls_SOURCES = $(UNIT_COMMON) tests/unit/test_tls.c
tests_unit_test_tls_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_tls_LDADD = server/libmpstls.la server/libmpsbase.la $(OPENSSL_LIBS) $(APR_LIBS) $(CHECK_LIBS)

check_PROGRAMS += tests/unit/test_registry
tests_unit_test_registry_SOURCES = $(UNIT_COMMON) tests/unit/test_registry.c
tests_unit_test_registry_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_registry_LDADD = server/libmpsregistry.la server/libmpsbase.la $(APR_LIBS) $(CHECK_LIBS)

# The device directory: local backend, and the Redis backend against a
# real redis-server the test starts (skipped when it is not installed).
check_PROGRAMS += tests/unit/test_directory
tests_unit_test_directory_SOURCES = $(UNIT_COMMON) tests/unit/test_directory.c
tests_unit_test_directory_CPPFLAGS = $(AM_CPPFLAGS) $(HIREDIS_CPPFLAGS) $(HIREDIS_CFLAGS)
tests_unit_test_directory_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_directory_LDADD = server/libmpsdirectory.la server/libmpsregistry.la \
	server/libmpslog.la server/libmpsbase.la $(HIREDIS_LIBS) $(APR_LIBS) $(CHECK_LIBS)
TESTS += tests/unit/test_directory

# The metrics registry, the admin API's JSON views, token and <Admin>.
check_PROGRAMS += tests/unit/test_admin
tests_unit_test_admin_SOURCES = $(UNIT_COMMON) tests/unit/test_admin.c
tests_unit_test_admin_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_admin_LDADD = server/libmpsadmin.la server/libmpsregistry.la \
	server/libmpsconfig.la server/libmpsbase.la $(MHD_LIBS) $(JANSSON_LIBS) \
	$(EXPAT_LIBS) $(APR_LIBS) $(CHECK_LIBS)

TESTS += tests/unit/test_admin tests/unit/test_registry tests/unit/test_log tests/unit/test_throttle tests/unit/test_config tests/unit/test_core \
	tests/unit/test_plugin tests/unit/test_file_auth \
	tests/unit/test_buf tests/unit/test_apf_codec tests/unit/test_socks5 \
	tests/unit/test_channel tests/unit/test_http_head tests/unit/test_http_response \
	tests/unit/test_tls tests/unit/test_udp_relay
check_PROGRAMS += tests/unit/test_udp_relay
tests_unit_test_udp_relay_SOURCES = $(UNIT_COMMON) tests/unit/test_udp_relay.c
tests_unit_test_udp_relay_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_udp_relay_LDADD = server/libmpsoutbound.la \
	server/libmpsapf.la server/libmpsconfig.la server/libmpscore.la server/libmpslog.la \
	server/libmpsbase.la $(EXPAT_LIBS) $(APU_LIBS) $(APR_LIBS) $(CHECK_LIBS)

# The channel layer over a fake tunnel (the test implements the tunnel
# API of apf_session.h itself, so libmpsdevice is not linked).
check_PROGRAMS += tests/unit/test_relay
tests_unit_test_relay_SOURCES = $(UNIT_COMMON) $(UNIT_WORKERS) tests/unit/test_relay.c
tests_unit_test_relay_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_relay_LDADD = server/libmpschannels.la server/libmpsnet.la server/libmpstls.la \
	server/libmpsoutbound.la server/libmpsregistry.la server/libmpshttp.la \
	server/libmpsapf.la server/libmpsplugin.la server/libmpsconfig.la \
	server/libmpscore.la server/libmpslog.la server/libmpsbase.la \
	$(EXPAT_LIBS) $(LTDL_LIBS) $(APU_LIBS) $(APR_LIBS) $(OPENSSL_LIBS) $(CHECK_LIBS)
TESTS += tests/unit/test_relay

# The peer link's relay: a plain socket <-> a TLS stream on one strand,
# real poller and TLS over loopback TCP.
check_PROGRAMS += tests/unit/test_tls_pipe
tests_unit_test_tls_pipe_SOURCES = $(UNIT_COMMON) $(UNIT_TLS) tests/unit/test_tls_pipe.c
tests_unit_test_tls_pipe_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_tls_pipe_LDADD = server/libmpsnet.la server/libmpstls.la server/libmpsapf.la \
	server/libmpscore.la server/libmpslog.la server/libmpsbase.la \
	$(APU_LIBS) $(APR_LIBS) $(OPENSSL_LIBS) $(CHECK_LIBS)
TESTS += tests/unit/test_tls_pipe

# The TLS byte stream (server/net/stream.h) alone: records gathered into
# one write() per flush, over loopback TCP with small socket buffers.
check_PROGRAMS += tests/unit/test_stream
tests_unit_test_stream_SOURCES = $(UNIT_COMMON) $(UNIT_TLS) tests/unit/test_stream.c
tests_unit_test_stream_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_stream_LDADD = server/libmpsnet.la server/libmpstls.la server/libmpsapf.la \
	server/libmpscore.la server/libmpslog.la server/libmpsbase.la \
	$(APU_LIBS) $(APR_LIBS) $(OPENSSL_LIBS) $(CHECK_LIBS)
TESTS += tests/unit/test_stream

# The pre-auth budget (server/net/admission.c).
check_PROGRAMS += tests/unit/test_admission
tests_unit_test_admission_SOURCES = $(UNIT_COMMON) tests/unit/test_admission.c
tests_unit_test_admission_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_admission_LDADD = server/libmpsnet.la server/libmpslog.la \
	server/libmpsbase.la $(APR_LIBS) $(OPENSSL_LIBS) $(CHECK_LIBS)
TESTS += tests/unit/test_admission

# The PROXY protocol parser, AMTProxyTrusted lists, the slot's move.
check_PROGRAMS += tests/unit/test_proxy_header
tests_unit_test_proxy_header_SOURCES = $(UNIT_COMMON) tests/unit/test_proxy_header.c
tests_unit_test_proxy_header_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_proxy_header_LDADD = server/libmpsnet.la server/libmpsconfig.la \
	server/libmpslog.la server/libmpsbase.la $(EXPAT_LIBS) $(APR_LIBS) \
	$(OPENSSL_LIBS) $(CHECK_LIBS)
TESTS += tests/unit/test_proxy_header

# The tunnel under a fake channel layer (the test fills channel_ops).
check_PROGRAMS += tests/unit/test_tunnel
tests_unit_test_tunnel_SOURCES = $(UNIT_COMMON) $(UNIT_WORKERS) tests/unit/test_tunnel.c
tests_unit_test_tunnel_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_tunnel_LDADD = server/libmpsdevice.la server/libmpsdirectory.la server/libmpsnet.la \
	server/libmpsoutbound.la server/libmpsnotify.la server/libmpsregistry.la \
	server/libmpstls.la server/libmpsapf.la server/libmpsplugin.la \
	server/libmpsconfig.la server/libmpscore.la server/libmpslog.la server/libmpsbase.la \
	$(EXPAT_LIBS) $(LTDL_LIBS) $(APU_LIBS) $(APR_LIBS) $(OPENSSL_LIBS) \
	$(HIREDIS_LIBS) $(CHECK_LIBS)
TESTS += tests/unit/test_tunnel
endif

## The AMT device simulator (tests/sim/README.md): integration tests and
## benchmarks drive mpsd's device side with it.
check_PROGRAMS += tests/sim/amtsim
tests_sim_amtsim_SOURCES = tests/sim/amtsim.c tests/sim/sim.h \
	tests/sim/sim_device.c tests/sim/sim_relay.c tests/sim/sim_tls.c \
	tests/sim/sim_util.c tests/sim/sim_action.c tests/sim/sim_stream.c \
	tests/sim/sim_ciphers.h
tests_sim_amtsim_LDADD = server/libmpsapf.la server/libmpsbase.la \
	$(OPENSSL_LIBS) $(APR_LIBS)
EXTRA_DIST += tests/sim/README.md

## Fuzz targets (tests/fuzz/README.md): replayed over their corpus by
## make check; real fuzzing with ./configure CC=clang --enable-fuzzers.
check_PROGRAMS += tests/fuzz/replay_apf
tests_fuzz_replay_apf_SOURCES = tests/fuzz/fuzz_apf.c tests/fuzz/replay_main.c
tests_fuzz_replay_apf_LDADD = server/libmpsapf.la server/libmpsbase.la $(APR_LIBS)
check_PROGRAMS += tests/fuzz/replay_socks5
tests_fuzz_replay_socks5_SOURCES = tests/fuzz/fuzz_socks5.c tests/fuzz/replay_main.c
tests_fuzz_replay_socks5_LDADD = server/libmpsapf.la server/libmpsbase.la $(APR_LIBS)
check_PROGRAMS += tests/fuzz/replay_http
tests_fuzz_replay_http_SOURCES = tests/fuzz/fuzz_http.c tests/fuzz/replay_main.c
tests_fuzz_replay_http_LDADD = server/libmpshttp.la server/libmpsapf.la server/libmpsbase.la $(APU_LIBS) $(APR_LIBS)
check_PROGRAMS += tests/fuzz/replay_http_response
tests_fuzz_replay_http_response_SOURCES = tests/fuzz/fuzz_http_response.c tests/fuzz/replay_main.c
tests_fuzz_replay_http_response_LDADD = server/libmpshttp.la server/libmpsapf.la server/libmpsbase.la $(APU_LIBS) $(APR_LIBS)

# The configuration readers (static, dynamic, lists); fuzz_config.h hands
# them the input as a file.
FUZZ_CONFIG_LDADD = server/libmpsconfig.la server/libmpsbase.la $(EXPAT_LIBS) $(APR_LIBS)
check_PROGRAMS += tests/fuzz/replay_config_static
tests_fuzz_replay_config_static_SOURCES = tests/fuzz/fuzz_config_static.c tests/fuzz/fuzz_config.h tests/fuzz/replay_main.c
tests_fuzz_replay_config_static_LDADD = $(FUZZ_CONFIG_LDADD)
check_PROGRAMS += tests/fuzz/replay_config_dynamic
tests_fuzz_replay_config_dynamic_SOURCES = tests/fuzz/fuzz_config_dynamic.c tests/fuzz/fuzz_config.h tests/fuzz/replay_main.c
tests_fuzz_replay_config_dynamic_LDADD = $(FUZZ_CONFIG_LDADD)
check_PROGRAMS += tests/fuzz/replay_config_lists
tests_fuzz_replay_config_lists_SOURCES = tests/fuzz/fuzz_config_lists.c tests/fuzz/fuzz_config.h tests/fuzz/replay_main.c
tests_fuzz_replay_config_lists_LDADD = $(FUZZ_CONFIG_LDADD)

# The SOAP plugins' reply readers, their parsers compiled in as the unit
# tests do (the modules export only the plugin ABI).
FUZZ_SOAP_SOURCES = tests/fuzz/fuzz_soap_reply.c plugins/soap_auth/soap_xml.c \
	plugins/soap_notify/notify_xml.c
FUZZ_SOAP_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins/soap_auth \
	-I$(top_srcdir)/plugins/soap_notify $(EXPAT_CFLAGS)
FUZZ_SOAP_LDADD = plugins/common/libsoap_util.la plugins/common/libplugin_util.la \
	$(CURL_LIBS) $(EXPAT_LIBS)
check_PROGRAMS += tests/fuzz/replay_soap_reply
tests_fuzz_replay_soap_reply_SOURCES = $(FUZZ_SOAP_SOURCES) tests/fuzz/replay_main.c
tests_fuzz_replay_soap_reply_CPPFLAGS = $(FUZZ_SOAP_CPPFLAGS)
tests_fuzz_replay_soap_reply_LDADD = $(FUZZ_SOAP_LDADD)

# The plugins' UTF-8 and XML text helpers.
check_PROGRAMS += tests/fuzz/replay_xml_util
tests_fuzz_replay_xml_util_SOURCES = tests/fuzz/fuzz_xml_util.c tests/fuzz/replay_main.c
tests_fuzz_replay_xml_util_LDADD = plugins/common/libplugin_util.la $(EXPAT_LIBS)

# The LDAP plugin's escaping, checked against libldap's DN parser.
FUZZ_LDAP_SOURCES = tests/fuzz/fuzz_ldap_escape.c plugins/ldap_auth/escape.c
FUZZ_LDAP_CPPFLAGS = $(AM_CPPFLAGS) $(LDAP_CFLAGS) -I$(top_srcdir)/plugins/ldap_auth
FUZZ_LDAP_LDADD = plugins/common/libplugin_util.la $(LDAP_LIBS)
check_PROGRAMS += tests/fuzz/replay_ldap_escape
tests_fuzz_replay_ldap_escape_SOURCES = $(FUZZ_LDAP_SOURCES) tests/fuzz/replay_main.c
tests_fuzz_replay_ldap_escape_CPPFLAGS = $(FUZZ_LDAP_CPPFLAGS)
tests_fuzz_replay_ldap_escape_LDADD = $(FUZZ_LDAP_LDADD)

# A device's udp-send-to request: codec, filter, the UDP relay's reading
# of the destination (linked as tests/unit/test_udp_relay is).
FUZZ_UDP_LDADD = server/libmpsoutbound.la server/libmpsapf.la \
	server/libmpsconfig.la server/libmpscore.la server/libmpslog.la \
	server/libmpsbase.la $(EXPAT_LIBS) $(APU_LIBS) $(APR_LIBS)
check_PROGRAMS += tests/fuzz/replay_udp_send_to
tests_fuzz_replay_udp_send_to_SOURCES = tests/fuzz/fuzz_udp_send_to.c tests/fuzz/fuzz_config.h tests/fuzz/replay_main.c
tests_fuzz_replay_udp_send_to_LDADD = $(FUZZ_UDP_LDADD)

# Issue 12 section 3: the front ends' state machines over a fake
# console.c (fuzz_front.h; each target includes its front end's .c, so
# libmpschannels is not linked), and the channel table's state machine.
FUZZ_FRONT_LDADD = server/libmpshttp.la server/libmpsapf.la \
	server/libmpscore.la server/libmpslog.la server/libmpsbase.la \
	$(APU_LIBS) $(APR_LIBS)
check_PROGRAMS += tests/fuzz/replay_socks_front
tests_fuzz_replay_socks_front_SOURCES = tests/fuzz/fuzz_socks_front.c tests/fuzz/fuzz_front.h tests/fuzz/replay_main.c
tests_fuzz_replay_socks_front_LDADD = $(FUZZ_FRONT_LDADD)
check_PROGRAMS += tests/fuzz/replay_http_front
tests_fuzz_replay_http_front_SOURCES = tests/fuzz/fuzz_http_front.c tests/fuzz/fuzz_front.h tests/fuzz/replay_main.c
tests_fuzz_replay_http_front_LDADD = $(FUZZ_FRONT_LDADD)
check_PROGRAMS += tests/fuzz/replay_proxy_header
tests_fuzz_replay_proxy_header_SOURCES = tests/fuzz/fuzz_proxy_header.c tests/fuzz/replay_main.c
tests_fuzz_replay_proxy_header_LDADD = server/libmpsnet.la server/libmpsbase.la $(APR_LIBS) $(OPENSSL_LIBS)
check_PROGRAMS += tests/fuzz/replay_channel
tests_fuzz_replay_channel_SOURCES = tests/fuzz/fuzz_channel.c tests/fuzz/replay_main.c
tests_fuzz_replay_channel_LDADD = server/libmpsapf.la server/libmpsbase.la $(APR_LIBS)
# The device's tunnel and its channels (apf_session.c, channel_relay.c)
# driven by APF message sequences: fuzz_exec.c runs strands, lanes,
# poller and timers inline INSTEAD of libmpscore, apr_time_now() is its
# virtual clock (--wrap), channel_relay.c is compiled in without the
# console side (the target brings its own peers), gate.c as it is (the
# target's tunnels are plain: no handshake slots).
FUZZ_SESSION_SOURCES = tests/fuzz/fuzz_session.c tests/fuzz/fuzz_exec.c \
	tests/fuzz/fuzz_exec.h server/device/channel_relay.c server/core/gate.c
FUZZ_SESSION_LDADD = server/libmpsdevice.la server/libmpsdirectory.la \
	server/libmpsnet.la server/libmpsoutbound.la server/libmpsnotify.la \
	server/libmpsregistry.la server/libmpstls.la server/libmpsapf.la \
	server/libmpsplugin.la server/libmpsconfig.la server/libmpslog.la \
	server/libmpsbase.la $(EXPAT_LIBS) $(LTDL_LIBS) $(APU_LIBS) \
	$(APR_LIBS) $(OPENSSL_LIBS) $(HIREDIS_LIBS)
FUZZ_SESSION_WRAP = -Wl,--wrap=apr_time_now
check_PROGRAMS += tests/fuzz/replay_session
tests_fuzz_replay_session_SOURCES = $(FUZZ_SESSION_SOURCES) tests/fuzz/replay_main.c
# Own flags: channel_relay.c is also built, with libtool, for mpsd.
tests_fuzz_replay_session_CPPFLAGS = $(AM_CPPFLAGS)
tests_fuzz_replay_session_LDFLAGS = $(FUZZ_SESSION_WRAP)
tests_fuzz_replay_session_LDADD = $(FUZZ_SESSION_LDADD)
# Issue 14: the instance-to-instance link's header and answer.
check_PROGRAMS += tests/fuzz/replay_peer_header
tests_fuzz_replay_peer_header_SOURCES = tests/fuzz/fuzz_peer_header.c tests/fuzz/replay_main.c
tests_fuzz_replay_peer_header_LDADD = server/libmpsapf.la server/libmpsbase.la $(APR_LIBS)

TESTS += tests/fuzz/replay.sh
EXTRA_DIST += tests/fuzz/replay.sh tests/fuzz/README.md tests/fuzz/corpus \
	tests/fuzz/config_static.dict
if FUZZERS
noinst_PROGRAMS += tests/fuzz/fuzz_apf
tests_fuzz_fuzz_apf_SOURCES = tests/fuzz/fuzz_apf.c
tests_fuzz_fuzz_apf_LDFLAGS = -fsanitize=fuzzer
tests_fuzz_fuzz_apf_LDADD = server/libmpsapf.la server/libmpsbase.la $(APR_LIBS)
noinst_PROGRAMS += tests/fuzz/fuzz_proxy_header
tests_fuzz_fuzz_proxy_header_SOURCES = tests/fuzz/fuzz_proxy_header.c
tests_fuzz_fuzz_proxy_header_LDFLAGS = -fsanitize=fuzzer
tests_fuzz_fuzz_proxy_header_LDADD = server/libmpsnet.la server/libmpsbase.la $(APR_LIBS) $(OPENSSL_LIBS)
noinst_PROGRAMS += tests/fuzz/fuzz_socks5
tests_fuzz_fuzz_socks5_SOURCES = tests/fuzz/fuzz_socks5.c
tests_fuzz_fuzz_socks5_LDFLAGS = -fsanitize=fuzzer
tests_fuzz_fuzz_socks5_LDADD = server/libmpsapf.la server/libmpsbase.la $(APR_LIBS)
noinst_PROGRAMS += tests/fuzz/fuzz_http
tests_fuzz_fuzz_http_SOURCES = tests/fuzz/fuzz_http.c
tests_fuzz_fuzz_http_LDFLAGS = -fsanitize=fuzzer
tests_fuzz_fuzz_http_LDADD = server/libmpshttp.la server/libmpsapf.la server/libmpsbase.la $(APU_LIBS) $(APR_LIBS)
noinst_PROGRAMS += tests/fuzz/fuzz_http_response
tests_fuzz_fuzz_http_response_SOURCES = tests/fuzz/fuzz_http_response.c
tests_fuzz_fuzz_http_response_LDFLAGS = -fsanitize=fuzzer
tests_fuzz_fuzz_http_response_LDADD = server/libmpshttp.la server/libmpsapf.la server/libmpsbase.la $(APU_LIBS) $(APR_LIBS)
noinst_PROGRAMS += tests/fuzz/fuzz_config_static
tests_fuzz_fuzz_config_static_SOURCES = tests/fuzz/fuzz_config_static.c tests/fuzz/fuzz_config.h
tests_fuzz_fuzz_config_static_LDFLAGS = -fsanitize=fuzzer
tests_fuzz_fuzz_config_static_LDADD = $(FUZZ_CONFIG_LDADD)
noinst_PROGRAMS += tests/fuzz/fuzz_config_dynamic
tests_fuzz_fuzz_config_dynamic_SOURCES = tests/fuzz/fuzz_config_dynamic.c tests/fuzz/fuzz_config.h
tests_fuzz_fuzz_config_dynamic_LDFLAGS = -fsanitize=fuzzer
tests_fuzz_fuzz_config_dynamic_LDADD = $(FUZZ_CONFIG_LDADD)
noinst_PROGRAMS += tests/fuzz/fuzz_config_lists
tests_fuzz_fuzz_config_lists_SOURCES = tests/fuzz/fuzz_config_lists.c tests/fuzz/fuzz_config.h
tests_fuzz_fuzz_config_lists_LDFLAGS = -fsanitize=fuzzer
tests_fuzz_fuzz_config_lists_LDADD = $(FUZZ_CONFIG_LDADD)
noinst_PROGRAMS += tests/fuzz/fuzz_soap_reply
tests_fuzz_fuzz_soap_reply_SOURCES = $(FUZZ_SOAP_SOURCES)
tests_fuzz_fuzz_soap_reply_CPPFLAGS = $(FUZZ_SOAP_CPPFLAGS)
tests_fuzz_fuzz_soap_reply_LDFLAGS = -fsanitize=fuzzer
tests_fuzz_fuzz_soap_reply_LDADD = $(FUZZ_SOAP_LDADD)
noinst_PROGRAMS += tests/fuzz/fuzz_xml_util
tests_fuzz_fuzz_xml_util_SOURCES = tests/fuzz/fuzz_xml_util.c
tests_fuzz_fuzz_xml_util_LDFLAGS = -fsanitize=fuzzer
tests_fuzz_fuzz_xml_util_LDADD = plugins/common/libplugin_util.la $(EXPAT_LIBS)
noinst_PROGRAMS += tests/fuzz/fuzz_ldap_escape
tests_fuzz_fuzz_ldap_escape_SOURCES = $(FUZZ_LDAP_SOURCES)
tests_fuzz_fuzz_ldap_escape_CPPFLAGS = $(FUZZ_LDAP_CPPFLAGS)
tests_fuzz_fuzz_ldap_escape_LDFLAGS = -fsanitize=fuzzer
tests_fuzz_fuzz_ldap_escape_LDADD = $(FUZZ_LDAP_LDADD)
noinst_PROGRAMS += tests/fuzz/fuzz_udp_send_to
tests_fuzz_fuzz_udp_send_to_SOURCES = tests/fuzz/fuzz_udp_send_to.c tests/fuzz/fuzz_config.h
tests_fuzz_fuzz_udp_send_to_LDFLAGS = -fsanitize=fuzzer
tests_fuzz_fuzz_udp_send_to_LDADD = $(FUZZ_UDP_LDADD)
noinst_PROGRAMS += tests/fuzz/fuzz_socks_front
tests_fuzz_fuzz_socks_front_SOURCES = tests/fuzz/fuzz_socks_front.c tests/fuzz/fuzz_front.h
tests_fuzz_fuzz_socks_front_LDFLAGS = -fsanitize=fuzzer
tests_fuzz_fuzz_socks_front_LDADD = $(FUZZ_FRONT_LDADD)
noinst_PROGRAMS += tests/fuzz/fuzz_http_front
tests_fuzz_fuzz_http_front_SOURCES = tests/fuzz/fuzz_http_front.c tests/fuzz/fuzz_front.h
tests_fuzz_fuzz_http_front_LDFLAGS = -fsanitize=fuzzer
tests_fuzz_fuzz_http_front_LDADD = $(FUZZ_FRONT_LDADD)
noinst_PROGRAMS += tests/fuzz/fuzz_channel
tests_fuzz_fuzz_channel_SOURCES = tests/fuzz/fuzz_channel.c
tests_fuzz_fuzz_channel_LDFLAGS = -fsanitize=fuzzer
tests_fuzz_fuzz_channel_LDADD = server/libmpsapf.la server/libmpsbase.la $(APR_LIBS)
noinst_PROGRAMS += tests/fuzz/fuzz_session
tests_fuzz_fuzz_session_SOURCES = $(FUZZ_SESSION_SOURCES)
tests_fuzz_fuzz_session_CPPFLAGS = $(AM_CPPFLAGS)
tests_fuzz_fuzz_session_LDFLAGS = -fsanitize=fuzzer $(FUZZ_SESSION_WRAP)
tests_fuzz_fuzz_session_LDADD = $(FUZZ_SESSION_LDADD)
noinst_PROGRAMS += tests/fuzz/fuzz_peer_header
tests_fuzz_fuzz_peer_header_SOURCES = tests/fuzz/fuzz_peer_header.c
tests_fuzz_fuzz_peer_header_LDFLAGS = -fsanitize=fuzzer
tests_fuzz_fuzz_peer_header_LDADD = server/libmpsapf.la server/libmpsbase.la $(APR_LIBS)
endif

## Integration scripts: real mpsd processes on loopback ports.
INTEGRATION_TESTS = tests/integration/startup.sh tests/integration/config_check.sh \
	tests/integration/admin_api.sh \
	tests/integration/signals.sh tests/integration/reload.sh \
	tests/integration/reload_plugin.sh \
	tests/integration/device_tls.sh \
	tests/integration/devices.sh tests/integration/device_stunnel.sh \
	tests/integration/plugin_sdk.sh tests/integration/devices_auth.sh \
	tests/integration/pet_alerts.sh tests/integration/direct_tcpip.sh \
	tests/integration/notifications.sh tests/integration/privdrop.sh \
	tests/integration/safety.sh tests/integration/stray_signals.sh \
	tests/integration/systemd_unit.sh tests/integration/manpages.sh \
	tests/integration/cluster_directory.sh tests/integration/cluster_forward.sh \
	tests/integration/log_syslog.sh tests/integration/balancer_haproxy.sh
TESTS += $(INTEGRATION_TESTS)
EXTRA_DIST += tests/peers/udp_catch.py tests/peers/wsevent_sink.py \
	tests/peers/probe_auth.c

## Console side (tests/integration/console_*.sh): peers standing in for the
## AMT web server and for consoles, raw SOCKS5 assertions.
check_PROGRAMS += tests/peers/origin_http tests/peers/bytepump tests/peers/idle_flood
tests_peers_idle_flood_SOURCES = tests/peers/idle_flood.c
tests_peers_idle_flood_LDADD = $(OPENSSL_LIBS)
tests_peers_origin_http_SOURCES = tests/peers/origin_http.c
tests_peers_bytepump_SOURCES = tests/peers/bytepump.c
tests_peers_bytepump_LDADD = $(OPENSSL_LIBS)
EXTRA_DIST += tests/peers/socks_probe.py tests/peers/bearer_proxy.py

## Benchmarks: run by hand (see each script), never by make check; the
## load generator is built with the checks so that it keeps compiling.
check_PROGRAMS += tests/bench/socks_load
tests_bench_socks_load_SOURCES = tests/bench/socks_load.c
check_PROGRAMS += tests/bench/handshake_cost
tests_bench_handshake_cost_SOURCES = tests/bench/handshake_cost.c \
	tests/sim/sim_ciphers.h
tests_bench_handshake_cost_LDADD = server/libmpstls.la server/libmpsbase.la \
	$(OPENSSL_LIBS) $(APR_LIBS)
if HAVE_REDIS
check_PROGRAMS += tests/bench/directory_load
tests_bench_directory_load_SOURCES = tests/bench/directory_load.c
tests_bench_directory_load_CPPFLAGS = $(AM_CPPFLAGS) $(HIREDIS_CPPFLAGS)
tests_bench_directory_load_LDADD = server/libmpsdirectory.la \
	server/libmpsregistry.la server/libmpslog.la server/libmpsbase.la \
	$(HIREDIS_LIBS) $(APR_LIBS)
endif
EXTRA_DIST += tests/bench/channel_throughput.sh tests/bench/socks_rps.sh \
	tests/bench/idle_tunnels.sh tests/bench/delay_proxy.py \
	tests/bench/wave_lib.sh \
	tests/bench/vs_meshcentral.sh \
	tests/bench/handshake_flood.sh \
	tests/bench/directory_load.sh tests/bench/cluster_forward.sh \
	tests/bench/README.md

CONSOLE_TESTS = tests/integration/console_socks.sh \
	tests/integration/console_http.sh tests/integration/console_apache.sh \
	tests/integration/console_stress.sh \
	tests/integration/datapath_windows.sh tests/integration/tolerant_clients.sh \
	tests/integration/preauth_flood.sh tests/integration/handshake_gate.sh \
	tests/integration/auth_lanes.sh \
	tests/integration/floods.sh tests/integration/log_disk_full.sh
TESTS += $(CONSOLE_TESTS)
EXTRA_DIST += $(CONSOLE_TESTS) tests/integration/console_lib.sh \
	tests/integration/cluster_lib.sh
EXTRA_DIST += $(INTEGRATION_TESTS) tests/integration/lib.sh

if HAVE_CHECK
# The notification queue, with a fake notifier; it also checks that the
# parameters mpsd builds are what the SOAP plugins' grammar reads.
check_PROGRAMS += tests/unit/test_notify
tests_unit_test_notify_SOURCES = $(UNIT_COMMON) tests/unit/test_notify.c \
	plugins/soap_auth/soap_params.c plugins/soap_auth/soap_params.h
tests_unit_test_notify_CPPFLAGS = $(AM_CPPFLAGS) \
	-I$(top_srcdir)/plugins/soap_auth $(CURL_CFLAGS)
tests_unit_test_notify_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_notify_LDADD = server/libmpsnotify.la \
	server/libmpsregistry.la server/libmpscore.la server/libmpsconfig.la \
	server/libmpslog.la server/libmpsbase.la \
	plugins/common/libplugin_util.la \
	$(CURL_LIBS) $(EXPAT_LIBS) $(APU_LIBS) $(APR_LIBS) $(CHECK_LIBS)
TESTS += tests/unit/test_notify
endif

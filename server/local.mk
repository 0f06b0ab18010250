# SPDX-License-Identifier: Apache-2.0
## The server is a set of small convenience libraries (one per concern, so
## each unit test links only what it tests) and mpsd, which ties them up.

# Error codes, metrics and the keyed table, shared by every module.
noinst_LTLIBRARIES += server/libmpsbase.la
server_libmpsbase_la_SOURCES = server/core/mps_status.c server/core/mps_status.h \
	server/core/metrics.c server/core/metrics.h \
	server/core/keyed_sets.c server/core/keyed_sets.h

# Log file: format, trace levels, rotation.
noinst_LTLIBRARIES += server/libmpslog.la
server_libmpslog_la_SOURCES = server/core/log.c server/core/log.h \
	server/core/log_limit.c server/core/log_limit.h
server_libmpslog_la_LIBADD = $(APR_LIBS)

# Configuration files (expat).
noinst_LTLIBRARIES += server/libmpsconfig.la
server_libmpsconfig_la_SOURCES = \
	server/config/config.h server/config/config_errors.c server/config/config_errors.h \
	server/config/config_static.c server/config/config_dynamic.c server/config/config_lists.c \
	server/config/config_xml.c server/config/config_xml.h server/config/config_prefix.c
server_libmpsconfig_la_CPPFLAGS = $(AM_CPPFLAGS) $(HIREDIS_CPPFLAGS)
server_libmpsconfig_la_LIBADD = $(EXPAT_LIBS) $(APR_LIBS)

# Concurrency core: poller, worker lanes, strands, timers.
noinst_LTLIBRARIES += server/libmpscore.la
server_libmpscore_la_SOURCES = \
	server/core/poller.c server/core/poller.h server/core/workers.c server/core/workers.h \
	server/core/strand.c server/core/strand.h server/core/timer.c server/core/timer.h \
	server/core/gate.c server/core/gate.h
server_libmpscore_la_LIBADD = $(APU_LIBS) $(APR_LIBS)

# Plugin loader (libltdl).
noinst_LTLIBRARIES += server/libmpsplugin.la
server_libmpsplugin_la_SOURCES = server/core/plugin_loader.c server/core/plugin_loader.h
server_libmpsplugin_la_LIBADD = $(LTDL_LIBS) $(APR_LIBS)

# Connected devices by UUID and FQDN (newest wins).
noinst_LTLIBRARIES += server/libmpsregistry.la
server_libmpsregistry_la_SOURCES = server/device/registry.c server/device/registry.h
server_libmpsregistry_la_LIBADD = $(APR_LIBS)

# The device directory: which instance holds which device (local, or
# Redis through hiredis when configure found it).
noinst_LTLIBRARIES += server/libmpsdirectory.la
server_libmpsdirectory_la_SOURCES = server/directory/directory.c \
	server/directory/directory.h server/directory/directory_priv.h
server_libmpsdirectory_la_CPPFLAGS = $(AM_CPPFLAGS) $(HIREDIS_CPPFLAGS)
server_libmpsdirectory_la_LIBADD = $(APR_LIBS)
if HAVE_REDIS
server_libmpsdirectory_la_SOURCES += server/directory/directory_redis.c
server_libmpsdirectory_la_CPPFLAGS += $(HIREDIS_CFLAGS)
server_libmpsdirectory_la_LIBADD += $(HIREDIS_LIBS)
endif
EXTRA_DIST += server/directory/directory_redis.c

# Sockets and logins shared by both sides: listeners, plain/TLS streams,
# the login job and throttle.
noinst_LTLIBRARIES += server/libmpsnet.la
server_libmpsnet_la_SOURCES = \
	server/net/listener.c server/net/listener.h server/net/admission.c server/net/admission.h \
	server/core/sockwrap.c server/core/sockwrap.h \
	server/net/stream.c server/net/stream.h server/auth/auth_throttle.c server/auth/auth_throttle.h \
	server/net/tls_pipe.c server/net/tls_pipe.h \
	server/auth/login_budget.c server/auth/login_budget.h \
	server/auth/auth_job.c server/auth/auth_job.h \
	server/net/live.c server/net/live.h \
	server/net/proxy_header.c server/net/proxy_header.h
server_libmpsnet_la_LIBADD = $(OPENSSL_LIBS) $(APR_LIBS)

# What a device may reach outside: the address check and the
# AuthorizedServers filter, and the UDP relay of PET alerts.
noinst_LTLIBRARIES += server/libmpsoutbound.la
server_libmpsoutbound_la_SOURCES = \
	server/outbound/outbound.c server/outbound/outbound.h \
	server/outbound/udp_relay.c server/outbound/udp_relay.h
server_libmpsoutbound_la_LIBADD = $(APR_LIBS)

# The device side: the APF session (the tunnel). It knows nothing of
# channels but the ops table the channel layer gives it.
noinst_LTLIBRARIES += server/libmpsdevice.la
server_libmpsdevice_la_SOURCES = \
	server/device/apf_session.c server/device/apf_session.h
server_libmpsdevice_la_LIBADD = $(OPENSSL_LIBS) $(APR_LIBS)

# Above the tunnel: the channel layer (on each device's strand), the
# console side (SOCKSv5 and HTTP proxy front ends, the hand-over) and the
# device-opened channels (direct-tcpip). A test links this without
# libmpsdevice and brings its own tunnel.
noinst_LTLIBRARIES += server/libmpschannels.la
server_libmpschannels_la_SOURCES = \
	server/device/channel_relay.c server/device/channel_relay.h \
	server/device/channel_peer.h \
	server/console/console.c server/console/console.h server/console/console_priv.h \
	server/console/console_metrics.h \
	server/console/socks_front.c server/console/http_front.c \
	server/console/peer_link.c server/console/peer_link.h \
	server/outbound/direct_tcpip.c server/outbound/direct_tcpip.h \
	server/outbound/direct_tcpip_priv.h
server_libmpschannels_la_LIBADD = $(OPENSSL_LIBS) $(APR_LIBS)

# The admin API: libmicrohttpd listener, routes, JSON views, metrics
# exposition, status page (server/admin/admin.h).
noinst_LTLIBRARIES += server/libmpsadmin.la
server_libmpsadmin_la_SOURCES = server/admin/admin.h server/admin/admin_priv.h \
	server/admin/admin_listener.c server/admin/admin_token.c \
	server/admin/admin_routes.c server/admin/admin_views.c \
	server/admin/admin_views.h server/admin/admin_metrics.c \
	server/admin/admin_page.c
server_libmpsadmin_la_LIBADD = $(MHD_LIBS) $(JANSSON_LIBS) $(APR_LIBS)

# mpsctl: the admin API's command-line client.
sbin_PROGRAMS += server/admin/mpsctl
server_admin_mpsctl_SOURCES = server/admin/mpsctl.c server/admin/admin_token.c
# Own flags: admin_token.c is also built, with libtool, for mpsd.
server_admin_mpsctl_CFLAGS = $(AM_CFLAGS) $(CURL_CFLAGS)
server_admin_mpsctl_LDADD = server/libmpsconfig.la server/libmpsbase.la \
	$(JANSSON_LIBS) $(CURL_LIBS) $(EXPAT_LIBS) $(APR_LIBS)
dist_man_MANS += server/admin/mpsctl.8

sbin_PROGRAMS += server/mpsd
server_mpsd_SOURCES = server/main.c \
	server/options.c server/options.h \
	server/instance_lock.c server/instance_lock.h \
	server/daemon.c server/daemon.h \
	server/config_check.c server/config_check.h \
	server/file_needs.c server/file_needs.h \
	server/safety_check.c server/safety_check.h \
	server/service_notify.c server/service_notify.h \
	server/server.c server/server.h
server_mpsd_CPPFLAGS = $(AM_CPPFLAGS) $(SYSTEMD_CFLAGS) $(SYSTEMD_CPPFLAGS) \
	$(HIREDIS_CPPFLAGS)
server_mpsd_LDADD = $(SYSTEMD_LIBS) server/libmpsadmin.la \
	server/libmpschannels.la server/libmpsdevice.la \
	server/libmpsoutbound.la server/libmpsnet.la \
	server/libmpsnotify.la server/libmpshttp.la \
	server/libmpsdirectory.la server/libmpsregistry.la \
	server/libmpstls.la server/libmpsapf.la \
	server/libmpsplugin.la server/libmpscore.la \
	server/libmpsconfig.la server/libmpslog.la server/libmpsbase.la \
	$(APU_LIBS) $(APR_LIBS) $(OPENSSL_LIBS) $(MHD_LIBS) $(JANSSON_LIBS) \
	$(HIREDIS_LIBS)


# Wire codecs and bookkeeping: the bounds-checked buffer, APF, SOCKS5,
# the APF channel table with its windows (pure, no I/O).
noinst_LTLIBRARIES += server/libmpsapf.la
server_libmpsapf_la_SOURCES = server/core/buf.c server/core/buf.h \
	server/device/apf_codec.c server/device/apf_codec.h \
	server/console/socks5.c server/console/socks5.h \
	server/console/peer_header.c server/console/peer_header.h \
	server/device/channel.c server/device/channel.h
server_libmpsapf_la_LIBADD = $(APR_LIBS)

# HTTP proxy, pure (no I/O): request-head parser, origin-form writer,
# Basic credentials, chunked and response framers, the proxy's replies.
noinst_LTLIBRARIES += server/libmpshttp.la
server_libmpshttp_la_SOURCES = server/console/http_head.c server/console/http_head.h \
	server/console/http_origin.c server/console/http_origin.h \
	server/console/http_basic.c server/console/http_basic.h \
	server/console/http_chunked.c server/console/http_chunked.h \
	server/console/http_response.c server/console/http_response.h \
	server/console/http_reply.c server/console/http_reply.h server/console/http_chars.h
server_libmpshttp_la_LIBADD = $(APU_LIBS) $(APR_LIBS)

# TLS contexts and profiles (OpenSSL).
noinst_LTLIBRARIES += server/libmpstls.la
server_libmpstls_la_SOURCES = server/net/tls.c server/net/tls.h
server_libmpstls_la_LIBADD = $(OPENSSL_LIBS) $(APR_LIBS)


# Connection notifications: per-subscriber queues on the blocking lane.
noinst_LTLIBRARIES += server/libmpsnotify.la
server_libmpsnotify_la_SOURCES = server/notify/notify.c server/notify/notify.h
server_libmpsnotify_la_LIBADD = $(APR_LIBS)

EXTRA_DIST += server/README.md server/directory/README.md

## The server is a set of small convenience libraries (one per concern, so
## each unit test links only what it tests) and mpsd, which ties them up.

# Error codes shared by every module.
noinst_LTLIBRARIES += server/libmpsbase.la
server_libmpsbase_la_SOURCES = server/mps_status.c server/mps_status.h

# Log file: format, trace levels, rotation.
noinst_LTLIBRARIES += server/libmpslog.la
server_libmpslog_la_SOURCES = server/log.c server/log.h
server_libmpslog_la_LIBADD = $(APR_LIBS)

# Configuration files (expat).
noinst_LTLIBRARIES += server/libmpsconfig.la
server_libmpsconfig_la_SOURCES = \
	server/config.h server/config_errors.c server/config_errors.h \
	server/config_static.c server/config_dynamic.c server/config_lists.c \
	server/config_xml.c server/config_xml.h
server_libmpsconfig_la_LIBADD = $(EXPAT_LIBS) $(APR_LIBS)

# Concurrency core: poller, worker lanes, strands, timers.
noinst_LTLIBRARIES += server/libmpscore.la
server_libmpscore_la_SOURCES = \
	server/poller.c server/poller.h server/workers.c server/workers.h \
	server/strand.c server/strand.h server/timer.c server/timer.h
server_libmpscore_la_LIBADD = $(APU_LIBS) $(APR_LIBS)

# Plugin loader (libltdl).
noinst_LTLIBRARIES += server/libmpsplugin.la
server_libmpsplugin_la_SOURCES = server/plugin_loader.c server/plugin_loader.h
server_libmpsplugin_la_LIBADD = $(LTDL_LIBS) $(APR_LIBS)

# Connected devices by UUID and FQDN (newest wins).
noinst_LTLIBRARIES += server/libmpsregistry.la
server_libmpsregistry_la_SOURCES = server/registry.c server/registry.h
server_libmpsregistry_la_LIBADD = $(APR_LIBS)

# The device side (listener, plain/TLS streams, the APF session) and the
# console side (SOCKSv5 and HTTP proxy front ends, and the channel relay,
# which runs on each device's strand and so lives with the session).
noinst_LTLIBRARIES += server/libmpsdevice.la
server_libmpsdevice_la_SOURCES = \
	server/listener.c server/listener.h server/sockwrap.c server/sockwrap.h \
	server/stream.c server/stream.h server/auth_throttle.c server/auth_throttle.h \
	server/auth_job.c server/auth_job.h \
	server/apf_session.c server/apf_session.h server/apf_session_priv.h \
	server/channel_relay.c \
	server/console.c server/console.h server/console_priv.h \
	server/socks_front.c server/http_front.c server/direct_tcpip.c \
	server/server_filter.c server/server_filter.h \
	server/udp_relay.c server/udp_relay.h
server_libmpsdevice_la_LIBADD = $(OPENSSL_LIBS) $(APR_LIBS)

sbin_PROGRAMS += server/mpsd
server_mpsd_SOURCES = server/main.c \
	server/options.c server/options.h \
	server/instance_lock.c server/instance_lock.h \
	server/daemon.c server/daemon.h \
	server/server.c server/server.h
server_mpsd_LDADD = server/libmpsdevice.la server/libmpsnotify.la server/libmpshttp.la \
	server/libmpsregistry.la \
	server/libmpstls.la server/libmpsapf.la \
	server/libmpsplugin.la server/libmpscore.la \
	server/libmpsconfig.la server/libmpslog.la server/libmpsbase.la \
	$(APU_LIBS) $(APR_LIBS) $(OPENSSL_LIBS)

dist_man_MANS += server/mpsd.8

# Wire codecs and bookkeeping: the bounds-checked buffer, APF, SOCKS5,
# the APF channel table with its windows (pure, no I/O).
noinst_LTLIBRARIES += server/libmpsapf.la
server_libmpsapf_la_SOURCES = server/buf.c server/buf.h \
	server/apf_codec.c server/apf_codec.h \
	server/socks5.c server/socks5.h \
	server/channel.c server/channel.h
server_libmpsapf_la_LIBADD = $(APR_LIBS)

# HTTP proxy: pure request-head parser and chunked framer (no I/O).
noinst_LTLIBRARIES += server/libmpshttp.la
server_libmpshttp_la_SOURCES = server/http_head.c server/http_head.h \
	server/http_response.c server/http_response.h server/http_chars.h
server_libmpshttp_la_LIBADD = $(APR_LIBS)

# TLS contexts and profiles (OpenSSL).
noinst_LTLIBRARIES += server/libmpstls.la
server_libmpstls_la_SOURCES = server/tls.c server/tls.h
server_libmpstls_la_LIBADD = $(OPENSSL_LIBS) $(APR_LIBS)


# Connection notifications: per-subscriber queues on the blocking lane.
noinst_LTLIBRARIES += server/libmpsnotify.la
server_libmpsnotify_la_SOURCES = server/notify.c server/notify.h
server_libmpsnotify_la_LIBADD = $(APR_LIBS)

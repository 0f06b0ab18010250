# SPDX-License-Identifier: Apache-2.0
## Plugins are libtool modules in $(pkglibdir), the directory mpsd searches
## by default. Only the documented entry points are exported.
PLUGIN_LDFLAGS = -module -avoid-version -shared -export-symbols-regex '^(Authenticate|Notify|mps_plugin_.*)$$'

# Helpers shared by the plugins of this tree (a convenience library,
# linked into each module and exported by none).
noinst_LTLIBRARIES += plugins/common/libplugin_util.la
plugins_common_libplugin_util_la_SOURCES = plugins/common/plugin_util.c \
	plugins/common/plugin_util.h plugins/common/xml_util.c \
	plugins/common/xml_util.h

# What the two SOAP plugins share beyond that: the HTTP exchange over
# libcurl and the reading of a SOAP 1.1 answer with expat. Apart, so that
# the other plugins need neither library. Link it before
# libplugin_util.la, which it uses.
noinst_LTLIBRARIES += plugins/common/libsoap_util.la
plugins_common_libsoap_util_la_SOURCES = plugins/common/soap_http.c \
	plugins/common/soap_http.h plugins/common/soap_reader.c \
	plugins/common/soap_reader.h
plugins_common_libsoap_util_la_CPPFLAGS = $(AM_CPPFLAGS) \
	-I$(top_srcdir)/plugins/soap_auth $(CURL_CFLAGS) $(EXPAT_CFLAGS)

# The guide ships the same file-lookup plugin under two names (7.2.1), so
# that the AMT and the Socks authentication can use different files.
pkglib_LTLIBRARIES += plugins/AMTFileAuth.la plugins/SocksFileAuth.la
plugins_AMTFileAuth_la_SOURCES = plugins/file_auth/file_auth.c
plugins_AMTFileAuth_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_AMTFileAuth_la_LIBADD = plugins/common/libplugin_util.la
plugins_SocksFileAuth_la_SOURCES = plugins/file_auth/file_auth.c
plugins_SocksFileAuth_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_SocksFileAuth_la_LIBADD = plugins/common/libplugin_util.la

# Each further plugin keeps its rules (and its tests' rules) beside it.
include $(srcdir)/plugins/soap_auth/local.mk
include $(srcdir)/plugins/ldap_auth/local.mk
include $(srcdir)/plugins/soap_notify/local.mk

# SPDX-License-Identifier: Apache-2.0
## SOAPNotifier: tells the subscribers of NotificationList.config when a
## device connects or disconnects (product guide 7.1), over libcurl, with
## the message config/MpsNotification.wsdl describes. Its parameters follow
## the SOAPAuthentication plugin's grammar, whose parser it shares.
SOAP_NOTIFY_SOURCES = plugins/soap_notify/soap_notify.c \
	plugins/soap_notify/notify_xml.c plugins/soap_notify/notify_xml.h \
	plugins/soap_auth/soap_params.c plugins/soap_auth/soap_params.h
pkglib_LTLIBRARIES += plugins/SOAPNotifier.la
plugins_SOAPNotifier_la_SOURCES = $(SOAP_NOTIFY_SOURCES)
plugins_SOAPNotifier_la_CPPFLAGS = $(AM_CPPFLAGS) \
	-I$(top_srcdir)/plugins/soap_auth $(CURL_CFLAGS) $(EXPAT_CFLAGS)
plugins_SOAPNotifier_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_SOAPNotifier_la_LIBADD = plugins/common/libsoap_util.la \
	plugins/common/libplugin_util.la \
	$(CURL_LIBS) $(EXPAT_LIBS)

# The interface subscribers implement, for their authors.
notifywsdldir = $(pkgdatadir)
dist_notifywsdl_DATA = config/MpsNotification.wsdl
EXTRA_DIST += plugins/soap_notify/README.md

## Its tests. The subscriber they talk to is a test peer of ours
## (tests/peers/notify_subscriber.py, Python's standard library only):
## it checks every envelope against the WSDL with a real XML parser,
## logs what arrived, and can want Basic or Digest credentials, answer
## KeepConnection false, fail, or hang.
EXTRA_DIST += tests/peers/notify_subscriber.py

if HAVE_CHECK
# The plugin through the real loader, plus its XML code compiled in for
# table-driven tests of the request and the response.
check_PROGRAMS += tests/unit/test_soap_notify
tests_unit_test_soap_notify_SOURCES = tests/unit/unit_main.c tests/unit/unit.h \
	tests/unit/test_soap_notify.c tests/unit/soap_test_util.c \
	tests/unit/soap_test_util.h plugins/soap_notify/notify_xml.c \
	plugins/soap_notify/notify_xml.h
tests_unit_test_soap_notify_CPPFLAGS = $(AM_CPPFLAGS) \
	-I$(top_srcdir)/plugins/soap_notify $(EXPAT_CFLAGS)
tests_unit_test_soap_notify_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_soap_notify_LDADD = plugins/common/libsoap_util.la \
	plugins/common/libplugin_util.la \
	server/libmpsplugin.la server/libmpsbase.la \
	$(EXPAT_LIBS) $(LTDL_LIBS) $(APR_LIBS) $(CHECK_LIBS) -lpthread
TESTS += tests/unit/test_soap_notify
endif

# SPDX-License-Identifier: Apache-2.0
## SOAPAuthentication (product guide 7.2.2): asks an external SOAP
## service, described by config/MPSAuthentication.wsdl, over libcurl.
SOAP_AUTH_SOURCES = plugins/soap_auth/soap_auth.c \
	plugins/soap_auth/soap_params.c plugins/soap_auth/soap_params.h \
	plugins/soap_auth/soap_xml.c plugins/soap_auth/soap_xml.h
pkglib_LTLIBRARIES += plugins/SOAPAuthentication.la
plugins_SOAPAuthentication_la_SOURCES = $(SOAP_AUTH_SOURCES)
plugins_SOAPAuthentication_la_CPPFLAGS = $(AM_CPPFLAGS) $(CURL_CFLAGS) $(EXPAT_CFLAGS)
plugins_SOAPAuthentication_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_SOAPAuthentication_la_LIBADD = plugins/common/libsoap_util.la \
	plugins/common/libplugin_util.la $(CURL_LIBS) $(EXPAT_LIBS)

# The interface the external service implements, for its authors.
soapwsdldir = $(pkgdatadir)
dist_soapwsdl_DATA = config/MPSAuthentication.wsdl
EXTRA_DIST += plugins/soap_auth/README.md

## Its tests. The SOAP service they talk to is a test peer of ours
## (tests/peers/soap_auth_service.c): strict about the WSDL, and able to
## misbehave on demand (faults, HTTP errors, hangs, odd or hostile XML).
check_PROGRAMS += tests/peers/soap_auth_service
tests_peers_soap_auth_service_SOURCES = tests/peers/soap_auth_service.c
tests_peers_soap_auth_service_LDADD = $(OPENSSL_LIBS) $(EXPAT_LIBS) -lpthread

if HAVE_CHECK
# The plugin through the real loader, plus its parsers compiled in for
# table-driven tests of the request and response XML.
check_PROGRAMS += tests/unit/test_soap_auth
tests_unit_test_soap_auth_SOURCES = tests/unit/unit_main.c tests/unit/unit.h \
	tests/unit/test_soap_auth.c tests/unit/soap_test_util.c \
	tests/unit/soap_test_util.h plugins/soap_auth/soap_xml.c \
	plugins/soap_auth/soap_xml.h plugins/soap_auth/soap_params.c \
	plugins/soap_auth/soap_params.h
tests_unit_test_soap_auth_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins/soap_auth \
	$(CURL_CFLAGS) $(EXPAT_CFLAGS)
tests_unit_test_soap_auth_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_soap_auth_LDADD = plugins/common/libsoap_util.la \
	plugins/common/libplugin_util.la \
	server/libmpsplugin.la server/libmpsbase.la \
	$(CURL_LIBS) $(EXPAT_LIBS) $(LTDL_LIBS) $(APR_LIBS) $(CHECK_LIBS) -lpthread
TESTS += tests/unit/test_soap_auth
endif

TESTS += tests/integration/soap_auth.sh
EXTRA_DIST += tests/integration/soap_auth.sh

# SPDX-License-Identifier: Apache-2.0
## LDAPAuthentication: authentication against an LDAP directory with
## OpenLDAP's libldap (plugins/ldap_auth/README.md).
pkglib_LTLIBRARIES += plugins/LDAPAuthentication.la
plugins_LDAPAuthentication_la_SOURCES = plugins/ldap_auth/ldap_auth.c \
	plugins/ldap_auth/params.c plugins/ldap_auth/escape.c \
	plugins/ldap_auth/watchdog.c plugins/ldap_auth/ldap_auth.h
plugins_LDAPAuthentication_la_CPPFLAGS = $(AM_CPPFLAGS) $(LDAP_CFLAGS)
plugins_LDAPAuthentication_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_LDAPAuthentication_la_LIBADD = plugins/common/libplugin_util.la $(LDAP_LIBS) -lpthread
EXTRA_DIST += plugins/ldap_auth/README.md

# The unit test loads the built module through the plugin loader and
# also compiles the parser and the escaping functions in, to test them
# directly. It runs its own slapd (tests/peers/slapd.sh).
if HAVE_CHECK
check_PROGRAMS += tests/unit/test_ldap_auth
tests_unit_test_ldap_auth_SOURCES = $(UNIT_COMMON) tests/unit/test_ldap_auth.c \
	plugins/ldap_auth/params.c plugins/ldap_auth/escape.c
tests_unit_test_ldap_auth_CPPFLAGS = $(AM_CPPFLAGS) $(LDAP_CFLAGS) \
	-I$(top_srcdir)/plugins/ldap_auth
tests_unit_test_ldap_auth_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_ldap_auth_LDADD = plugins/common/libplugin_util.la \
	server/libmpsplugin.la server/libmpsbase.la \
	$(LDAP_LIBS) $(LTDL_LIBS) $(APR_LIBS) $(CHECK_LIBS)
TESTS += tests/unit/test_ldap_auth
endif

TESTS += tests/integration/ldap_auth.sh
EXTRA_DIST += tests/integration/ldap_auth.sh tests/peers/slapd.sh \
	tests/peers/slapd-data.ldif

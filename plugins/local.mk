## Plugins are libtool modules in $(pkglibdir), the directory mpsd searches
## by default. Only the documented entry points are exported.
PLUGIN_LDFLAGS = -module -avoid-version -shared -export-symbols-regex '^(Authenticate|Notify|mps_plugin_.*)$$'

# The guide ships the same file-lookup plugin under two names (7.2.1), so
# that the AMT and the Socks authentication can use different files.
pkglib_LTLIBRARIES += plugins/AMTFileAuth.la plugins/SocksFileAuth.la
plugins_AMTFileAuth_la_SOURCES = plugins/file_auth/file_auth.c
plugins_AMTFileAuth_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_SocksFileAuth_la_SOURCES = plugins/file_auth/file_auth.c
plugins_SocksFileAuth_la_LDFLAGS = $(PLUGIN_LDFLAGS)

# Each further plugin keeps its rules (and its tests' rules) beside it.
include $(srcdir)/plugins/soap_auth/local.mk
include $(srcdir)/plugins/ldap_auth/local.mk

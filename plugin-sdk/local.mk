# SPDX-License-Identifier: Apache-2.0
## The plugin SDK: the public header and a pkg-config file, so that a
## plugin builds outside this tree.
mpsincludedir = $(includedir)/mps
mpsinclude_HEADERS = plugin-sdk/mps/plugin.h
pkgconfigdir = $(libdir)/pkgconfig
pkgconfig_DATA = plugin-sdk/mps-plugin.pc
EXTRA_DIST += plugin-sdk/README.md plugin-sdk/mps-plugin.pc.in \
	plugin-sdk/example/example_auth.c plugin-sdk/example/Makefile

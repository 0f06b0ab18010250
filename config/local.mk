# SPDX-License-Identifier: Apache-2.0
## Configuration samples go to $(sysconfdir)/mpsd. An admin's edited file
## is never overwritten by a later "make install": the new sample lands
## beside it as FILE.new. mps.config is made from mps.config.in so that its
## paths follow the configured prefix. The samples hold no live account:
## the demo's accounts stay in config/demo (not installed).
MPS_CONFIG_SAMPLES = config/mps.config config/mps_dynamic.config \
	config/NotificationList.config config/AuthorizedServersList.config \
	config/AMTAuthFile.txt config/SocksAuthFile.txt config/stunnel.conf \
	config/apache-mps-proxy.conf
EXTRA_DIST += config/mps_dynamic.config \
	config/NotificationList.config config/AuthorizedServersList.config \
	config/AMTAuthFile.txt config/SocksAuthFile.txt config/stunnel.conf \
	config/apache-mps-proxy.conf config/mps.config.in config/mpsd.service.in \
	config/mpsd.sysusers config/mpsd.tmpfiles.in \
	config/demo/mps.config config/demo/mps_dynamic.config \
	config/demo/NotificationList.config config/demo/AuthorizedServersList.config \
	config/demo/AMTAuthFile.txt config/demo/SocksAuthFile.txt
## Examples that are not configuration of mpsd itself: the HAProxy
## front end of several instances (issue 14).
mpsexamplesdir = $(docdir)/examples
mpsexamples_DATA = config/haproxy-mps.cfg
EXTRA_DIST += config/haproxy-mps.cfg

## The man pages name the configured paths too (the default -c, PluginDir,
## LogFilePath, PidFile), so that they agree with the binary.
man_MANS = config/mps.config.5 server/mpsd.8
EXTRA_DIST += config/mps.config.5.in server/mpsd.8.in
CLEANFILES += config/mps.config.5 server/mpsd.8
config/mps.config.5: $(srcdir)/config/mps.config.5.in Makefile
	$(AM_V_GEN)$(MKDIR_P) config && $(MPS_SUBST) $(srcdir)/config/mps.config.5.in > $@
server/mpsd.8: $(srcdir)/server/mpsd.8.in Makefile
	$(AM_V_GEN)$(MKDIR_P) server && $(MPS_SUBST) $(srcdir)/server/mpsd.8.in > $@

## Files made from a .in: the configured directories substituted.
MPS_SUBST = $(SED) -e 's|@sbindir[@]|$(sbindir)|g' \
	-e 's|@mpsconfdir[@]|$(mpsconfdir)|g' -e 's|@mpslogdir[@]|$(mpslogdir)|g' \
	-e 's|@runstatedir[@]|$(runstatedir)|g' -e 's|@pkglibdir[@]|$(pkglibdir)|g' \
	-e 's|@localstatedir[@]|$(localstatedir)|g'

noinst_DATA = config/mps.config
CLEANFILES += config/mps.config
config/mps.config: $(srcdir)/config/mps.config.in Makefile
	$(AM_V_GEN)$(MKDIR_P) config && $(MPS_SUBST) $(srcdir)/config/mps.config.in > $@

systemdunit_DATA = config/mpsd.service
CLEANFILES += config/mpsd.service
config/mpsd.service: $(srcdir)/config/mpsd.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) config && $(MPS_SUBST) $(srcdir)/config/mpsd.service.in > $@

## The user (sysusers.d) and its directories outside systemd's own
## (tmpfiles.d), for systemd-sysusers and systemd-tmpfiles at install.
## Both are named mpsd.conf where they are installed.
sysusers_DATA = config/sysusers.d/mpsd.conf
tmpfiles_DATA = config/tmpfiles.d/mpsd.conf
CLEANFILES += config/sysusers.d/mpsd.conf config/tmpfiles.d/mpsd.conf
config/sysusers.d/mpsd.conf: $(srcdir)/config/mpsd.sysusers
	$(AM_V_GEN)$(MKDIR_P) config/sysusers.d && cp $(srcdir)/config/mpsd.sysusers $@
config/tmpfiles.d/mpsd.conf: $(srcdir)/config/mpsd.tmpfiles.in Makefile
	$(AM_V_GEN)$(MKDIR_P) config/tmpfiles.d && $(MPS_SUBST) $(srcdir)/config/mpsd.tmpfiles.in > $@

## The accounts files are read by mpsd after it drops root: root:mpsd 0640
## when installing as root and the group exists, else 0600 (the admin
## then gives them to mpsd's user; mpsd -t says so).
install-data-local:
	$(MKDIR_P) $(DESTDIR)$(mpsconfdir) $(DESTDIR)$(mpslogdir)
	@for f in $(MPS_CONFIG_SAMPLES); do \
	  if test -f $$f; then s=$$f; else s=$(srcdir)/$$f; fi; \
	  b=`basename $$f`; d=$(DESTDIR)$(mpsconfdir)/$$b; \
	  if test -f $$d && ! cmp -s $$s $$d; then \
	    echo " keeping $$d; new sample at $$d.new"; \
	    $(INSTALL_DATA) $$s $$d.new; \
	  else \
	    echo " $(INSTALL_DATA) $$s $$d"; $(INSTALL_DATA) $$s $$d; \
	  fi; \
	done
	@for b in AMTAuthFile.txt SocksAuthFile.txt; do \
	  d=$(DESTDIR)$(mpsconfdir)/$$b; \
	  if test "`id -u`" = 0 && getent group mpsd >/dev/null; then \
	    echo " chown root:mpsd $$d; chmod 640 $$d"; \
	    chown root:mpsd $$d && chmod 640 $$d; \
	  else \
	    echo " chmod 600 $$d"; chmod 600 $$d; \
	  fi; \
	done

uninstall-local:
	@for f in $(MPS_CONFIG_SAMPLES); do \
	  if test -f $$f; then s=$$f; else s=$(srcdir)/$$f; fi; \
	  b=`basename $$f`; d=$(DESTDIR)$(mpsconfdir)/$$b; \
	  if cmp -s $$s $$d; then rm -f $$d; fi; rm -f $$d.new; \
	done
	-rmdir $(DESTDIR)$(mpslogdir) $(DESTDIR)$(mpsconfdir) 2>/dev/null

# SPDX-License-Identifier: Apache-2.0
## Configuration samples go to $(sysconfdir)/mpsd. An admin's edited file
## is never overwritten by a later "make install": the new sample lands
## beside it as FILE.new.
MPS_CONFIG_SAMPLES = config/mps.config config/mps_dynamic.config \
	config/NotificationList.config config/AuthorizedServersList.config \
	config/AMTAuthFile.txt config/SocksAuthFile.txt config/stunnel.conf \
	config/apache-mps-proxy.conf
EXTRA_DIST += $(MPS_CONFIG_SAMPLES) config/mpsd.service.in config/demo/mps.config \
	config/demo/mps_dynamic.config \
	config/demo/NotificationList.config config/demo/AuthorizedServersList.config
dist_man_MANS += config/mps.config.5

systemdunit_DATA = config/mpsd.service
CLEANFILES += config/mpsd.service
config/mpsd.service: $(srcdir)/config/mpsd.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) config && sed -e 's|@sbindir[@]|$(sbindir)|g' \
	  -e 's|@mpsconfdir[@]|$(mpsconfdir)|g' $(srcdir)/config/mpsd.service.in > $@

install-data-local:
	$(MKDIR_P) $(DESTDIR)$(mpsconfdir) $(DESTDIR)$(mpslogdir)
	@for f in $(MPS_CONFIG_SAMPLES); do \
	  b=`basename $$f`; d=$(DESTDIR)$(mpsconfdir)/$$b; \
	  if test -f $$d && ! cmp -s $(srcdir)/$$f $$d; then \
	    echo " keeping $$d; new sample at $$d.new"; \
	    $(INSTALL_DATA) $(srcdir)/$$f $$d.new; \
	  else \
	    echo " $(INSTALL_DATA) $$f $$d"; $(INSTALL_DATA) $(srcdir)/$$f $$d; \
	  fi; \
	done
	chmod 600 $(DESTDIR)$(mpsconfdir)/AMTAuthFile.txt $(DESTDIR)$(mpsconfdir)/SocksAuthFile.txt

uninstall-local:
	@for f in $(MPS_CONFIG_SAMPLES); do \
	  b=`basename $$f`; d=$(DESTDIR)$(mpsconfdir)/$$b; \
	  if cmp -s $(srcdir)/$$f $$d; then rm -f $$d; fi; rm -f $$d.new; \
	done
	-rmdir $(DESTDIR)$(mpslogdir) $(DESTDIR)$(mpsconfdir) 2>/dev/null

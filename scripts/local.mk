# SPDX-License-Identifier: Apache-2.0
dist_sbin_SCRIPTS = scripts/mps-certgen
EXTRA_DIST += scripts/quickstart scripts/run-tests scripts/install-deps scripts/build-deb

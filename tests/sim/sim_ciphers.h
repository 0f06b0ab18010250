/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sim_ciphers.h: the TLS suites amtsim offers, per firmware generation
 * (see sim_tls.c). Also what tests/bench/handshake_cost offers, so that
 * OpenSSL's cost it measures is that of the handshakes amtsim makes.
 */
#ifndef SIM_CIPHERS_H
#define SIM_CIPHERS_H

/* AMT 11 and older: TLS 1.0, plain RSA key exchange (security level 0). */
#define SIM_LEGACY_CIPHERS	"AES128-SHA:AES256-SHA:@SECLEVEL=0"
/* CSME 15/16+: TLS 1.2, ECDHE-RSA with AES-GCM first. */
#define SIM_MODERN_CIPHERS \
	"ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:" \
	"ECDHE-RSA-AES128-SHA256:ECDHE-RSA-AES256-SHA384:" \
	"AES128-GCM-SHA256:AES256-GCM-SHA384"

#endif /* SIM_CIPHERS_H */

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * soap_params.h: the DllParameters of the SOAPAuthentication plugin.
 *
 * The grammar is the guide's sample usage (7.2.2) plus our additions:
 *
 *   -target URL [-user U -pass P] [-cert FILE [-key FILE]] [-tls]
 *   [-cafile FILE | -insecure] [-connect-timeout S] [-timeout S]
 *   [-proxy URL [-proxyUserName U -proxyPass P]] [-krb]
 *
 * Words are separated by blanks. A word may be double-quoted, wholly or
 * in part ("-pass "a b"" gives the value a b); inside quotes \" stands
 * for " and \\ for \, and any other backslash is literal. Option names
 * may start with one or two dashes and are matched ignoring case (the
 * guide spells them -proxyUserName and --target). Every value is the
 * word after its option, whatever it looks like, so a password may
 * begin with a dash.
 *
 * Nothing here logs or returns a value given for -pass or -proxyPass:
 * error messages name options, never secrets.
 */
#ifndef MPS_SOAP_PARAMS_H
#define MPS_SOAP_PARAMS_H

#include <stddef.h>

/* Longest DllParameters accepted, in bytes. */
#define SOAP_PARAMS_MAX		8192

#define SOAP_DEFAULT_CONNECT_TIMEOUT	5	/* seconds */
#define SOAP_DEFAULT_TIMEOUT		10	/* seconds, the whole call */
#define SOAP_TIMEOUT_MAX		3600	/* seconds */

struct soap_params {
	char *words;		/* the parsed words; holds secrets */
	size_t wordsize;	/* bytes allocated at words */
	const char *target;	/* http:// or https:// URL, no userinfo */
	int https;		/* the target's scheme is https */
	const char *user;	/* HTTP Basic credentials to the service */
	const char *pass;
	const char *cert;	/* client certificate for mutual TLS */
	const char *key;	/* its key, when not in the cert file */
	const char *cafile;	/* CA bundle verifying the service */
	const char *proxy;	/* proxy URL, and its Basic credentials */
	const char *proxy_user;
	const char *proxy_pass;
	int tls;		/* -tls: the target must be https */
	int insecure;		/* -insecure: no certificate verification */
	long connect_timeout;	/* seconds */
	long timeout;		/* seconds, the whole exchange */
};

/*
 * Parses and validates paramStr into p (which needs no preparation).
 * Returns 0, or -1 with a reason in err. Either way, call
 * mps_soap_params_clear(p) afterwards: it wipes the secrets.
 * Thread-safe; checks no file (see mps_soap_params_check_files).
 */
int mps_soap_params_parse(struct soap_params *p, const char *paramStr,
    char *err, size_t errsize);

/*
 * Checks that the files p names (-cert, -key, -cafile) can be read, so
 * that a typo fails at start-up, not at the first device. Returns 0, or
 * -1 with a reason in err.
 */
int mps_soap_params_check_files(const struct soap_params *p, char *err,
    size_t errsize);

/* Wipes and frees what mps_soap_params_parse allocated. */
void mps_soap_params_clear(struct soap_params *p);

#endif /* MPS_SOAP_PARAMS_H */

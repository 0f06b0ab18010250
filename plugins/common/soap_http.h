/* SPDX-License-Identifier: Apache-2.0 */
/*
 * soap_http.h: the HTTP side of the SOAP plugins (SOAPAuthentication,
 * SOAPNotifier): one POST of a SOAP 1.1 request over libcurl, with the
 * policy both share, and libcurl's global set-up.
 *
 * The policy, and why: one curl easy handle per call (calls share
 * nothing, so they are thread-safe without locks); redirects are not
 * followed (they could carry credentials to a URL nobody configured);
 * only http and https; no proxy from the environment (a daemon's
 * environment cannot divert the passwords), only -proxy; certificates
 * verified unless -insecure, TLS 1.2 at least; responses over the
 * caller's maximum abort the transfer; CURLOPT_NOSIGNAL, since mpsd is
 * multithreaded.
 *
 * Both plugins read their DllParameters with SOAPAuthentication's parser
 * (plugins/soap_auth/soap_params.h), which says what each option means.
 */
#ifndef MPS_SOAP_HTTP_H
#define MPS_SOAP_HTTP_H

#include <stddef.h>

struct soap_params;

/* What differs between the interfaces. */
struct mps_soap_post {
	const struct soap_params *p;	/* target, credentials, TLS, times */
	const char *user_agent;
	const char *action;		/* the SOAPAction URI */
	long httpauth;			/* CURLAUTH_* offered for -user */
	size_t max;			/* largest response, in bytes */
	/*
	 * Messages about the peer start "<label> <target>: " (the
	 * authentication plugin's errors name its service), or with no
	 * prefix when label is NULL (mpsd names the subscriber itself).
	 */
	const char *label;
	/* Where the user names a CA, quoted when the peer is not trusted. */
	const char *cafile_hint;
};

/* The peer's answer. */
struct mps_soap_answer {
	long status;			/* HTTP status */
	char *data;			/* the body, len bytes */
	size_t len;
};

/*
 * POSTs body[0..len) as the request describes. Returns 0 with the answer
 * in a; or -1 with a reason in err (out of memory, an option libcurl
 * refused, a failed transfer: timeout, TLS, too large a response, ...).
 * Either way, release a with mps_soap_answer_clear. body is not copied
 * and may be sent twice (when an HTTP authentication scheme needs a
 * challenge first). Call it only once mps_soap_http_ready() says so.
 */
int mps_soap_http_post(const struct mps_soap_post *req, const char *body,
    size_t len, struct mps_soap_answer *a, char *err, size_t errsize);

/* Wipes (a peer may echo what it was sent) and frees an answer. */
void mps_soap_answer_clear(struct mps_soap_answer *a);

/*
 * libcurl's global initialisation, reference-counted: each successful
 * mps_soap_http_init (one per role that loads the plugin) is undone by
 * one mps_soap_http_fini. Returns 0, or -1 with a reason in err.
 */
int mps_soap_http_init(char *err, size_t errsize);
void mps_soap_http_fini(void);

/* Whether mps_soap_http_init has succeeded more often than _fini ran. */
int mps_soap_http_ready(void);

#endif /* MPS_SOAP_HTTP_H */

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * soap_auth.c: the SOAPAuthentication plugin of the product guide
 * (section 7.2.2). Authenticate() asks an external SOAP service, over
 * HTTP or HTTPS with libcurl, whether a user name and password are good:
 * one AuthenticateRequest per call, as described by
 * config/MPSAuthentication.wsdl, whose boolean AuthenticateResult is the
 * answer. DllParameters are described in soap_params.h and README.md.
 *
 * Outcomes. AuthenticateResult true grants; false denies with no
 * errorString (wrong credentials are no error). Everything else denies
 * AND explains itself in errorString, which mpsd logs: a SOAP Fault
 * ("SOAP Fault: <faultcode>: <faultstring>"), an HTTP status other than
 * 200, a response that is not the expected message, a transport failure,
 * a timeout ("timed out after N s"). The plugin fails closed.
 *
 * Choices, and why:
 *   - One curl easy handle per call. Calls then share nothing, which
 *     makes them thread-safe without locks; the price is a new TCP (and
 *     TLS) connection per authentication, a few milliseconds on a LAN,
 *     which is small beside what a device's connection costs anyway.
 *   - HTTP Basic only, sent with the first request, to the service
 *     (-user/-pass) and to the proxy (-proxyUserName/-proxyPass). Letting
 *     libcurl negotiate (CURLAUTH_ANY) would cost a second round trip on
 *     every call and could fall back to schemes we do not test. Basic
 *     sends the password readably: use https (-tls makes it mandatory).
 *   - Redirects are not followed: a redirect would send the user's
 *     password to a URL nobody configured. A 3xx is an error naming the
 *     status; configure the final URL.
 *   - Only http and https, whatever URL or redirect is given.
 *   - Certificates are verified for https unless -insecure says not to:
 *     against the system's CAs, or -cafile. TLS 1.2 at least.
 *   - No proxy unless -proxy is given: the environment's http_proxy and
 *     friends are ignored, so a daemon's environment cannot divert the
 *     passwords.
 *   - The response is read into a 64 KiB buffer; a bigger one aborts the
 *     transfer. CURLOPT_NOSIGNAL, since mpsd is multithreaded. (With a
 *     libcurl built without an asynchronous resolver, name resolution is
 *     then not bounded by the timeouts; Debian's is threaded.)
 *
 * Secrets. Neither the user's password nor -pass/-proxyPass ever enters
 * errorString: messages are built from other data, and as a last guard
 * any occurrence of a secret in the final message (a service may quote
 * what it received in a fault) is replaced by "***". The request body,
 * which holds the password, and the response are wiped before they are
 * freed. (libcurl's own copies of -pass and -proxyPass are not ours to
 * wipe.)
 */
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include <mps/plugin.h>

#include "soap_params.h"
#include "soap_xml.h"

#include "plugin_util.h"
#include "soap_http.h"

MPS_PLUGIN_DECLARE_ABI;

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif
#define USER_AGENT	"mpsd-SOAPAuthentication/" PACKAGE_VERSION

MPS_PLUGIN_EXPORT int mps_plugin_init(const char *paramStr,
    char *errorString, size_t errorStringSize);
MPS_PLUGIN_EXPORT void mps_plugin_fini(void);

/* Decides on a completed exchange. */
static bool
conclude(long status, const struct soap_params *p, const char *password,
    const struct mps_soap_answer *a, char *err, size_t errsize)
{
	const char *secrets[] = { password, p->pass, p->proxy_pass };
	struct soap_response r;

	if (status == 401) {
		mps_pu_seterr(err, errsize, "SOAP service %s: HTTP 401 Unauthorized: "
		    "%s", p->target, p->user != NULL ? "it refused the -user "
		    "and -pass credentials" : "it wants credentials (-user "
		    "and -pass)");
		return false;
	}
	if (status == 407) {
		mps_pu_seterr(err, errsize, "SOAP service %s: HTTP 407: the proxy "
		    "wants credentials (-proxyUserName, -proxyPass)",
		    p->target);
		return false;
	}
	if (status != 200 && status != 500) {
		mps_pu_seterr(err, errsize, "SOAP service %s: HTTP %ld%s", p->target,
		    status, status >= 300 && status < 400 ? " (redirects are "
		    "not followed: give the final URL in -target)" : "");
		return false;
	}
	mps_soap_parse_response(a->data, a->len, secrets,
	    sizeof(secrets) / sizeof(secrets[0]), &r);
	switch (r.outcome) {
	case SOAP_GRANTED:
		if (status == 200)
			return true;
		mps_pu_seterr(err, errsize, "SOAP service %s: HTTP 500 with an "
		    "AuthenticateResponse", p->target);
		return false;
	case SOAP_DENIED:
		if (status == 200)
			return false;
		mps_pu_seterr(err, errsize, "SOAP service %s: HTTP 500 with an "
		    "AuthenticateResponse", p->target);
		return false;
	case SOAP_FAULT:
		mps_pu_seterr(err, errsize, "SOAP Fault: %s: %s",
		    r.faultcode[0] != '\0' ? r.faultcode : "(no faultcode)",
		    r.faultstring[0] != '\0' ? r.faultstring :
		    "(no faultstring)");
		return false;
	case SOAP_INVALID:
		break;
	}
	if (status == 500)
		mps_pu_seterr(err, errsize, "SOAP service %s: HTTP 500 without a "
		    "SOAP Fault (%s)", p->target, r.error);
	else
		mps_pu_seterr(err, errsize, "SOAP service %s: invalid response: %s",
		    p->target, r.error);
	return false;
}

/* One exchange with the service about password (in body). */
static bool
ask_service(const struct soap_params *p, const char *password,
    const char *body, size_t len, char *err, size_t errsize)
{
	const struct mps_soap_post req = {
		.p = p,
		.user_agent = USER_AGENT,
		.action = SOAP_ACTION,
		/* Basic only, with the first request: see the top. */
		.httpauth = (long)CURLAUTH_BASIC,
		.max = SOAP_RESPONSE_MAX,
		.label = "SOAP service",
		.cafile_hint = "-cafile",
	};
	struct mps_soap_answer a;
	bool granted = false;

	if (mps_soap_http_post(&req, body, len, &a, err, errsize) == 0)
		granted = conclude(a.status, p, password, &a, err, errsize);
	mps_soap_answer_clear(&a);
	return granted;
}

MPS_PLUGIN_EXPORT bool
Authenticate(const char *userName, const char *userPassword,
    const char *paramStr, char *errorString, size_t errorStringSize)
{
	struct soap_params p;
	char *body = NULL;
	size_t len = 0;
	bool granted = false;

	if (errorString == NULL)
		errorStringSize = 0;	/* then nothing writes there */
	else if (errorStringSize > 0)
		errorString[0] = '\0';
	if (userName == NULL || userPassword == NULL || paramStr == NULL)
		return false;
	if (!mps_soap_http_ready()) {
		mps_pu_seterr(errorString, errorStringSize, "SOAPAuthentication: "
		    "called before mps_plugin_init");
		return false;
	}
	/* Parsed on every call: cheap beside an HTTP exchange, and right
	 * whichever role's parameters come, with no shared state. */
	if (mps_soap_params_parse(&p, paramStr, errorString,
	    errorStringSize) != 0)
		goto out;
	/* Nobody has an empty name or password: no need to ask. */
	if (*userName == '\0' || *userPassword == '\0')
		goto out;
	if (mps_soap_build_request(userName, userPassword, &body, &len,
	    errorString, errorStringSize) != 0)
		goto out;
	granted = ask_service(&p, userPassword, body, len, errorString,
	    errorStringSize);
out:
	mps_pu_redact(errorString, errorStringSize, userPassword);
	mps_pu_redact(errorString, errorStringSize, p.pass);
	mps_pu_redact(errorString, errorStringSize, p.proxy_pass);
	if (body != NULL) {
		explicit_bzero(body, len);
		free(body);
	}
	mps_soap_params_clear(&p);
	return granted;
}

MPS_PLUGIN_EXPORT int
mps_plugin_init(const char *paramStr, char *errorString,
    size_t errorStringSize)
{
	struct soap_params p;
	curl_version_info_data *v;
	int ok = -1;

	if (errorString == NULL)
		errorStringSize = 0;
	else if (errorStringSize > 0)
		errorString[0] = '\0';
	if (paramStr == NULL)
		paramStr = "";
	if (mps_soap_params_parse(&p, paramStr, errorString,
	    errorStringSize) != 0 ||
	    mps_soap_params_check_files(&p, errorString, errorStringSize) != 0)
		goto out;
	v = curl_version_info(CURLVERSION_NOW);
	if ((p.https || p.cert != NULL) && !(v->features & CURL_VERSION_SSL)) {
		mps_pu_seterr(errorString, errorStringSize, "this libcurl (%s) has "
		    "no TLS support for an https -target", v->version);
		goto out;
	}
	/* Authenticate() refuses to run before this (a loader that skips
	 * mps_plugin_init breaks the ABI's contract). */
	if (mps_soap_http_init(errorString, errorStringSize) != 0)
		goto out;
	ok = 0;
out:
	mps_pu_redact(errorString, errorStringSize, p.pass);
	mps_pu_redact(errorString, errorStringSize, p.proxy_pass);
	mps_soap_params_clear(&p);
	return ok;
}

MPS_PLUGIN_EXPORT void
mps_plugin_fini(void)
{
	mps_soap_http_fini();
}

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
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include <mps/plugin.h>

#include "soap_params.h"
#include "soap_xml.h"

#include "plugin_util.h"

MPS_PLUGIN_DECLARE_ABI;

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif
#define USER_AGENT	"mpsd-SOAPAuthentication/" PACKAGE_VERSION

MPS_PLUGIN_EXPORT int mps_plugin_init(const char *paramStr,
    char *errorString, size_t errorStringSize);
MPS_PLUGIN_EXPORT void mps_plugin_fini(void);

/*
 * How many roles have initialised us. libcurl must be initialised before
 * any thread uses it, and Authenticate() refuses to run before that (a
 * loader that skips mps_plugin_init breaks the ABI's contract).
 */
static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned init_count;

/* The response, as it arrives. */
struct sink {
	char *data;		/* SOAP_RESPONSE_MAX bytes */
	size_t len;
	int oversized;
};


/*
 * Replaces every occurrence of secret in err by "***". The search goes on
 * after each mask, so a secret made of '*' cannot match its own mask.
 */
static void
redact(char *err, size_t errsize, const char *secret)
{
	size_t slen, tail, used;
	char *at, *hit;

	if (err == NULL || errsize == 0 || secret == NULL ||
	    (slen = strlen(secret)) == 0)
		return;
	for (at = err; (hit = strstr(at, secret)) != NULL; at = hit + 3) {
		/* What follows the secret, with its NUL; a secret shorter
		 * than the mask makes the text longer: cut what must go. */
		tail = strlen(hit + slen) + 1;
		used = (size_t)(hit - err) + 3;
		if (used >= errsize) {
			*hit = '\0';
			return;
		}
		if (used + tail > errsize)
			tail = errsize - used;
		memmove(hit + 3, hit + slen, tail);
		err[errsize - 1] = '\0';
		memcpy(hit, "***", 3);
	}
}

static size_t
on_data(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct sink *s = arg;
	size_t n = size * nmemb;

	if (n > SOAP_RESPONSE_MAX - s->len) {
		s->oversized = 1;
		return 0;	/* aborts the transfer */
	}
	memcpy(s->data + s->len, ptr, n);
	s->len += n;
	return n;
}

/* Sets an option, or returns its name from the function using it. */
#define SET(h, opt, val) do { \
	if (curl_easy_setopt((h), (opt), (val)) != CURLE_OK) \
		return #opt; \
} while (0)

/*
 * Sets what every request needs. Returns NULL, or the name of the option
 * libcurl refused.
 */
static const char *
set_common(CURL *h, const struct soap_params *p, struct curl_slist *hdrs,
    char *errbuf)
{
	SET(h, CURLOPT_URL, p->target);
	SET(h, CURLOPT_NOSIGNAL, 1L);
	SET(h, CURLOPT_ERRORBUFFER, errbuf);
#if LIBCURL_VERSION_NUM >= 0x075500	/* 7.85.0 */
	SET(h, CURLOPT_PROTOCOLS_STR, "http,https");
	SET(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
	SET(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
	SET(h, CURLOPT_REDIR_PROTOCOLS,
	    (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	SET(h, CURLOPT_FOLLOWLOCATION, 0L);
	SET(h, CURLOPT_CONNECTTIMEOUT, p->connect_timeout);
	SET(h, CURLOPT_TIMEOUT, p->timeout);
	SET(h, CURLOPT_HTTPHEADER, hdrs);
	SET(h, CURLOPT_USERAGENT, USER_AGENT);
	SET(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)SOAP_RESPONSE_MAX);
	/* An empty proxy: none, whatever the environment says; and an
	 * empty no-proxy list: no_proxy in the environment cannot take a
	 * host away from the configured proxy either. */
	SET(h, CURLOPT_PROXY, p->proxy != NULL ? p->proxy : "");
	SET(h, CURLOPT_NOPROXY, "");
	return NULL;
}

static const char *
set_auth(CURL *h, const struct soap_params *p)
{
	if (p->user != NULL) {
		SET(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		SET(h, CURLOPT_USERNAME, p->user);
		SET(h, CURLOPT_PASSWORD, p->pass);
	}
	if (p->proxy_user != NULL) {
		SET(h, CURLOPT_PROXYAUTH, (long)CURLAUTH_BASIC);
		SET(h, CURLOPT_PROXYUSERNAME, p->proxy_user);
		SET(h, CURLOPT_PROXYPASSWORD, p->proxy_pass);
	}
	return NULL;
}

static const char *
set_tls(CURL *h, const struct soap_params *p)
{
	long verify = p->insecure ? 0L : 1L;

	SET(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	SET(h, CURLOPT_SSL_VERIFYPEER, verify);
	SET(h, CURLOPT_SSL_VERIFYHOST, verify ? 2L : 0L);
	SET(h, CURLOPT_PROXY_SSL_VERIFYPEER, verify);
	SET(h, CURLOPT_PROXY_SSL_VERIFYHOST, verify ? 2L : 0L);
	if (p->cafile != NULL) {
		SET(h, CURLOPT_CAINFO, p->cafile);
		SET(h, CURLOPT_PROXY_CAINFO, p->cafile);
	}
	if (p->cert != NULL) {
		SET(h, CURLOPT_SSLCERTTYPE, "PEM");
		SET(h, CURLOPT_SSLCERT, p->cert);
		/* Without -key, the key is in the certificate's file. */
		SET(h, CURLOPT_SSLKEY, p->key != NULL ? p->key : p->cert);
	}
	return NULL;
}

static const char *
set_request(CURL *h, const char *body, size_t len, struct sink *sink)
{
	SET(h, CURLOPT_POST, 1L);
	/* Not copied by libcurl: we wipe our buffer afterwards. */
	SET(h, CURLOPT_POSTFIELDS, body);
	SET(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	SET(h, CURLOPT_WRITEFUNCTION, on_data);
	SET(h, CURLOPT_WRITEDATA, sink);
	return NULL;
}

#undef SET

/* The headers of every request. NULL when out of memory. */
static struct curl_slist *
make_headers(void)
{
	static const char *const lines[] = {
		"Content-Type: text/xml; charset=utf-8",
		"SOAPAction: \"" SOAP_ACTION "\"",
		"Accept: text/xml",
		/* libcurl may wait for "100 Continue" before sending a
		 * longer body (older versions did past 1 KiB); a SOAP
		 * service need not send one. */
		"Expect:",
	};
	struct curl_slist *list = NULL, *l;
	size_t i;

	for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		if ((l = curl_slist_append(list, lines[i])) == NULL) {
			curl_slist_free_all(list);
			return NULL;
		}
		list = l;
	}
	return list;
}

/* Explains a failed transfer. */
static void
transfer_error(CURL *h, CURLcode rc, const struct soap_params *p,
    const struct sink *sink, const char *errbuf, char *err, size_t errsize)
{
	const char *why = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc);
	curl_off_t connected = 0;

	if (sink->oversized || rc == CURLE_FILESIZE_EXCEEDED) {
		mps_pu_seterr(err, errsize, "SOAP service %s: response larger than %d "
		    "bytes (refused)", p->target, SOAP_RESPONSE_MAX);
		return;
	}
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		/* The connect time stays 0 until a connection is made. */
		(void)curl_easy_getinfo(h, CURLINFO_CONNECT_TIME_T, &connected);
		if (connected == 0)
			mps_pu_seterr(err, errsize, "SOAP service %s: connection "
			    "timed out after %ld s", p->target,
			    p->connect_timeout < p->timeout ?
			    p->connect_timeout : p->timeout);
		else
			mps_pu_seterr(err, errsize, "SOAP service %s: timed out "
			    "after %ld s without a complete answer",
			    p->target, p->timeout);
		break;
	case CURLE_PEER_FAILED_VERIFICATION:
		mps_pu_seterr(err, errsize, "SOAP service %s: TLS certificate not "
		    "trusted: %s (name its CA with -cafile)", p->target, why);
		break;
	case CURLE_SSL_CERTPROBLEM:
		mps_pu_seterr(err, errsize, "SOAP service %s: cannot use the client "
		    "certificate (-cert/-key): %s", p->target, why);
		break;
	case CURLE_SSL_CACERT_BADFILE:
		mps_pu_seterr(err, errsize, "SOAP service %s: cannot use -cafile: %s",
		    p->target, why);
		break;
	default:
		mps_pu_seterr(err, errsize, "SOAP service %s: %s", p->target, why);
	}
}

/* Decides on a completed exchange. */
static bool
conclude(long status, const struct soap_params *p, const char *password,
    const struct sink *sink, char *err, size_t errsize)
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
	mps_soap_parse_response(sink->data, sink->len, secrets,
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
	char errbuf[CURL_ERROR_SIZE];
	struct curl_slist *hdrs = NULL;
	struct sink sink = { NULL, 0, 0 };
	const char *bad = NULL;
	CURL *h = NULL;
	CURLcode rc;
	long status = 0;
	bool granted = false;

	errbuf[0] = '\0';
	if ((sink.data = malloc(SOAP_RESPONSE_MAX)) == NULL ||
	    (hdrs = make_headers()) == NULL || (h = curl_easy_init()) == NULL) {
		mps_pu_seterr(err, errsize, "out of memory");
		goto out;
	}
	if ((bad = set_common(h, p, hdrs, errbuf)) != NULL ||
	    (bad = set_auth(h, p)) != NULL || (bad = set_tls(h, p)) != NULL ||
	    (bad = set_request(h, body, len, &sink)) != NULL) {
		mps_pu_seterr(err, errsize, "libcurl refused %s", bad);
		goto out;
	}
	rc = curl_easy_perform(h);
	if (rc != CURLE_OK) {
		transfer_error(h, rc, p, &sink, errbuf, err, errsize);
		goto out;
	}
	if (curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status) !=
	    CURLE_OK) {
		mps_pu_seterr(err, errsize, "SOAP service %s: no HTTP status",
		    p->target);
		goto out;
	}
	granted = conclude(status, p, password, &sink, err, errsize);
out:
	if (h != NULL)
		curl_easy_cleanup(h);
	curl_slist_free_all(hdrs);
	if (sink.data != NULL) {
		/* A service may echo what it was sent. */
		explicit_bzero(sink.data, sink.len);
		free(sink.data);
	}
	return granted;
}

static int
initialised(void)
{
	unsigned n;

	if (pthread_mutex_lock(&init_lock) != 0)
		return 0;
	n = init_count;
	(void)pthread_mutex_unlock(&init_lock);
	return n > 0;
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
	if (!initialised()) {
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
	redact(errorString, errorStringSize, userPassword);
	redact(errorString, errorStringSize, p.pass);
	redact(errorString, errorStringSize, p.proxy_pass);
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
	CURLcode rc;
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
	/* Reference-counted by libcurl; mps_plugin_fini undoes it. */
	if ((rc = curl_global_init(CURL_GLOBAL_DEFAULT)) != CURLE_OK) {
		mps_pu_seterr(errorString, errorStringSize, "curl_global_init: %s",
		    curl_easy_strerror(rc));
		goto out;
	}
	if (pthread_mutex_lock(&init_lock) != 0) {
		curl_global_cleanup();
		mps_pu_seterr(errorString, errorStringSize, "cannot lock");
		goto out;
	}
	init_count++;
	(void)pthread_mutex_unlock(&init_lock);
	ok = 0;
out:
	redact(errorString, errorStringSize, p.pass);
	redact(errorString, errorStringSize, p.proxy_pass);
	mps_soap_params_clear(&p);
	return ok;
}

MPS_PLUGIN_EXPORT void
mps_plugin_fini(void)
{
	if (pthread_mutex_lock(&init_lock) != 0)
		return;
	if (init_count > 0) {
		init_count--;
		curl_global_cleanup();
	}
	(void)pthread_mutex_unlock(&init_lock);
}

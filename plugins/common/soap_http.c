/* SPDX-License-Identifier: Apache-2.0 */
/* soap_http.c: see soap_http.h. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "soap_http.h"

#include "plugin_util.h"
#include "soap_params.h"

/*
 * How many roles have initialised libcurl through us. It must be
 * initialised before any thread uses it; each plugin module links its own
 * copy of this count, as libcurl's own is shared.
 */
static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned init_count;

/* The response, as it arrives. */
struct sink {
	char *data;		/* max bytes */
	size_t len, max;
	int oversized;
};

static void peer_err(const struct mps_soap_post *, char *, size_t,
    const char *, ...) __attribute__((format(printf, 4, 5)));

/* A message about the peer, with the prefix req->label asks for. */
static void
peer_err(const struct mps_soap_post *req, char *err, size_t errsize,
    const char *fmt, ...)
{
	va_list ap;
	size_t n = 0;

	if (err == NULL || errsize == 0)
		return;
	err[0] = '\0';
	if (req->label != NULL) {
		mps_pu_seterr(err, errsize, "%s %s: ", req->label,
		    req->p->target);
		n = strlen(err);
	}
	va_start(ap, fmt);
	(void)vsnprintf(err + n, errsize - n, fmt, ap);
	va_end(ap);
}

static size_t
on_data(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct sink *s = arg;
	size_t n = size * nmemb;

	if (n > s->max - s->len) {
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
set_common(CURL *h, const struct mps_soap_post *req,
    struct curl_slist *hdrs, char *errbuf)
{
	const struct soap_params *p = req->p;

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
	SET(h, CURLOPT_USERAGENT, req->user_agent);
	SET(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)req->max);
	/* An empty proxy: none, whatever the environment says; and an
	 * empty no-proxy list: no_proxy in the environment cannot take a
	 * host away from the configured proxy either. */
	SET(h, CURLOPT_PROXY, p->proxy != NULL ? p->proxy : "");
	SET(h, CURLOPT_NOPROXY, "");
	return NULL;
}

static const char *
set_auth(CURL *h, const struct mps_soap_post *req)
{
	const struct soap_params *p = req->p;

	if (p->user != NULL) {
		/* With more than Basic, libcurl asks first, then answers the
		 * challenge with the scheme the peer wants. */
		SET(h, CURLOPT_HTTPAUTH, req->httpauth);
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
	/* Not copied by libcurl: the caller wipes its buffer afterwards. */
	SET(h, CURLOPT_POSTFIELDS, body);
	SET(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	SET(h, CURLOPT_WRITEFUNCTION, on_data);
	SET(h, CURLOPT_WRITEDATA, sink);
	return NULL;
}

#undef SET

/* The headers of every request. NULL when out of memory. */
static struct curl_slist *
make_headers(const char *action)
{
	char soapaction[512];
	const char *lines[] = {
		"Content-Type: text/xml; charset=utf-8",
		soapaction,
		"Accept: text/xml",
		/* libcurl may wait for "100 Continue" before sending a
		 * longer body (older versions did past 1 KiB); a SOAP
		 * service need not send one. */
		"Expect:",
	};
	struct curl_slist *list = NULL, *l;
	size_t i;
	int n;

	/* The actions are the plugins' constants, far shorter. */
	n = snprintf(soapaction, sizeof(soapaction), "SOAPAction: \"%s\"",
	    action);
	if (n < 0 || (size_t)n >= sizeof(soapaction))
		return NULL;
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
transfer_error(CURL *h, CURLcode rc, const struct mps_soap_post *req,
    const struct sink *sink, const char *errbuf, char *err, size_t errsize)
{
	const struct soap_params *p = req->p;
	const char *why = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc);
	curl_off_t connected = 0;

	if (sink->oversized || rc == CURLE_FILESIZE_EXCEEDED) {
		peer_err(req, err, errsize, "response larger than %zu bytes "
		    "(refused)", req->max);
		return;
	}
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		/* The connect time stays 0 until a connection is made. */
		(void)curl_easy_getinfo(h, CURLINFO_CONNECT_TIME_T, &connected);
		if (connected == 0)
			peer_err(req, err, errsize, "connection timed out "
			    "after %ld s", p->connect_timeout < p->timeout ?
			    p->connect_timeout : p->timeout);
		else
			peer_err(req, err, errsize, "timed out after %ld s "
			    "without a complete answer", p->timeout);
		break;
	case CURLE_PEER_FAILED_VERIFICATION:
		peer_err(req, err, errsize, "TLS certificate not trusted: %s "
		    "(name its CA with %s)", why, req->cafile_hint);
		break;
	case CURLE_SSL_CERTPROBLEM:
		peer_err(req, err, errsize, "cannot use the client certificate "
		    "(-cert/-key): %s", why);
		break;
	case CURLE_SSL_CACERT_BADFILE:
		peer_err(req, err, errsize, "cannot use -cafile: %s", why);
		break;
	default:
		peer_err(req, err, errsize, "%s", why);
	}
}

int
mps_soap_http_post(const struct mps_soap_post *req, const char *body,
    size_t len, struct mps_soap_answer *a, char *err, size_t errsize)
{
	char errbuf[CURL_ERROR_SIZE];
	struct curl_slist *hdrs = NULL;
	struct sink sink = { NULL, 0, req->max, 0 };
	const char *bad = NULL;
	CURL *h = NULL;
	CURLcode rc;
	int ok = -1;

	memset(a, 0, sizeof(*a));
	errbuf[0] = '\0';
	if ((sink.data = malloc(req->max)) == NULL ||
	    (hdrs = make_headers(req->action)) == NULL ||
	    (h = curl_easy_init()) == NULL) {
		mps_pu_seterr(err, errsize, "out of memory");
		goto out;
	}
	if ((bad = set_common(h, req, hdrs, errbuf)) != NULL ||
	    (bad = set_auth(h, req)) != NULL ||
	    (bad = set_tls(h, req->p)) != NULL ||
	    (bad = set_request(h, body, len, &sink)) != NULL) {
		mps_pu_seterr(err, errsize, "libcurl refused %s", bad);
		goto out;
	}
	rc = curl_easy_perform(h);
	if (rc != CURLE_OK) {
		transfer_error(h, rc, req, &sink, errbuf, err, errsize);
		goto out;
	}
	if (curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &a->status) !=
	    CURLE_OK) {
		peer_err(req, err, errsize, "no HTTP status");
		goto out;
	}
	ok = 0;
out:
	if (h != NULL)
		curl_easy_cleanup(h);
	curl_slist_free_all(hdrs);
	/* Handed over even on failure: it may hold part of an answer,
	 * which mps_soap_answer_clear wipes. */
	a->data = sink.data;
	a->len = sink.len;
	return ok;
}

void
mps_soap_answer_clear(struct mps_soap_answer *a)
{
	if (a->data != NULL) {
		explicit_bzero(a->data, a->len);
		free(a->data);
	}
	memset(a, 0, sizeof(*a));
}

int
mps_soap_http_init(char *err, size_t errsize)
{
	CURLcode rc;

	/* Reference-counted by libcurl; mps_soap_http_fini undoes it. */
	if ((rc = curl_global_init(CURL_GLOBAL_DEFAULT)) != CURLE_OK) {
		mps_pu_seterr(err, errsize, "curl_global_init: %s",
		    curl_easy_strerror(rc));
		return -1;
	}
	if (pthread_mutex_lock(&init_lock) != 0) {
		curl_global_cleanup();
		mps_pu_seterr(err, errsize, "cannot lock");
		return -1;
	}
	init_count++;
	(void)pthread_mutex_unlock(&init_lock);
	return 0;
}

void
mps_soap_http_fini(void)
{
	if (pthread_mutex_lock(&init_lock) != 0)
		return;
	if (init_count > 0) {
		init_count--;
		curl_global_cleanup();
	}
	(void)pthread_mutex_unlock(&init_lock);
}

int
mps_soap_http_ready(void)
{
	unsigned n;

	if (pthread_mutex_lock(&init_lock) != 0)
		return 0;
	n = init_count;
	(void)pthread_mutex_unlock(&init_lock);
	return n > 0;
}

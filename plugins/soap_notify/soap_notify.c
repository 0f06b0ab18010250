/*
 * soap_notify.c: the SOAPNotifier plugin. Notify() tells one subscriber
 * of NotificationList.config that a device connected or disconnected
 * (product guide, section 7.1): one EventNotificationRequest per call,
 * POSTed over HTTP or HTTPS with libcurl, as config/MpsNotification.wsdl
 * describes; the answer's KeepConnection is the subscriber's verdict.
 *
 * Parameters. mpsd builds paramStr from mps.config; its grammar is the
 * SOAPAuthentication plugin's (plugins/soap_auth/soap_params.h), whose
 * parser this plugin shares, without -target: the target of each call is
 * its subscriber URL. So -user U -pass P (the Username and Password of
 * <Notification_Authentication>), -cafile F, -insecure, -timeout S,
 * -connect-timeout S, and also -tls, -cert/-key, -proxy.
 *
 * Outcomes. Notify returns true when the subscriber answered HTTP 200
 * with an EventNotificationResponse (holding KeepConnection when the
 * event asked for a reply), and false with a reason in errorString
 * otherwise: a SOAP Fault, another HTTP status, a response that is not
 * the expected message (or holds a DOCTYPE, or is over 64 KiB), a
 * transport or TLS failure, a timeout. mpsd retries and logs; the reasons
 * do not repeat the subscriber's URL, which mpsd's log line names.
 *
 * Choices, and why (the SOAPAuthentication plugin makes the same ones,
 * see plugins/soap_auth/soap_auth.c, except for the first):
 *   - HTTP Basic AND Digest (RFC 7616) with -user/-pass: consoles are
 *     commonly behind either. libcurl then sends the first request
 *     without credentials and answers the server's challenge with the
 *     scheme it asks for: one more round trip when the subscriber wants
 *     credentials, none when it does not. Basic sends the password
 *     readably: prefer https.
 *   - One curl easy handle per call: calls share nothing, so they are
 *     thread-safe without locks.
 *   - Redirects are not followed (they could carry the credentials to a
 *     URL nobody configured); only http and https; no proxy from the
 *     environment; certificates verified unless -insecure; TLS 1.2 at
 *     least; responses over 64 KiB abort the transfer; CURLOPT_NOSIGNAL.
 *
 * Secrets. -pass and -proxyPass never enter errorString: messages are
 * built from other data, a fault text that quotes one is withheld, and
 * as a last guard any occurrence in the final message becomes "***".
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include <mps/plugin.h>

#include "notify_xml.h"
#include "soap_params.h"

#include "plugin_util.h"

MPS_PLUGIN_DECLARE_ABI;

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif
#define USER_AGENT	"mpsd-SOAPNotifier/" PACKAGE_VERSION

/*
 * What mps_plugin_init checks the parameters with. Any https URL does:
 * the checks that depend on the target only ask whether it is https
 * (-tls, -cert), and a subscriber that is not fails its own calls.
 */
#define PLACEHOLDER_URL	"https://subscriber.invalid/"

MPS_PLUGIN_EXPORT int mps_plugin_init(const char *paramStr,
    char *errorString, size_t errorStringSize);
MPS_PLUGIN_EXPORT void mps_plugin_fini(void);

/*
 * How many roles have initialised us. libcurl must be initialised before
 * any thread uses it, and Notify() refuses to run before that.
 */
static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned init_count;

/* The response, as it arrives. */
struct sink {
	char *data;		/* NOTIFY_RESPONSE_MAX bytes */
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

/*
 * Parses paramStr with the subscriber URL as its -target. The URL goes
 * last, quoted, so that word numbers in messages are those of paramStr,
 * and an unbalanced quote in paramStr stays unbalanced (and refused).
 * Either way, call mps_soap_params_clear(p) afterwards.
 */
static int
parse_params(struct soap_params *p, const char *url, const char *paramStr,
    char *err, size_t errsize)
{
	size_t plen = strlen(paramStr), ulen = strlen(url), size;
	char *all, *o;
	const char *s;
	int rc;

	memset(p, 0, sizeof(*p));
	/* Each URL byte may need a backslash. */
	if (ulen > (SIZE_MAX - plen - 16) / 2) {
		mps_pu_seterr(err, errsize, "subscriber URL too long");
		return -1;
	}
	size = plen + 2 * ulen + 16;
	if ((all = malloc(size)) == NULL) {
		mps_pu_seterr(err, errsize, "out of memory");
		return -1;
	}
	memcpy(all, paramStr, plen);
	o = all + plen;
	memcpy(o, " -target \"", 10);
	o += 10;
	for (s = url; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			*o++ = '\\';
		*o++ = *s;
	}
	*o++ = '"';
	*o = '\0';
	rc = mps_soap_params_parse(p, all, err, errsize);
	/* It holds the password. */
	explicit_bzero(all, size);
	free(all);
	return rc;
}

static size_t
on_data(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct sink *s = arg;
	size_t n = size * nmemb;

	if (n > NOTIFY_RESPONSE_MAX - s->len) {
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
	SET(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)NOTIFY_RESPONSE_MAX);
	/* An empty proxy: none, whatever the environment says; and an
	 * empty no-proxy list, so that no_proxy cannot bypass -proxy. */
	SET(h, CURLOPT_PROXY, p->proxy != NULL ? p->proxy : "");
	SET(h, CURLOPT_NOPROXY, "");
	return NULL;
}

static const char *
set_auth(CURL *h, const struct soap_params *p)
{
	if (p->user != NULL) {
		/* Two schemes: libcurl asks first, then answers the
		 * challenge with the one the subscriber wants. */
		SET(h, CURLOPT_HTTPAUTH,
		    (long)(CURLAUTH_BASIC | CURLAUTH_DIGEST));
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
	/* Not copied: body outlives the transfer. libcurl may send it
	 * twice (the unauthenticated first request of Basic/Digest). */
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
		"SOAPAction: \"" NOTIFY_SOAP_ACTION "\"",
		"Accept: text/xml",
		/* libcurl may wait for "100 Continue" before sending a
		 * longer body; a SOAP service need not send one. */
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
		mps_pu_seterr(err, errsize, "response larger than %d bytes "
		    "(refused)", NOTIFY_RESPONSE_MAX);
		return;
	}
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		/* The connect time stays 0 until a connection is made. */
		(void)curl_easy_getinfo(h, CURLINFO_CONNECT_TIME_T, &connected);
		if (connected == 0)
			mps_pu_seterr(err, errsize, "connection timed out "
			    "after %ld s", p->connect_timeout < p->timeout ?
			    p->connect_timeout : p->timeout);
		else
			mps_pu_seterr(err, errsize, "timed out after %ld s "
			    "without a complete answer", p->timeout);
		break;
	case CURLE_PEER_FAILED_VERIFICATION:
		mps_pu_seterr(err, errsize, "TLS certificate not trusted: %s "
		    "(name its CA with -cafile: NotificationCAFile in "
		    "mps.config)", why);
		break;
	case CURLE_SSL_CERTPROBLEM:
		mps_pu_seterr(err, errsize, "cannot use the client certificate "
		    "(-cert/-key): %s", why);
		break;
	case CURLE_SSL_CACERT_BADFILE:
		mps_pu_seterr(err, errsize, "cannot use -cafile: %s", why);
		break;
	default:
		mps_pu_seterr(err, errsize, "%s", why);
	}
}

/* An HTTP status that is neither 200 nor 500. */
static void
status_error(long status, const struct soap_params *p, char *err,
    size_t errsize)
{
	if (status == 401)
		mps_pu_seterr(err, errsize, "HTTP 401 Unauthorized: %s",
		    p->user != NULL ? "it refused the credentials (Username "
		    "and Password of <Notification_Authentication>)" :
		    "it wants credentials (NeedNotificationAuthentication, "
		    "Username and Password of <Notification_Authentication>)");
	else if (status == 407)
		mps_pu_seterr(err, errsize, "HTTP 407: the proxy wants "
		    "credentials (-proxyUserName, -proxyPass)");
	else
		mps_pu_seterr(err, errsize, "HTTP %ld%s", status,
		    status >= 300 && status < 400 ? " (redirects are not "
		    "followed: list the final URL in NotificationList.config)" :
		    "");
}

/*
 * Decides on a completed exchange. Returns true when delivered, with the
 * verdict in *keep when the response held one.
 */
static bool
conclude(long status, const struct soap_params *p,
    const mps_notification_t *ev, const struct sink *sink, bool *keep,
    char *err, size_t errsize)
{
	const char *secrets[] = { p->pass, p->proxy_pass };
	struct notify_response r;

	if (status != 200 && status != 500) {
		status_error(status, p, err, errsize);
		return false;
	}
	mps_notify_parse_response(sink->data, sink->len, secrets,
	    sizeof(secrets) / sizeof(secrets[0]), &r);
	switch (r.outcome) {
	case NOTIFY_ANSWERED:
		if (status != 200) {
			mps_pu_seterr(err, errsize, "HTTP 500 with an "
			    "EventNotificationResponse");
			return false;
		}
		if (ev->want_reply && !r.has_keep) {
			mps_pu_seterr(err, errsize, "the "
			    "EventNotificationResponse holds no "
			    "KeepConnection, and WantReply was true");
			return false;
		}
		if (r.has_keep)
			*keep = r.keep != 0;
		return true;
	case NOTIFY_FAULT:
		mps_pu_seterr(err, errsize, "SOAP Fault: %s: %s",
		    r.faultcode[0] != '\0' ? r.faultcode : "(no faultcode)",
		    r.faultstring[0] != '\0' ? r.faultstring :
		    "(no faultstring)");
		return false;
	case NOTIFY_INVALID:
		break;
	}
	if (status == 500)
		mps_pu_seterr(err, errsize, "HTTP 500 without a SOAP Fault "
		    "(%s)", r.error);
	else
		mps_pu_seterr(err, errsize, "invalid response: %s", r.error);
	return false;
}

/* One exchange with the subscriber. */
static bool
exchange(const struct soap_params *p, const mps_notification_t *ev,
    const char *body, size_t len, bool *keep, char *err, size_t errsize)
{
	char errbuf[CURL_ERROR_SIZE];
	struct curl_slist *hdrs = NULL;
	struct sink sink = { NULL, 0, 0 };
	const char *bad = NULL;
	CURL *h = NULL;
	CURLcode rc;
	long status = 0;
	bool delivered = false;

	errbuf[0] = '\0';
	if ((sink.data = malloc(NOTIFY_RESPONSE_MAX)) == NULL ||
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
		mps_pu_seterr(err, errsize, "no HTTP status");
		goto out;
	}
	delivered = conclude(status, p, ev, &sink, keep, err, errsize);
out:
	if (h != NULL)
		curl_easy_cleanup(h);
	curl_slist_free_all(hdrs);
	free(sink.data);
	return delivered;
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
Notify(const char *subscriberUrl, const mps_notification_t *event,
    const char *paramStr, bool *keepConnection, char *errorString,
    size_t errorStringSize)
{
	struct soap_params p;
	char *body = NULL;
	size_t len = 0;
	bool delivered = false, keep = true;

	memset(&p, 0, sizeof(p));
	if (errorString == NULL)
		errorStringSize = 0;	/* then nothing writes there */
	else if (errorStringSize > 0)
		errorString[0] = '\0';
	if (subscriberUrl == NULL || event == NULL || paramStr == NULL ||
	    keepConnection == NULL) {
		mps_pu_seterr(errorString, errorStringSize, "SOAPNotifier: "
		    "Notify called with a NULL argument");
		return false;
	}
	if (!initialised()) {
		mps_pu_seterr(errorString, errorStringSize, "SOAPNotifier: "
		    "called before mps_plugin_init");
		return false;
	}
	/* Parsed on every call: cheap beside an HTTP exchange, and no
	 * state is shared between calls or threads. */
	if (parse_params(&p, subscriberUrl, paramStr, errorString,
	    errorStringSize) != 0 ||
	    mps_notify_build_request(event, &body, &len, errorString,
	    errorStringSize) != 0)
		goto out;
	delivered = exchange(&p, event, body, len, &keep, errorString,
	    errorStringSize);
	if (delivered && event->want_reply)
		*keepConnection = keep;
out:
	redact(errorString, errorStringSize, p.pass);
	redact(errorString, errorStringSize, p.proxy_pass);
	free(body);
	mps_soap_params_clear(&p);
	return delivered;
}

/*
 * Checks paramStr at start-up, so that a typo stops mpsd rather than
 * every notification. -target is refused by name: the subscribers are
 * NotificationList.config's.
 */
static int
check_params(const char *paramStr, char *err, size_t errsize)
{
	struct soap_params p;
	char scratch[MPS_PLUGIN_ERROR_SIZE];
	int has_target, rc;

	/* Alone, the parse fails for want of -target unless one is given;
	 * all it is asked here is whether one is. */
	(void)mps_soap_params_parse(&p, paramStr, scratch, sizeof(scratch));
	has_target = p.target != NULL;
	mps_soap_params_clear(&p);
	explicit_bzero(scratch, sizeof(scratch));
	if (has_target) {
		mps_pu_seterr(err, errsize, "SOAPNotifier: -target is not a "
		    "parameter here: the subscribers are the URLs of "
		    "NotificationList.config");
		return -1;
	}
	rc = parse_params(&p, PLACEHOLDER_URL, paramStr, err, errsize);
	if (rc == 0)
		rc = mps_soap_params_check_files(&p, err, errsize);
	redact(err, errsize, p.pass);
	redact(err, errsize, p.proxy_pass);
	mps_soap_params_clear(&p);
	return rc;
}

MPS_PLUGIN_EXPORT int
mps_plugin_init(const char *paramStr, char *errorString,
    size_t errorStringSize)
{
	CURLcode rc;

	if (errorString == NULL)
		errorStringSize = 0;
	else if (errorStringSize > 0)
		errorString[0] = '\0';
	if (check_params(paramStr != NULL ? paramStr : "", errorString,
	    errorStringSize) != 0)
		return -1;
	/* Reference-counted by libcurl; mps_plugin_fini undoes it. */
	if ((rc = curl_global_init(CURL_GLOBAL_DEFAULT)) != CURLE_OK) {
		mps_pu_seterr(errorString, errorStringSize,
		    "curl_global_init: %s", curl_easy_strerror(rc));
		return -1;
	}
	if (pthread_mutex_lock(&init_lock) != 0) {
		curl_global_cleanup();
		mps_pu_seterr(errorString, errorStringSize, "cannot lock");
		return -1;
	}
	init_count++;
	(void)pthread_mutex_unlock(&init_lock);
	return 0;
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

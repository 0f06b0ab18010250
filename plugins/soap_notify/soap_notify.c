/* SPDX-License-Identifier: Apache-2.0 */
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
 * except for the first; the shared HTTP code is plugins/common/soap_http.c):
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
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include <mps/plugin.h>

#include "notify_xml.h"
#include "soap_params.h"

#include "plugin_util.h"
#include "soap_http.h"

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
    const mps_notification_t *ev, const struct mps_soap_answer *a,
    bool *keep, char *err, size_t errsize)
{
	const char *secrets[] = { p->pass, p->proxy_pass };
	struct notify_response r;

	if (status != 200 && status != 500) {
		status_error(status, p, err, errsize);
		return false;
	}
	mps_notify_parse_response(a->data, a->len, secrets,
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
	const struct mps_soap_post req = {
		.p = p,
		.user_agent = USER_AGENT,
		.action = NOTIFY_SOAP_ACTION,
		/* Basic and Digest: see the top. */
		.httpauth = (long)(CURLAUTH_BASIC | CURLAUTH_DIGEST),
		.max = NOTIFY_RESPONSE_MAX,
		.label = NULL,	/* mpsd's log line names the subscriber */
		.cafile_hint = "-cafile: NotificationCAFile in mps.config",
	};
	struct mps_soap_answer a;
	bool delivered = false;

	if (mps_soap_http_post(&req, body, len, &a, err, errsize) == 0)
		delivered = conclude(a.status, p, ev, &a, keep, err, errsize);
	mps_soap_answer_clear(&a);
	return delivered;
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
	if (!mps_soap_http_ready()) {
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
	mps_pu_redact(errorString, errorStringSize, p.pass);
	mps_pu_redact(errorString, errorStringSize, p.proxy_pass);
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
	mps_pu_redact(err, errsize, p.pass);
	mps_pu_redact(err, errsize, p.proxy_pass);
	mps_soap_params_clear(&p);
	return rc;
}

MPS_PLUGIN_EXPORT int
mps_plugin_init(const char *paramStr, char *errorString,
    size_t errorStringSize)
{
	if (errorString == NULL)
		errorStringSize = 0;
	else if (errorStringSize > 0)
		errorString[0] = '\0';
	if (check_params(paramStr != NULL ? paramStr : "", errorString,
	    errorStringSize) != 0)
		return -1;
	/* Notify() refuses to run before this. */
	return mps_soap_http_init(errorString, errorStringSize);
}

MPS_PLUGIN_EXPORT void
mps_plugin_fini(void)
{
	mps_soap_http_fini();
}

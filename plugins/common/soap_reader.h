/* SPDX-License-Identifier: Apache-2.0 */
/*
 * soap_reader.h: reading the answer of a SOAP 1.1 document/literal
 * operation whose response element holds at most one boolean, as both
 * SOAP plugins' interfaces do (MPSAuthentication: AuthenticateResponse/
 * AuthenticateResult; MpsNotification: EventNotificationResponse/
 * KeepConnection):
 *
 *   Envelope/[Header/]Body/{response/[value] | Fault/{faultcode,
 *   faultstring, ...}}
 *
 * Elements are recognised by namespace URI and local name, whatever the
 * prefixes. The value may also come in no namespace, as toolkits with
 * unqualified element forms send it; faultcode and faultstring may come
 * in none (SOAP 1.1) or the envelope's. The reader is strict about
 * structure and fails closed; it leaves to its caller what the value
 * means and how a fault's text is shown.
 */
#ifndef MPS_SOAP_READER_H
#define MPS_SOAP_READER_H

#include <stddef.h>

#define MPS_SOAP_ENV_NS		"http://schemas.xmlsoap.org/soap/envelope/"

/*
 * How much of a fault's text is collected: much more than a plugin
 * shows, so that it can look for secrets before the text is cut.
 */
#define MPS_SOAP_TEXT_MAX	4096

/* Longest value collected: a boolean with generous blanks around it. */
#define MPS_SOAP_VALUE_MAX	64

/* A bounded text collector. */
struct mps_soap_text {
	char buf[MPS_SOAP_TEXT_MAX + 1];
	size_t len, max;	/* max < sizeof(buf) */
	int overflow;		/* there was more than max */
};

/* The elements of one interface's response. */
struct mps_soap_expect {
	const char *ns;		/* the interface's namespace URI */
	const char *response;	/* local name of the response element */
	const char *value;	/* local name of its child */
	size_t max;		/* largest response accepted, in bytes */
};

struct mps_soap_reply {
	int fault;		/* a Fault: code and string hold its texts */
	int has_value;		/* the response held the value */
	struct mps_soap_text value, code, string;
};

/*
 * Reads data[0..len) as a response of the interface want describes. Returns a reply holding either a Fault's
 * texts or the response's value (if any), to be released with
 * mps_soap_reply_free; or NULL with a reason in err: more than want->max
 * bytes, a DOCTYPE (a SOAP
 * message may have none, SOAP 1.1, 3, and refusing it rules out entity
 * tricks), malformed XML, a SOAP 1.2 envelope, a missing, unexpected or
 * repeated element, a value holding elements or too long for a boolean,
 * or no memory. Thread-safe.
 */
struct mps_soap_reply *mps_soap_read(const char *data, size_t len,
    const struct mps_soap_expect *want, char *err, size_t errsize);

/* Wipes (a fault may quote a secret) and frees a reply; NULL is fine. */
void mps_soap_reply_free(struct mps_soap_reply *rp);

#endif /* MPS_SOAP_READER_H */

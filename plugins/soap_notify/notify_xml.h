/* SPDX-License-Identifier: Apache-2.0 */
/*
 * notify_xml.h: the SOAP messages of the MpsNotification interface
 * (product guide, section 7.1; config/MpsNotification.wsdl).
 *
 * The original product's WSDL namespace is not public, so mpsd defines
 * its own, NOTIFY_NS, and ships a WSDL that describes exactly what is
 * built here. The request is SOAP 1.1, document/literal,
 * elementFormDefault qualified:
 *
 *   Envelope/Body/mpn:EventNotificationRequest/mpn:MPSEvent/
 *       {State, DeviceFqdn, DevicePort (0 to 2), DeviceUuid, MpsAddress,
 *        MpsHttpPort, MpsSocksPort, WantReply}
 *
 * The response is Envelope/Body/EventNotificationResponse, holding
 * KeepConnection (an xs:boolean), or a SOAP 1.1 Fault. Any prefixes are
 * accepted (names are compared by namespace URI); KeepConnection may also
 * come in no namespace, as toolkits with unqualified element forms send
 * it. KeepConnection is required when the event asked for a reply
 * (WantReply true), optional otherwise.
 */
#ifndef MPS_NOTIFY_XML_H
#define MPS_NOTIFY_XML_H

#include <stddef.h>

#include <mps/plugin.h>

#define NOTIFY_SOAP_ENV_NS	"http://schemas.xmlsoap.org/soap/envelope/"
#define NOTIFY_NS		"urn:mpsd:notification:2026"
#define NOTIFY_SOAP_ACTION	NOTIFY_NS ":EventNotification"

/* Largest response accepted, in bytes: a real one is a few hundred. */
#define NOTIFY_RESPONSE_MAX	(64 * 1024)

/* Longest string field sent (an FQDN is at most 253 bytes). */
#define NOTIFY_FIELD_MAX	1024

/* Longest faultcode and faultstring kept (longer ones are cut). */
#define NOTIFY_FAULTCODE_MAX	128
#define NOTIFY_FAULTSTRING_MAX	512

enum notify_outcome {
	NOTIFY_ANSWERED,	/* an EventNotificationResponse */
	NOTIFY_FAULT,		/* a Fault: faultcode, faultstring */
	NOTIFY_INVALID		/* anything else: error says why */
};

struct notify_response {
	enum notify_outcome outcome;
	int has_keep;		/* KeepConnection was present */
	int keep;		/* its value, when present */
	char faultcode[NOTIFY_FAULTCODE_MAX + 4];	/* + "..." */
	char faultstring[NOTIFY_FAULTSTRING_MAX + 4];
	char error[256];
};

/*
 * Builds the EventNotificationRequest envelope for ev into a new
 * malloc'd, NUL-terminated buffer (*body, *len). Every string is escaped
 * for XML. Returns 0; or -1 with a reason in err when ev is out of range
 * (state, port count), a string is longer than NOTIFY_FIELD_MAX or is not
 * UTF-8 text that XML 1.0 can carry, or memory runs out.
 */
int mps_notify_build_request(const mps_notification_t *ev, char **body,
    size_t *len, char *err, size_t errsize);

/*
 * Parses a response body (at most NOTIFY_RESPONSE_MAX bytes) into r.
 * A DOCTYPE, malformed XML, an unexpected or repeated element, or a
 * KeepConnection that is no xs:boolean give NOTIFY_INVALID. Fault texts
 * are made printable and cut to their maximum; a text that holds one of
 * the nsecrets secrets (NULL or empty ones are skipped) is withheld
 * whole. Thread-safe.
 */
void mps_notify_parse_response(const char *data, size_t len,
    const char *const *secrets, size_t nsecrets, struct notify_response *r);

#endif /* MPS_NOTIFY_XML_H */
